/**
 * The chaos suite's end checks. Unlike test/fault/partition-reader.ts this reader does not assert: a
 * log that breaks an invariant (a hole, a batch that does not start where the previous one ended, a
 * bad CRC, an offset served twice) is read on as far as possible and every anomaly is reported, so a
 * run ends with a precise list of what is wrong, not with the first assertion.
 */
import { computeCrc, decodeRecordBatch, nextOffset, splitBatches, storedCrc, baseOffset } from '../../../src/protocol/records/index.ts';
import { WireClient } from '../../helpers/wire-client.ts';

const FETCH_VERSION = 4;
const MAX_BYTES = 1024 * 1024;
const MAX_ROUNDS = 100_000;
const RETRIES = 8;
const OFFSET_OUT_OF_RANGE = 1;

export interface StoredLog {
  readonly partition: number;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  /** offset → record value (utf8). */
  readonly records: Map<bigint, string>;
  /** offset → the idempotent writer of its batch ("pid 7 epoch 2 seq 1200"), for records written by one. */
  readonly writers?: Map<bigint, string>;
  readonly anomalies: string[];
}

export interface AckedRecord {
  readonly producer: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly value: string;
  readonly ackedMs: number;
}

export interface ProducerInfo {
  readonly name: string;
  /** Whether a record of this producer may legitimately be stored twice (a non-idempotent client retry). */
  readonly mayDuplicate: boolean;
}

export interface Verdict {
  readonly acknowledgedRecords: number;
  /** Acknowledged, stored nowhere. */
  readonly lost: AckedRecord[];
  /** Acknowledged at one offset, stored only at other offsets. */
  readonly misplaced: Array<{ readonly ack: AckedRecord; readonly storedAt: readonly string[]; readonly atItsOffset: string | null }>;
  /** Stored more than once (by a producer that must not duplicate). */
  readonly duplicated: Array<{ readonly value: string; readonly storedAt: readonly string[] }>;
  /** Stored more than once by a non-idempotent client's retries (at-least-once: allowed, counted). */
  readonly allowedDuplicates: number;
  /** One offset acknowledged to two different records. */
  readonly doubleAcked: Array<{ readonly slot: string; readonly values: readonly string[] }>;
  readonly logAnomalies: string[];
  readonly storedRecords: number;
}

async function fetchOnce(client: WireClient, topic: string, partition: number, offset: bigint) {
  const response = await client.send(1, FETCH_VERSION, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: MAX_BYTES, isolationLevel: 0,
    topics: [{ topic, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{
      partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n,
      partitionMaxBytes: MAX_BYTES, replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
    }] }],
  }, 15_000);
  const data = response.responses[0]?.partitions[0];
  if (data === undefined) throw new Error(`Fetch answered no data for ${topic}-${partition}`);
  return data;
}

/** Reads a partition from its log start to its high watermark, recording every anomaly on the way. */
export async function readLogTolerant(host: string, port: number, topic: string, partition: number): Promise<StoredLog> {
  const records = new Map<bigint, string>();
  const writers = new Map<bigint, string>();
  const anomalies: string[] = [];
  let client = await WireClient.connect(host, port, 'chaos-verifier');
  let offset = 0n;
  let highWatermark = -1n;
  let logStartOffset = 0n;
  try {
    for (let round = 0, failures = 0; round < MAX_ROUNDS; round++) {
      let data: Awaited<ReturnType<typeof fetchOnce>>;
      try {
        data = await fetchOnce(client, topic, partition, offset);
      } catch (error) {
        if (++failures > RETRIES) {
          anomalies.push(`partition ${partition}: Fetch at ${offset} failed ${failures} times (${(error as Error).message}); stopped reading`);
          break;
        }
        client.close();
        await new Promise((resolve) => setTimeout(resolve, 500));
        client = await WireClient.connect(host, port, 'chaos-verifier');
        continue;
      }
      if (data.errorCode === OFFSET_OUT_OF_RANGE && offset < data.logStartOffset) {
        logStartOffset = data.logStartOffset;
        offset = data.logStartOffset;
        continue;
      }
      if (data.errorCode !== 0) {
        if (++failures > RETRIES) {
          anomalies.push(`partition ${partition}: Fetch at ${offset} answered error ${data.errorCode} ${failures} times; stopped reading (HWM ${data.highWatermark})`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      failures = 0;
      highWatermark = data.highWatermark;
      logStartOffset = data.logStartOffset >= 0n ? data.logStartOffset : logStartOffset;
      if (offset >= highWatermark) break;
      const split = splitBatches(data.records ?? Buffer.alloc(0));
      if (split.batches.length === 0) {
        anomalies.push(`partition ${partition}: Fetch at ${offset} below HWM ${highWatermark} returned no whole batch; skipping one offset`);
        offset++;
        continue;
      }
      let progressed = false;
      for (const batch of split.batches) {
        const base = baseOffset(batch);
        const next = nextOffset(batch);
        if (next <= offset) {
          anomalies.push(`partition ${partition}: Fetch at ${offset} returned a batch [${base}, ${next}) that ends before it`);
          continue;
        }
        if (base > offset) anomalies.push(`partition ${partition}: hole: offsets [${offset}, ${base}) are not served (next batch starts at ${base})`);
        if (storedCrc(batch) !== computeCrc(batch)) anomalies.push(`partition ${partition}: batch at ${base} has a bad CRC`);
        let decoded;
        try {
          decoded = decodeRecordBatch(batch);
        } catch (error) {
          anomalies.push(`partition ${partition}: batch at ${base} cannot be decoded: ${(error as Error).message}`);
          offset = next;
          progressed = true;
          continue;
        }
        // Which producer session wrote it: tells a client's re-send under a new epoch from a broker duplicate.
        const writer = batch.readBigInt64BE(43) >= 0n ? `pid ${batch.readBigInt64BE(43)} epoch ${batch.readInt16BE(51)} seq ${batch.readInt32BE(53)}` : null;
        for (const record of decoded.records) {
          if (record.offset < offset) continue; // a fetch may start inside a batch
          if (writer !== null) writers.set(record.offset, writer);
          const value = record.value?.toString('utf8') ?? '';
          const already = records.get(record.offset);
          if (already !== undefined) anomalies.push(`partition ${partition}: offset ${record.offset} served twice (${already} and ${value})`);
          else records.set(record.offset, value);
        }
        offset = next;
        progressed = true;
      }
      if (!progressed) offset++;
    }
  } finally {
    client.close();
  }
  if (highWatermark >= 0n && offset !== highWatermark && anomalies.length === 0) anomalies.push(`partition ${partition}: read up to ${offset}, HWM ${highWatermark}`);
  return { partition, highWatermark, logStartOffset, records, writers, anomalies };
}

/** A digest of what a broker serves for a partition, to compare brokers' views. */
export function logDigest(log: StoredLog): string {
  const parts = [...log.records.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([o, v]) => `${o}=${v}`);
  return `${log.highWatermark}|${parts.length}|${parts.join(',')}`;
}

/** "0/61126" → "0/61126 (pid 7 epoch 2 seq 1200)" when the log says which idempotent writer stored it. */
function withWriter(slot: string, byPartition: ReadonlyMap<number, StoredLog>): string {
  const [partition, offset] = slot.split('/');
  const writer = byPartition.get(Number(partition))?.writers?.get(BigInt(offset ?? '0'));
  return writer === undefined ? slot : `${slot} (${writer})`;
}

export function verify(acks: readonly AckedRecord[], logs: readonly StoredLog[], producers: readonly ProducerInfo[]): Verdict {
  const mayDuplicate = new Map(producers.map((p) => [p.name, p.mayDuplicate]));
  const where = new Map<string, string[]>();
  let storedRecords = 0;
  const byPartition = new Map<number, StoredLog>();
  const logAnomalies: string[] = [];
  for (const log of logs) {
    byPartition.set(log.partition, log);
    logAnomalies.push(...log.anomalies);
    for (let expected = log.logStartOffset; expected < log.highWatermark; expected++) {
      if (!log.records.has(expected)) {
        let end = expected;
        while (end < log.highWatermark && !log.records.has(end)) end++;
        logAnomalies.push(`partition ${log.partition}: no record at offsets [${expected}, ${end}) below the HWM ${log.highWatermark}`);
        expected = end;
      }
    }
    for (const [offset, value] of log.records) {
      storedRecords++;
      const slots = where.get(value);
      const slot = `${log.partition}/${offset}`;
      if (slots === undefined) where.set(value, [slot]);
      else slots.push(slot);
    }
  }

  const lost: AckedRecord[] = [];
  const misplaced: Verdict['misplaced'][number][] = [];
  const claimed = new Map<string, string[]>();
  for (const ack of acks) {
    const slot = `${ack.partition}/${ack.offset}`;
    const claims = claimed.get(slot);
    if (claims === undefined) claimed.set(slot, [ack.value]);
    else claims.push(ack.value);
    const atItsOffset = byPartition.get(ack.partition)?.records.get(ack.offset);
    if (atItsOffset === ack.value) continue;
    const storedAt = where.get(ack.value) ?? [];
    if (storedAt.length === 0) lost.push(ack);
    else misplaced.push({ ack, storedAt, atItsOffset: atItsOffset ?? null });
  }
  const doubleAcked = [...claimed].filter(([, values]) => values.length > 1).map(([slot, values]) => ({ slot, values }));

  const duplicated: Verdict['duplicated'][number][] = [];
  let allowedDuplicates = 0;
  for (const [value, storedAt] of where) {
    if (storedAt.length < 2) continue;
    const producer = value.slice(0, value.indexOf('-'));
    if (mayDuplicate.get(producer) === true) allowedDuplicates += storedAt.length - 1;
    else duplicated.push({ value, storedAt: storedAt.map((slot) => withWriter(slot, byPartition)) });
  }
  return { acknowledgedRecords: acks.length, lost, misplaced, duplicated, allowedDuplicates, doubleAcked, logAnomalies, storedRecords };
}
