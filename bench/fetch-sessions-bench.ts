/**
 * `node bench/fetch-sessions-bench.ts [--partitions 1000] [--fetches 300] [--sessionless-only]`: what incremental fetch
 * sessions (KIP-227) save a consumer of many partitions. One real broker process; one topic of
 * `--partitions` partitions with one small record each; a trickle of one record per fetch to one
 * partition (round robin) over a second connection; a consumer that is caught up fetches `--fetches`
 * times (Fetch v13, MaxWaitMs 0, so each request is measured, not the long poll):
 * - sessionless: every request names every partition (what every client did before: sessionId 0);
 * - sessions: one full fetch (epoch 0), then incremental fetches naming only the partitions whose
 *   fetch offset moved, as the Java client does.
 * Reports request and response bytes per fetch and the broker's CPU per fetch (utime+stime of the
 * broker process from /proc, so the machine's other tenants do not count). Bounded: two runs of
 * `--fetches` requests; the broker is stopped at the end.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeResponse, encodeRequest } from '../src/protocol/codec/index.ts';
import type { FetchRequest, FetchResponse } from '../src/protocol/messages/index.ts';
import { encodeRecordBatch } from '../src/protocol/records/index.ts';
import { startBroker } from '../test/helpers/broker-process.ts';
import { WireClient } from '../test/helpers/wire-client.ts';

const { values: args } = parseArgs({ options: { partitions: { type: 'string', default: '1000' }, fetches: { type: 'string', default: '300' }, 'sessionless-only': { type: 'boolean', default: false } } });
/** --sessionless-only: the mode a broker without fetch sessions can run (the "before" measurement). */
const MODES = args['sessionless-only'] ? (['sessionless'] as const) : (['sessionless', 'sessions'] as const);
const PARTITIONS = Number(args.partitions);
const FETCHES = Number(args.fetches);
const TOPIC = 'fetch-sessions-bench';
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const CLOCK_TICKS_PER_SECOND = 100;

type Partition = FetchRequest['topics'][number]['partitions'][number];

/** utime + stime of a process in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

function at(partition: number, fetchOffset: bigint): Partition {
  return { partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID };
}

/** One Fetch v13 with its frame sizes. */
async function fetchOnce(client: WireClient, topicId: string, sessionId: number, sessionEpoch: number, partitions: Partition[]): Promise<{ response: FetchResponse; requestBytes: number; responseBytes: number }> {
  const body = { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 50 << 20, isolationLevel: 0, sessionId, sessionEpoch, topics: partitions.length === 0 ? [] : [{ topic: '', topicId, partitions }], forgottenTopicsData: [], rackId: '' };
  const chunks = encodeRequest(1, 13, 1, client.clientId, body as never);
  const size = chunks.reduce((total, chunk) => total + chunk.length, 0);
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(size);
  client.sendRaw(Buffer.concat([prefix, ...chunks]));
  const frame = await client.nextFrame(30_000);
  return { response: decodeResponse(1, 13, frame).body, requestBytes: 4 + size, responseBytes: 4 + frame.length };
}

async function produce(client: WireClient, partitions: number[], value: string): Promise<void> {
  const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: partitions.map((index) => ({ index, records: encodeRecordBatch({ records: [{ value }] }) })) }] }, 60_000);
  const failed = response.responses[0]?.partitionResponses.filter((p) => p.errorCode !== 0).length ?? -1;
  if (failed !== 0) throw new Error(`produce failed on ${failed} partitions`);
}

interface RunResult {
  readonly mode: string;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Broker CPU over the whole run (fetches, the trickle's produces and their flushes). */
  readonly brokerCpuMs: number;
  /** Broker CPU while a fetch was outstanding (10 ms ticks summed over many fetches). */
  readonly fetchCpuMs: number;
  readonly fetchWallMs: number;
  readonly wallMs: number;
  readonly records: number;
}

async function run(mode: 'sessionless' | 'sessions', consumer: WireClient, producer: WireClient, topicId: string, pid: number, offsets: bigint[]): Promise<RunResult> {
  let sessionId = 0;
  let epoch = 0;
  const changed = new Set<number>();
  let requestBytes = 0;
  let responseBytes = 0;
  let records = 0;
  if (mode === 'sessions') {
    // The full fetch that opens the session is part of the cost.
    const full = await fetchOnce(consumer, topicId, 0, 0, offsets.map((o, p) => at(p, o)));
    if (full.response.sessionId === 0) throw new Error('the broker created no session');
    sessionId = full.response.sessionId;
    epoch = 1;
    requestBytes += full.requestBytes;
    responseBytes += full.responseBytes;
  }
  let fetchCpuMs = 0;
  let fetchWallMs = 0;
  const cpuBefore = cpuMs(pid);
  const started = performance.now();
  for (let i = 0; i < FETCHES; i++) {
    const target = i % PARTITIONS;
    await produce(producer, [target], `trickle-${i}`);
    const partitions = mode === 'sessionless' ? offsets.map((o, p) => at(p, o)) : [...changed].map((p) => at(p, offsets[p] as bigint));
    changed.clear();
    const before = cpuMs(pid);
    const sentAt = performance.now();
    const { response, requestBytes: req, responseBytes: res } = await fetchOnce(consumer, topicId, mode === 'sessionless' ? 0 : sessionId, mode === 'sessionless' ? -1 : epoch, partitions);
    fetchCpuMs += cpuMs(pid) - before;
    fetchWallMs += performance.now() - sentAt;
    if (response.errorCode !== 0) throw new Error(`fetch error ${response.errorCode}`);
    epoch++;
    requestBytes += req;
    responseBytes += res;
    for (const p of response.responses[0]?.partitions ?? []) {
      const batch = p.records as Buffer | null;
      if (batch !== null && batch.length > 0 && p.highWatermark > (offsets[p.partitionIndex] as bigint)) {
        offsets[p.partitionIndex] = p.highWatermark;
        changed.add(p.partitionIndex);
        records++;
      }
    }
  }
  return { mode, requestBytes, responseBytes, brokerCpuMs: cpuMs(pid) - cpuBefore, fetchCpuMs, fetchWallMs, wallMs: performance.now() - started, records };
}

const broker = await startBroker({ logLevel: 'warn' });
try {
  const admin = await WireClient.connect(broker.host, broker.port);
  const created = await admin.send(19, 7, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false }, 60_000);
  const topicId = created.topics[0]?.topicId as string;
  await produce(admin, Array.from({ length: PARTITIONS }, (_, p) => p), 'seed');
  const offsets = (): bigint[] => Array.from({ length: PARTITIONS }, () => 1n);
  const results: RunResult[] = [];
  // Warm-up (JIT, caches), then both modes on fresh connections.
  for (const mode of [...MODES, ...MODES]) {
    const consumer = await WireClient.connect(broker.host, broker.port);
    const current = offsets();
    // Partitions written by earlier runs' trickle: the consumer starts caught up.
    const end = await fetchOnce(consumer, topicId, 0, -1, current.map((o, p) => at(p, o)));
    for (const p of end.response.responses[0]?.partitions ?? []) current[p.partitionIndex] = p.highWatermark;
    results.push(await run(mode, consumer, admin, topicId, broker.pid, current));
    consumer.close();
  }
  admin.close();
  console.log(`${PARTITIONS} partitions, ${FETCHES} fetches per run, one record produced before each fetch`);
  console.log('| mode | request B/fetch | response B/fetch | broker CPU ms/fetch, fetch only | broker CPU ms/fetch, with the produce | fetch round trip ms | records read |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results.slice(results.length - MODES.length)) {
    const per = (x: number, digits = 0): string => (x / FETCHES).toFixed(digits);
    console.log(`| ${r.mode} | ${per(r.requestBytes)} | ${per(r.responseBytes)} | ${per(r.fetchCpuMs, 2)} | ${per(r.brokerCpuMs, 2)} | ${per(r.fetchWallMs, 1)} | ${r.records} |`);
  }
} finally {
  await broker.stop();
}
