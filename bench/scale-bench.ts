/**
 * `npm run bench:scale [-- options]`: what grows with the partition count (docs/benchmarks.md, "Scale").
 * For each partition count, on one broker with the embedded store and/or a 3-broker cluster on etcd:
 *
 *   create       CreateTopics for N partitions (topics of 100 partitions, 10 topics per request)
 *   own all      from the first CreateTopics until the brokers' kafscale_partitions_owned add up to N
 *   idle         over a quiet window after a settle: metadata-store writes per second as the brokers
 *                count them (put, delete, txn; lease keep-alives apart) and, on etcd, etcd's own MVCC
 *                writes; RSS and heap per broker at the end
 *   metadata     Metadata for all topics (v12, topics = null): median time over 5 requests
 *   produce      one acks=all kafkajs sendBatch with one 1 KiB record to each of 1,000 partitions:
 *                median time over 3 batches
 *
 *   --partitions a,b   partition counts (default 1000,10000)
 *   --mode m           single | cluster | both (default both)
 *   --idle-seconds n   the quiet window (default 30)
 *   --json             print the result document instead of the table
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { startBroker } from '../test/helpers/broker-process.ts';
import { startCluster } from '../test/helpers/cluster.ts';
import { WireClient } from '../test/helpers/wire-client.ts';
import { formatTable } from './bench-report.ts';
import { createTopics } from './bench-topics.ts';
import { parsePrometheusText, sumSamples, type MetricFamily } from './prometheus-text.ts';

const CLIENT_ID = 'kafscale-scale-bench';
const PARTITIONS_PER_TOPIC = 100;
const TOPICS_PER_REQUEST = 10;
const PRODUCE_PARTITIONS = 1_000;
const RECORD_BYTES = 1024;
const OWN_ALL_TIMEOUT_MS = 15 * 60_000;
const SETTLE_MS = 10_000;

interface ScaleTarget {
  readonly mode: 'single' | 'cluster';
  readonly bootstrap: string;
  readonly host: string;
  readonly port: number;
  readonly opsAddresses: readonly string[];
  /** etcd's own MVCC writes so far; null with the embedded store. */
  etcdWrites(): Promise<number | null>;
  stop(): Promise<void>;
}

export interface ScaleRow {
  readonly mode: 'single' | 'cluster';
  readonly brokers: number;
  readonly partitions: number;
  readonly createMs: number;
  readonly ownAllMs: number;
  readonly idleSeconds: number;
  readonly idleStoreWritesPerSec: number;
  readonly idleLeaseCallsPerSec: number;
  readonly idleEtcdWritesPerSec: number | null;
  readonly rssMiB: readonly number[];
  readonly heapMiB: readonly number[];
  /** V8 heap committed (heap_size_total): what the heap holds of the RSS, live or not. */
  readonly heapTotalMiB: readonly number[];
  readonly metadataAllMs: number;
  readonly produce1000Ms: number;
}

async function scrape(opsAddress: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(`http://${opsAddress}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return parsePrometheusText(await response.text());
}

async function sumOver(target: ScaleTarget, pick: (families: Map<string, MetricFamily>) => number): Promise<number[]> {
  return Promise.all(target.opsAddresses.map(async (ops) => pick(await scrape(ops))));
}

const storeWrites = (f: Map<string, MetricFamily>): number =>
  ['put', 'delete', 'txn'].reduce((sum, operation) => sum + sumSamples(f, 'kafscale_metadata_store_requests_total', { operation }), 0);
const leaseCalls = (f: Map<string, MetricFamily>): number => sumSamples(f, 'kafscale_metadata_store_requests_total', { operation: 'lease' });

async function startTarget(mode: 'single' | 'cluster'): Promise<ScaleTarget> {
  if (mode === 'single') {
    const broker = await startBroker({ logLevel: 'warn' });
    return {
      mode, bootstrap: broker.bootstrap, host: broker.host, port: broker.port,
      opsAddresses: [`${broker.host}:${broker.opsPort}`],
      etcdWrites: () => Promise.resolve(null),
      stop: () => broker.stop(),
    };
  }
  const cluster = await startCluster({ brokers: 3, logLevel: 'warn' });
  const first = cluster.brokers[0];
  if (first === undefined) throw new Error('the cluster started no broker');
  return {
    mode, bootstrap: cluster.bootstrap, host: first.host, port: first.port,
    opsAddresses: cluster.brokers.map((b) => `${b.host}:${b.opsPort}`),
    async etcdWrites() {
      const families = parsePrometheusText(await (await fetch(`${cluster.etcd.endpoint}/metrics`)).text());
      return sumSamples(families, 'etcd_mvcc_put_total') + sumSamples(families, 'etcd_mvcc_delete_total') + sumSamples(families, 'etcd_mvcc_txn_total');
    },
    stop: () => cluster.stop(),
  };
}

function topicNames(partitions: number): string[] {
  return Array.from({ length: Math.ceil(partitions / PARTITIONS_PER_TOPIC) }, (_, i) => `scale-${String(i).padStart(4, '0')}`);
}

async function createScaleTopics(target: ScaleTarget, names: readonly string[]): Promise<void> {
  await createTopics(target, names, PARTITIONS_PER_TOPIC, { clientId: CLIENT_ID, replicationFactor: -1, timeoutMs: 60_000, requestTimeoutMs: 120_000, topicsPerRequest: TOPICS_PER_REQUEST });
}

async function waitOwned(target: ScaleTarget, partitions: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + OWN_ALL_TIMEOUT_MS;
  let lastLog = 0;
  for (;;) {
    const owned = (await sumOver(target, (f) => sumSamples(f, 'kafscale_partitions_owned'))).reduce((a, b) => a + b, 0);
    if (owned >= partitions) return;
    if (Date.now() > deadline) throw new Error(`only ${owned} of ${partitions} partitions owned after ${OWN_ALL_TIMEOUT_MS} ms`);
    if (Date.now() - lastLog > 10_000) {
      log(`scale:   ${owned}/${partitions} owned`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function metadataAllMs(target: ScaleTarget, expectedTopics: number): Promise<number> {
  const client = await WireClient.connect(target.host, target.port, CLIENT_ID);
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 60_000);
      times.push(performance.now() - started);
      if (response.topics.length < expectedTopics) throw new Error(`Metadata listed ${response.topics.length} topics, expected ${expectedTopics}`);
    }
    return median(times);
  } finally {
    client.close();
  }
}

async function produce1000Ms(target: ScaleTarget, names: readonly string[]): Promise<number> {
  const kafka = new kafkajs.Kafka({ brokers: target.bootstrap.split(','), clientId: CLIENT_ID, logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const value = Buffer.alloc(RECORD_BYTES, 's');
    const topics = names.slice(0, PRODUCE_PARTITIONS / PARTITIONS_PER_TOPIC);
    const topicMessages = topics.map((topic) => ({ topic, messages: Array.from({ length: PARTITIONS_PER_TOPIC }, (_, partition) => ({ partition, value })) }));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await producer.sendBatch({ topicMessages, acks: -1 });
      times.push(performance.now() - started);
    }
    return median(times);
  } finally {
    await producer.disconnect();
  }
}

async function measure(mode: 'single' | 'cluster', partitions: number, idleSeconds: number, log: (line: string) => void): Promise<ScaleRow> {
  log(`scale: ${mode}, ${partitions} partitions`);
  const target = await startTarget(mode);
  try {
    const names = topicNames(partitions);
    const started = performance.now();
    await createScaleTopics(target, names);
    const createMs = performance.now() - started;
    await waitOwned(target, partitions, log);
    const ownAllMs = performance.now() - started;
    log(`scale:   created in ${Math.round(createMs)} ms, all owned after ${Math.round(ownAllMs)} ms; settling, then ${idleSeconds} s idle`);
    await sleep(SETTLE_MS);
    const writesBefore = await sumOver(target, storeWrites);
    const leaseBefore = await sumOver(target, leaseCalls);
    const etcdBefore = await target.etcdWrites();
    await sleep(idleSeconds * 1000);
    const writesAfter = await sumOver(target, storeWrites);
    const leaseAfter = await sumOver(target, leaseCalls);
    const etcdAfter = await target.etcdWrites();
    const total = (a: number[]): number => a.reduce((x, y) => x + y, 0);
    const rssMiB = await sumOver(target, (f) => sumSamples(f, 'kafscale_process_resident_memory_bytes') / 1048576);
    const heapMiB = await sumOver(target, (f) => sumSamples(f, 'kafscale_nodejs_heap_size_used_bytes') / 1048576);
    const heapTotalMiB = await sumOver(target, (f) => sumSamples(f, 'kafscale_nodejs_heap_size_total_bytes') / 1048576);
    const metadataMs = await metadataAllMs(target, names.length);
    const produceMs = await produce1000Ms(target, names);
    return {
      mode,
      brokers: target.opsAddresses.length,
      partitions,
      createMs,
      ownAllMs,
      idleSeconds,
      idleStoreWritesPerSec: (total(writesAfter) - total(writesBefore)) / idleSeconds,
      idleLeaseCallsPerSec: (total(leaseAfter) - total(leaseBefore)) / idleSeconds,
      idleEtcdWritesPerSec: etcdBefore === null || etcdAfter === null ? null : (etcdAfter - etcdBefore) / idleSeconds,
      rssMiB,
      heapMiB,
      heapTotalMiB,
      metadataAllMs: metadataMs,
      produce1000Ms: produceMs,
    };
  } finally {
    await target.stop();
  }
}

export function formatScaleRows(rows: readonly ScaleRow[]): string {
  const n = (v: number | null, digits = 0): string => (v === null ? 'n/a' : v.toFixed(digits));
  return formatTable(
    ['mode', 'brokers', 'partitions', 'create ms', 'own all ms', 'idle store writes/s', 'lease calls/s', 'etcd writes/s', 'RSS MiB', 'heap used / committed MiB', 'Metadata all ms', 'produce 1000p ms'],
    rows.map((r) => [r.mode, String(r.brokers), String(r.partitions), n(r.createMs), n(r.ownAllMs), n(r.idleStoreWritesPerSec, 2), n(r.idleLeaseCallsPerSec, 2), n(r.idleEtcdWritesPerSec, 2), r.rssMiB.map((v) => v.toFixed(0)).join('/'), r.heapMiB.map((v, i) => `${v.toFixed(0)} / ${(r.heapTotalMiB[i] ?? Number.NaN).toFixed(0)}`).join(', '), n(r.metadataAllMs, 1), n(r.produce1000Ms, 1)]),
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      partitions: { type: 'string', default: '1000,10000' },
      mode: { type: 'string', default: 'both' },
      'idle-seconds': { type: 'string', default: '30' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const counts = values.partitions.split(',').map(Number);
  const idleSeconds = Number(values['idle-seconds']);
  if (counts.some((c) => !Number.isInteger(c) || c < PRODUCE_PARTITIONS || c % PARTITIONS_PER_TOPIC !== 0)) {
    console.error(`bench:scale: --partitions takes counts of at least ${PRODUCE_PARTITIONS}, multiples of ${PARTITIONS_PER_TOPIC}, got '${values.partitions}'`);
    return 2;
  }
  if (!['single', 'cluster', 'both'].includes(values.mode)) {
    console.error(`bench:scale: --mode is single, cluster or both, got '${values.mode}'`);
    return 2;
  }
  if (!Number.isInteger(idleSeconds) || idleSeconds < 1) {
    console.error(`bench:scale: --idle-seconds takes whole seconds ≥ 1, got '${values['idle-seconds']}'`);
    return 2;
  }
  const modes = values.mode === 'both' ? (['single', 'cluster'] as const) : [values.mode as 'single' | 'cluster'];
  const rows: ScaleRow[] = [];
  for (const mode of modes) for (const partitions of counts) rows.push(await measure(mode, partitions, idleSeconds, (line) => console.error(line)));
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatScaleRows(rows));
  return 0;
}

if (import.meta.main) process.exitCode = await main();
