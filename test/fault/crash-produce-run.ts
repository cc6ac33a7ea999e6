/**
 * The crash-produce experiment shared by the filesystem and S3 runs of crash-produce.test.ts:
 * producers with acks=all (the project's wire client, one connection each, pipelined requests) write
 * uniquely valued records while the broker is SIGKILLed at random moments and restarted on the same
 * data; afterwards the partitions are read from offset 0 and checked against every acknowledgement.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import type { BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { readPartition } from './partition-reader.ts';

const PRODUCE_VERSION = 7;
const ACKS_ALL = -1;
const REQUEST_TIMEOUT_MS = 8_000;

export interface CrashRunOptions {
  readonly broker: BrokerProcess;
  readonly topic: string;
  readonly partitions: number;
  readonly kills: number;
  /** Producers (connections); each keeps `pipeline` requests in flight. */
  readonly producers: number;
  readonly pipeline: number;
  readonly recordsPerBatch: number;
  /** Random run time between kills, in [min, max] ms after the broker is ready again. */
  readonly minUpMs: number;
  readonly maxUpMs: number;
  readonly deadlineMs: number;
}

export interface CrashRunReport {
  readonly kills: number;
  readonly acknowledgedBatches: number;
  readonly acknowledgedRecords: number;
  readonly failedOrUnknownBatches: number;
  readonly storedRecords: number;
  readonly acknowledgedAfterLastRestart: number;
  readonly elapsedMs: number;
}

export interface Ack {
  readonly partition: number;
  readonly baseOffset: bigint;
  readonly values: readonly string[];
}

class ProducerLoop {
  readonly acks: Ack[] = [];
  failed = 0;
  private sequence = 0;
  private stopped = false;
  private readonly runs: Promise<void>[] = [];
  private readonly options: CrashRunOptions;
  private readonly id: number;

  constructor(options: CrashRunOptions, id: number) {
    this.options = options;
    this.id = id;
  }

  start(): void {
    this.runs.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runs);
  }

  private async loop(): Promise<void> {
    const { broker, deadlineMs } = this.options;
    while (!this.stopped && Date.now() < deadlineMs) {
      let client: WireClient;
      try {
        client = await WireClient.connect(broker.host, broker.port, `crash-producer-${this.id}`);
      } catch {
        await sleep(20); // broker down: retry until it is back (bounded by stop and the deadline)
        continue;
      }
      try {
        const lanes = Array.from({ length: this.options.pipeline }, (_, lane) => this.lane(client, lane));
        await Promise.all(lanes);
      } finally {
        client.close();
      }
    }
  }

  /** Sends batches on one connection until it fails; each lane has one request in flight. */
  private async lane(client: WireClient, lane: number): Promise<void> {
    const { topic, partitions, recordsPerBatch, deadlineMs } = this.options;
    while (!this.stopped && !client.isClosed && Date.now() < deadlineMs) {
      const partition = (this.id + lane) % partitions;
      const sequence = this.sequence++;
      const values = Array.from({ length: recordsPerBatch }, (_, i) => `p${this.id}-s${sequence}-r${i}`);
      const batch = encodeRecordBatch({ records: values.map((value) => ({ key: `k${this.id}`, value })) });
      try {
        const response = await client.send(
          0,
          PRODUCE_VERSION,
          { transactionalId: null, acks: ACKS_ALL, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] },
          REQUEST_TIMEOUT_MS,
        );
        const result = response.responses[0]?.partitionResponses[0];
        if (result !== undefined && result.errorCode === 0) this.acks.push({ partition, baseOffset: result.baseOffset, values });
        else {
          this.failed++;
          await sleep(20); // a retriable error while the partition is re-acquired
        }
      } catch {
        // Connection dropped (the kill) or timed out: the outcome is unknown; the batch may or may not
        // be stored, but never twice and never at an offset given to an acknowledged batch.
        this.failed++;
        return;
      }
    }
  }
}

export async function runCrashProduce(options: CrashRunOptions): Promise<CrashRunReport> {
  const startedMs = Date.now();
  const loops = Array.from({ length: options.producers }, (_, id) => new ProducerLoop(options, id));
  for (const loop of loops) loop.start();
  let kills = 0;
  let acksAtLastRestart = 0;
  try {
    for (; kills < options.kills && Date.now() < options.deadlineMs; kills++) {
      await sleep(options.minUpMs + Math.random() * (options.maxUpMs - options.minUpMs));
      await options.broker.kill();
      await options.broker.restart();
    }
    // Let the producers get acknowledgements from the last incarnation, so it is proven to write.
    acksAtLastRestart = loops.reduce((total, loop) => total + loop.acks.length, 0);
    await sleep(options.maxUpMs);
  } finally {
    await Promise.all(loops.map((loop) => loop.stop()));
  }
  const acks = loops.flatMap((loop) => loop.acks);

  const { storedRecords, acknowledgedRecords } = await verifyAcknowledged(options.broker, options.topic, options.partitions, acks);
  return {
    kills,
    acknowledgedBatches: acks.length,
    acknowledgedRecords,
    failedOrUnknownBatches: loops.reduce((total, loop) => total + loop.failed, 0),
    storedRecords,
    acknowledgedAfterLastRestart: acks.length - acksAtLastRestart,
    elapsedMs: Date.now() - startedMs,
  };
}

/**
 * Reads every partition from 0 and checks: offsets contiguous to the HWM, no record value stored twice,
 * no offset acknowledged twice, every acknowledged value at its acknowledged offset. `mayDuplicate`
 * names the values of non-idempotent producers: Kafka gives them at-least-once, so a retry of a write
 * whose outcome the broker could not know (REQUEST_TIMED_OUT, a dropped connection) may store a second
 * copy; those are counted (`allowedDuplicates`), not failed. Their acknowledged copies are still checked.
 */
export async function verifyAcknowledged(
  broker: BrokerProcess,
  topic: string,
  partitions: number,
  acks: readonly Ack[],
  /** Acknowledged without an offset (librdkafka's implicit acknowledgements): stored once, in their partition. */
  acksWithoutOffset: ReadonlyArray<{ readonly partition: number; readonly value: string }> = [],
  options: { readonly mayDuplicate?: (value: string) => boolean } = {},
): Promise<{ storedRecords: number; acknowledgedRecords: number; allowedDuplicates: number }> {
  const stored = new Map<number, Map<bigint, string>>();
  let storedRecords = 0;
  let allowedDuplicates = 0;
  const everyValue = new Set<string>();
  for (let partition = 0; partition < partitions; partition++) {
    const contents = await readPartition(broker.host, broker.port, topic, partition);
    const byOffset = new Map<bigint, string>();
    // readPartition proved the batches contiguous from 0 to the HWM; here: every record, once.
    for (const batch of contents.batches) {
      for (const record of decodeRecordBatch(batch).records) {
        const value = record.value?.toString('utf8') ?? '';
        if (everyValue.has(value) && options.mayDuplicate?.(value) === true) allowedDuplicates++;
        else assert.ok(!everyValue.has(value), `record ${value} is stored twice (second copy at ${partition}/${record.offset})`);
        everyValue.add(value);
        byOffset.set(record.offset, value);
        storedRecords++;
      }
    }
    assert.equal(BigInt(byOffset.size), contents.highWatermark, `partition ${partition}: one record per offset below the HWM`);
    stored.set(partition, byOffset);
  }

  const claimed = new Map<string, string>();
  let acknowledgedRecords = 0;
  for (const ack of acks) {
    const byOffset = stored.get(ack.partition);
    assert.ok(byOffset);
    ack.values.forEach((value, i) => {
      const offset = ack.baseOffset + BigInt(i);
      const slot = `${ack.partition}/${offset}`;
      assert.equal(claimed.get(slot), undefined, `offset ${slot} was acknowledged twice (${claimed.get(slot)} and ${value})`);
      claimed.set(slot, value);
      assert.equal(byOffset.get(offset), value, `acknowledged record ${value} is at ${slot}`);
      acknowledgedRecords++;
    });
  }
  for (const { partition, value } of acksWithoutOffset) {
    const byOffset = stored.get(partition);
    assert.ok(byOffset);
    assert.ok([...byOffset.values()].includes(value), `record ${value}, acknowledged without an offset, is stored in partition ${partition}`);
    acknowledgedRecords++;
  }
  return { storedRecords, acknowledgedRecords, allowedDuplicates };
}
