/**
 * The write path's memory budgets are settings that reach the running broker: a produce burst far beyond
 * KAFSCALE_FLUSH_MAX_PENDING_BYTES is held back (appends wait for room) rather than buffered, the owners'
 * tails stay within KAFSCALE_LOG_TAIL_BYTES, and every acknowledged record is there afterwards, once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WireClient } from '../../test/helpers/wire-client.ts';
import { loadConfig } from '../config/index.ts';
import { batchSizeBytes, encodeRecordBatch, recordCount } from '../protocol/records/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { BrokerApp } from './broker-app.ts';

const TOPIC = 'budgets';
const NULL_UUID = '00000000-0000-0000-0000-000000000000';
const PARTITIONS = 4;
const PENDING_BYTES = 64 * 1024;
const TAIL_BYTES = 32 * 1024;
const CONNECTIONS = 3;
const REQUESTS_PER_CONNECTION = 40;
const RECORDS_PER_BATCH = 8;
/** ~8 KiB per request: 120 requests are ~1 MiB, 15 times the pending-bytes budget. */
const VALUE = 'v'.repeat(1000);

describe('BrokerApp memory budgets (embedded store)', { timeout: 60_000 }, () => {
  let dir: string;
  let app: BrokerApp;
  const clients: WireClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-budgets-'));
    const config = loadConfig({
      argv: [],
      env: {
        KAFSCALE_DATA_DIR: dir,
        KAFSCALE_BROKER_ADDR: '127.0.0.1:0',
        KAFSCALE_METRICS_ADDR: '127.0.0.1:0',
        KAFSCALE_BROKER_HOST: '127.0.0.1',
        KAFSCALE_FLUSH_MAX_BYTES: '16384',
        KAFSCALE_FLUSH_MAX_PENDING_BYTES: String(PENDING_BYTES),
        KAFSCALE_LOG_TAIL_BYTES: String(TAIL_BYTES),
      },
      cwd: dir,
    });
    app = new BrokerApp(config, silentLogger());
    await app.start();
    for (let i = 0; i < CONNECTIONS; i++) clients.push(await WireClient.connect('127.0.0.1', app.kafkaPort, `budgets-${i}`));
    const created = await clients[0]!.send(19, 5, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false }, 10_000);
    assert.equal(created.topics[0]?.errorCode, 0);
  });

  after(async () => {
    for (const client of clients) client.close();
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the settings reach the log service', () => {
    const logs = app.logService;
    assert.ok(logs !== null);
    assert.equal(logs.pipeline.budget.maxBytes, PENDING_BYTES);
    assert.equal(logs.tailStats().maxBytes, TAIL_BYTES);
  });

  it('a burst 15× the pending-bytes budget waits for room instead of being buffered; every ack is kept', async () => {
    const logs = app.logService;
    assert.ok(logs !== null);
    // Observe the real budget (no stand-in): the most it ever held, and how often an append had to wait.
    const budget = logs.pipeline.budget;
    let peakBytes = 0;
    let waits = 0;
    const queued = budget.queued.bind(budget);
    budget.queued = (bytes, reserved) => {
      queued(bytes, reserved);
      peakBytes = Math.max(peakBytes, budget.bytes);
    };
    const waitForRoom = budget.waitForRoom.bind(budget);
    budget.waitForRoom = (bytes) => {
      waits++;
      return waitForRoom(bytes);
    };
    const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ value: `${i}:${VALUE}`, timestamp: BigInt(Date.now()) }));
    const batch = encodeRecordBatch({ records });
    // Every request is sent at once on its connection (pipelined): the broker, not the client, must hold back.
    const sends: Promise<{ partition: number; errorCode: number; baseOffset: number }>[] = [];
    for (let r = 0; r < REQUESTS_PER_CONNECTION; r++) {
      for (let c = 0; c < CONNECTIONS; c++) {
        const partition = (r * CONNECTIONS + c) % PARTITIONS;
        const body = { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: batch }] }] };
        sends.push(
          clients[c]!.send(0, 9, body, 30_000).then((response) => {
            const p = response.responses[0]?.partitionResponses[0];
            return { partition, errorCode: p?.errorCode ?? -1, baseOffset: Number(p?.baseOffset ?? -1) };
          }),
        );
      }
    }
    const acks = await Promise.all(sends);
    budget.queued = queued;
    budget.waitForRoom = waitForRoom;

    assert.deepEqual(acks.filter((a) => a.errorCode !== 0), [], 'every request acknowledged');
    assert.ok(waits > 0, 'some appends waited for room');
    assert.ok(peakBytes <= PENDING_BYTES, `pending bytes peaked at ${peakBytes}, above the budget of ${PENDING_BYTES}`);
    assert.ok(peakBytes > PENDING_BYTES / 2, `the budget was used (peak ${peakBytes})`);
    assert.ok(logs.tailStats().bytes <= TAIL_BYTES, `tail holds ${logs.tailStats().bytes} bytes, above ${TAIL_BYTES}`);
    // The same two figures on /metrics: everything flushed, the tail full up to its bound.
    const text = await app.metrics.registry.metrics();
    assert.match(text, /^kafscale_flush_pending_bytes(\{[^}]*\})? 0$/m);
    const tail = Number(/^kafscale_log_tail_bytes(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1]);
    assert.ok(tail > TAIL_BYTES / 2 && tail <= TAIL_BYTES, `kafscale_log_tail_bytes ${tail}`);

    // No lost or doubled acks: per partition the acknowledged base offsets tile 0..end exactly, and the
    // log holds exactly those records.
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const bases = acks.filter((a) => a.partition === partition).map((a) => a.baseOffset).sort((a, b) => a - b);
      assert.deepEqual(bases, bases.map((_, i) => i * RECORDS_PER_BATCH), `partition ${partition}: acknowledged offsets`);
      const fetched = await fetchAll(clients[0]!, TOPIC, partition, bases.length * RECORDS_PER_BATCH);
      assert.equal(fetched, bases.length * RECORDS_PER_BATCH, `partition ${partition}: records read back`);
    }
  });
});

/** Reads the partition from offset 0 to `end` and returns the number of records (whole batches). */
async function fetchAll(client: WireClient, topic: string, partition: number, end: number): Promise<number> {
  let offset = 0;
  let count = 0;
  while (offset < end) {
    const response = await client.send(1, 12, {
      maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, topicId: NULL_UUID, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: NULL_UUID }] }],
      forgottenTopicsData: [], rackId: '',
    }, 10_000);
    const data = response.responses[0]?.partitions[0];
    assert.equal(data?.errorCode, 0);
    const records = data.records;
    assert.ok(records !== null && records.length > 0, `no records at offset ${offset}`);
    for (let at = 0; at < records.length; ) {
      const size = batchSizeBytes(records.subarray(at));
      const view = records.subarray(at, at + size);
      count += recordCount(view);
      offset = Number(view.readBigInt64BE(0)) + recordCount(view);
      at += size;
    }
  }
  return count;
}
