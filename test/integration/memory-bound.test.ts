/**
 * Bounded memory under a flood of produce data (issue 10 item 8): 200 connections each pipeline large
 * acks=all produce requests at a real broker process whose queued.max.request.bytes is small. The
 * broker must stop reading instead of buffering: its RSS stays under a stated bound, it keeps answering
 * new connections during the flood, and every acknowledged batch is afterwards at its offset.
 *
 * MEMORY_BOUND_BUDGET_BYTES overrides the budget (e.g. 2147483647) to see what the same load does
 * without a useful bound; the assertion then fails, which is how the bound was checked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { decodeResponse, encodeRequest, type Encodable, type RequestByKey, type ResponseByKey } from '../../src/protocol/codec/index.ts';
import { FrameDecoder, sizePrefix } from '../../src/protocol/frame.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { probeApiVersions, startBroker, type BrokerProcess } from '../helpers/broker-process.ts';

const CONNECTIONS = 200;
const REQUESTS_PER_CONNECTION = 4;
const VALUE_BYTES = 512 * 1024;
const PARTITIONS = 8;
const BUDGET_BYTES = Number(process.env['MEMORY_BOUND_BUDGET_BYTES'] ?? 8 * 1024 * 1024);
/**
 * The flood carries 400 MiB (without a useful budget the broker grew by ~300 MiB for 300 MiB, ~615 MiB for 600 MiB). With the budget it may
 * grow by the budget plus what is bounded elsewhere: the owners' tails of acknowledged batches (KAFSCALE_LOG_TAIL_BYTES, 16 MiB),
 * up to ~192 KiB of socket and decoder buffers per paused connection (~37 MiB), the WAL objects being
 * written, and dead Buffers V8 has not collected yet (its external-memory GC trigger is ~64 MiB): measured
 * +150 to +213 MiB.
 */
const RSS_GROWTH_BOUND_BYTES = 256 * 1024 * 1024;
/** The broker's own account of request bytes held: the budget plus at most one frame granted past it. */
const FRAME_BYTES_MAX = VALUE_BYTES + 1024;
const PROBE_BOUND_MS = 45_000;
const TOPIC = 'flood';
const TEST_TIMEOUT_MS = 240_000;

type Key = keyof RequestByKey & keyof ResponseByKey;

/** A pipelining raw client: requests written as the codec's chunks (record batches by reference), responses matched in order. */
class PipelinedClient {
  readonly socket: Socket;
  readonly #decoder = new FrameDecoder(512 * 1024 * 1024);
  readonly #waiting: Array<(frame: Buffer) => void> = [];
  #nextCorrelationId = 1;
  #closed: Error | null = null;
  readonly #failures: Array<(error: Error) => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let frame = this.#decoder.next(); frame !== null; frame = this.#decoder.next()) this.#waiting.shift()?.(frame);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = new Error('the broker closed the connection');
      for (const fail of this.#failures.splice(0)) fail(this.#closed);
    });
  }

  static async open(port: number): Promise<PipelinedClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new PipelinedClient(socket);
  }

  send<K extends Key>(apiKey: K, version: number, body: Partial<Encodable<RequestByKey[K]>>): Promise<ResponseByKey[K]> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    const chunks = encodeRequest(apiKey, version, this.#nextCorrelationId++, 'memory-bound', body);
    const frame = new Promise<Buffer>((resolve, reject) => {
      this.#waiting.push(resolve);
      this.#failures.push(reject);
    });
    this.socket.cork();
    this.socket.write(sizePrefix(chunks));
    for (const chunk of chunks) this.socket.write(chunk);
    this.socket.uncork();
    return frame.then((f) => decodeResponse(apiKey, version, f).body);
  }

  close(): void {
    this.socket.destroy();
  }
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

async function queuedRequestBytes(opsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const match = /^kafscale_queued_request_bytes(?:\{[^}]*\})? (\d+)/m.exec(text);
  return match === null ? 0 : Number(match[1]);
}

let broker: BrokerProcess;
const clients: PipelinedClient[] = [];

before(async () => {
  broker = await startBroker({
    logLevel: 'warn',
    env: {
      KAFSCALE_QUEUED_MAX_REQUEST_BYTES: String(BUDGET_BYTES),
      KAFSCALE_CACHE_BYTES: String(16 * 1024 * 1024),
      KAFSCALE_MAX_CONNECTIONS: String(CONNECTIONS + 20),
      // Flushes slower than the clients can send (one at a time, after a linger), so a backlog builds up
      // and only the budget keeps it out of the broker's memory.
      KAFSCALE_FLUSH_MAX_INFLIGHT: '1',
      KAFSCALE_FLUSH_LINGER_MS: '100',
    },
  });
});

after(async () => {
  for (const client of clients) client.close();
  await broker?.stop();
});

test(`${CONNECTIONS} connections flooding produce requests: RSS stays bounded, the broker keeps answering, nothing acknowledged is lost`, { timeout: TEST_TIMEOUT_MS }, async () => {
  const admin = await PipelinedClient.open(broker.port);
  clients.push(admin);
  const created = await admin.send(19, 7, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, 0);
  // Warm up: the partition owners acquire and the first flush happens before the baseline is taken.
  for (let p = 0; p < PARTITIONS; p++) {
    const warm = await admin.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: p, records: encodeRecordBatch({ records: [{ key: `warm-${p}`, value: 'up' }] }) }] }] });
    assert.equal(warm.responses[0]?.partitionResponses[0]?.errorCode, 0);
  }
  const baselineRss = rssBytes(broker.pid);
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssBytes(broker.pid));
  }, 25);
  let peakQueued = 0;
  const metricsSampler = setInterval(() => {
    void queuedRequestBytes(broker.opsPort).then((bytes) => {
      peakQueued = Math.max(peakQueued, bytes);
    });
  }, 200);

  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  const acked = new Map<string, { partition: number; offset: bigint }>();
  const errors = new Map<number, number>();
  const started = performance.now();
  const floods: Promise<void>[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const client = await PipelinedClient.open(broker.port);
    clients.push(client);
    const requests: Promise<void>[] = [];
    for (let r = 0; r < REQUESTS_PER_CONNECTION; r++) {
      const key = `c${c}-r${r}`;
      const partition = (c + r) % PARTITIONS;
      const batch = encodeRecordBatch({ records: [{ key, value }] });
      requests.push(
        client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 60_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: batch }] }] }).then((response) => {
          const result = response.responses[0]?.partitionResponses[0];
          if (result?.errorCode === 0) acked.set(key, { partition, offset: result.baseOffset });
          else errors.set(result?.errorCode ?? -999, (errors.get(result?.errorCode ?? -999) ?? 0) + 1);
        }),
      );
    }
    floods.push(Promise.all(requests).then(() => undefined));
  }

  // While the flood is being absorbed, a new connection is still answered.
  const probeStarted = performance.now();
  assert.equal(await probeApiVersions(broker.host, broker.port, 60_000), 0, 'a new connection is answered during the flood');
  const probeMs = performance.now() - probeStarted;
  const inFlightAtProbe = CONNECTIONS * REQUESTS_PER_CONNECTION - acked.size;

  await Promise.all(floods);
  const elapsedMs = performance.now() - started;
  clearInterval(sampler);
  clearInterval(metricsSampler);
  peakRss = Math.max(peakRss, rssBytes(broker.pid));
  const growth = peakRss - baselineRss;
  const sentBytes = CONNECTIONS * REQUESTS_PER_CONNECTION * VALUE_BYTES;
  console.log(
    `memory-bound: budget ${BUDGET_BYTES} B, sent ${(sentBytes / 2 ** 20).toFixed(0)} MiB in ${(elapsedMs / 1000).toFixed(1)} s; ` +
      `peak queued request bytes ${peakQueued}; RSS baseline ${(baselineRss / 2 ** 20).toFixed(0)} MiB, peak ${(peakRss / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(0)} MiB); ` +
      `ApiVersions probe answered in ${probeMs.toFixed(0)} ms with ${inFlightAtProbe} produce requests unanswered; acked ${acked.size}, errors ${JSON.stringify(Object.fromEntries(errors))}`,
  );
  assert.equal(acked.size + [...errors.values()].reduce((a, b) => a + b, 0), CONNECTIONS * REQUESTS_PER_CONNECTION, 'every request answered');
  assert.ok(acked.size > 0, 'some produce requests were acknowledged');
  assert.ok(probeMs < PROBE_BOUND_MS, `ApiVersions on a new connection took ${probeMs.toFixed(0)} ms during the flood`);
  assert.ok(peakQueued > 0 && peakQueued <= BUDGET_BYTES + FRAME_BYTES_MAX, `the broker held ${peakQueued} request bytes (budget ${BUDGET_BYTES})`);
  assert.ok(growth < RSS_GROWTH_BOUND_BYTES, `broker RSS grew by ${(growth / 2 ** 20).toFixed(0)} MiB (bound ${RSS_GROWTH_BOUND_BYTES / 2 ** 20} MiB)`);

  // Every acknowledged batch is at its offset.
  const verifyStarted = performance.now();
  const reader = await PipelinedClient.open(broker.port);
  clients.push(reader);
  const found = new Map<string, { partition: number; offset: bigint }>();
  for (let p = 0; p < PARTITIONS; p++) {
    let offset = 0n;
    for (;;) {
      const response = await reader.send(1, 12, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 8 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: TOPIC, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: p, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 8 * 1024 * 1024, replicaDirectoryId: '' }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const data = response.responses[0]?.partitions[0];
      assert.equal(data?.errorCode, 0);
      const records = data.records ?? Buffer.alloc(0);
      if (records.length === 0) break;
      for (let at = 0; at < records.length; ) {
        const size = records.readInt32BE(at + 8) + 12;
        for (const record of decodeRecordBatch(records.subarray(at, at + size)).records) {
          const key = record.key?.toString() ?? '';
          assert.equal(found.has(key), false, `${key} stored twice`);
          found.set(key, { partition: p, offset: record.offset });
          offset = record.offset + 1n;
        }
        at += size;
      }
      if (offset >= data.highWatermark) break;
    }
  }
  for (const [key, where] of acked) assert.deepEqual(found.get(key), where, `acknowledged ${key} at ${where.partition}/${where.offset}`);
  console.log(`memory-bound: read back ${found.size} batches in ${((performance.now() - verifyStarted) / 1000).toFixed(1)} s`);
});
