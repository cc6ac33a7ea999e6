/**
 * `npm run bench:cluster [-- options]`: cluster-mode numbers on this machine (docs/benchmarks.md,
 * "Cluster mode"). Every broker set runs on loopback with a real etcd and s3rver (test/helpers/cluster.ts).
 *
 *   failover      kill -9 of the owner of partition 0 → first acknowledged produce (acks=all) to each of
 *                 its partitions, measured by the leader-following wire producer; median and max over
 *                 --repeats kills, at --ttl ms session TTL
 *   throughput    acks=all produce throughput (1 KiB records, 100 per request, one request in flight per
 *                 partition, 6 partitions) for --seconds, with 1 broker and with 3 brokers
 *   etcd writes   etcd's own counters (etcd_mvcc_put/delete/txn_total, scraped from its /metrics) during
 *                 each throughput run: per second and per produced MB
 *
 *   --ttl ms       KAFSCALE_BROKER_SESSION_TTL_MS (default 2000)
 *   --repeats n    failover kills (default 3)
 *   --seconds n    length of each throughput run (default 10)
 *   --json         print the result document instead of the table
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type TestCluster } from '../test/helpers/cluster.ts';
import { ClusterProducer } from '../test/cluster/cluster-producer.ts';
import { parsePrometheusText, sumSamples } from './prometheus-text.ts';

const PARTITIONS = 6;
const RECORD_BYTES = 1024;
const RECORDS_PER_REQUEST = 100;

interface ThroughputResult {
  readonly brokers: number;
  readonly seconds: number;
  readonly records: number;
  readonly mbPerSecond: number;
  readonly requestsFailed: number;
  readonly etcdWrites: number;
  readonly etcdWritesPerSecond: number;
  readonly etcdWritesPerMb: number;
}

interface FailoverResult {
  readonly ttlMs: number;
  /** Per kill: the slowest of the killed owner's partitions, ms. */
  readonly perKillMs: number[];
  readonly medianMs: number;
  readonly maxMs: number;
}

/** Writes that went through etcd's MVCC store: puts, deletes and transactions (each txn counted once). */
async function etcdWrites(cluster: TestCluster): Promise<number> {
  const text = await (await fetch(`${cluster.etcd.endpoint}/metrics`)).text();
  const families = parsePrometheusText(text);
  return sumSamples(families, 'etcd_mvcc_put_total') + sumSamples(families, 'etcd_mvcc_delete_total') + sumSamples(families, 'etcd_mvcc_txn_total');
}

async function throughput(brokers: number, seconds: number, ttlMs: number): Promise<ThroughputResult> {
  const cluster = await startCluster({ brokers, sessionTtlMs: ttlMs });
  try {
    const topic = `bench-cluster-${brokers}`;
    await cluster.createTopic(topic, PARTITIONS);
    await cluster.waitForLeaders(topic, PARTITIONS, 20_000);
    const producer = new ClusterProducer({ cluster, topic, partitions: PARTITIONS, recordsPerBatch: RECORDS_PER_REQUEST, valuePrefix: 'b', padBytes: RECORD_BYTES - 24 });
    producer.start();
    await sleep(2_000); // warm-up: connections, ownership, JIT
    const fromMs = Date.now();
    const writesBefore = await etcdWrites(cluster);
    await sleep(seconds * 1_000);
    const writesAfter = await etcdWrites(cluster);
    const toMs = Date.now();
    await producer.stop();
    const window = producer.between(fromMs, toMs);
    const acked = window.filter((a) => a.ack !== null);
    const bytes = acked.reduce((total, a) => total + a.values.reduce((sum, v) => sum + v.length, 0), 0);
    const elapsedS = (toMs - fromMs) / 1_000;
    const mb = bytes / 1e6;
    return {
      brokers,
      seconds: elapsedS,
      records: acked.length * RECORDS_PER_REQUEST,
      mbPerSecond: mb / elapsedS,
      requestsFailed: window.length - acked.length,
      etcdWrites: writesAfter - writesBefore,
      etcdWritesPerSecond: (writesAfter - writesBefore) / elapsedS,
      etcdWritesPerMb: mb > 0 ? (writesAfter - writesBefore) / mb : Number.NaN,
    };
  } finally {
    await cluster.stop();
  }
}

async function failover(repeats: number, ttlMs: number): Promise<FailoverResult> {
  const cluster = await startCluster({ brokers: 3, sessionTtlMs: ttlMs });
  const perKillMs: number[] = [];
  try {
    const topic = 'bench-failover';
    await cluster.createTopic(topic, PARTITIONS);
    await cluster.waitForLeaders(topic, PARTITIONS, 20_000);
    const producer = new ClusterProducer({ cluster, topic, partitions: PARTITIONS, recordsPerBatch: 1, valuePrefix: 'f', requestTimeoutMs: 1_000, retryBackoffMs: 20, pauseMs: 5 });
    producer.start();
    try {
      for (let kill = 0; kill < repeats; kill++) {
        await sleep(2_000);
        const leadership = await cluster.metadata(topic);
        const owner = leadership.partitions[0]?.leaderId ?? 0;
        const owned = leadership.partitions.filter((p) => p.leaderId === owner).map((p) => p.partition);
        const broker = cluster.brokers[owner];
        if (broker === undefined) throw new Error(`partition 0 is led by unknown broker ${owner}`);
        const killedMs = Date.now();
        await broker.kill();
        const deadline = killedMs + ttlMs + 30_000;
        while (Date.now() < deadline && owned.some((p) => producer.firstAckAfter(p, killedMs) === null)) await sleep(20);
        const times = owned.map((p) => {
          const first = producer.firstAckAfter(p, killedMs);
          if (first === null) throw new Error(`partition ${p} took no write within ${deadline - killedMs} ms of killing broker ${owner}`);
          return first.answeredMs - killedMs;
        });
        perKillMs.push(Math.max(...times));
        process.stderr.write(`failover ${kill + 1}/${repeats}: broker ${owner} killed, partitions ${owned.join(',')} writable again after ${times.join(', ')} ms\n`);
        await broker.restart();
        await cluster.waitForLeaders(topic, PARTITIONS, 30_000);
      }
    } finally {
      await producer.stop();
    }
  } finally {
    await cluster.stop();
  }
  const sorted = [...perKillMs].sort((a, b) => a - b);
  return { ttlMs, perKillMs, medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, maxMs: sorted.at(-1) ?? Number.NaN };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ttl: { type: 'string', default: '2000' },
      repeats: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const ttlMs = Number(values.ttl);
  const repeats = Number(values.repeats);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(ttlMs) || !Number.isInteger(repeats) || !(seconds > 0)) {
    console.error('usage: npm run bench:cluster -- [--ttl ms] [--repeats n] [--seconds n] [--json]');
    return 2;
  }
  const startedAt = new Date().toISOString();
  const failoverResult = await failover(repeats, ttlMs);
  const one = await throughput(1, seconds, ttlMs);
  const three = await throughput(3, seconds, ttlMs);
  const report = { startedAt, failover: failoverResult, throughput: [one, three], ratio3to1: three.mbPerSecond / one.mbPerSecond };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  const f = (n: number, digits = 1): string => n.toFixed(digits);
  console.log(`cluster bench ${startedAt} (session TTL ${ttlMs} ms)`);
  console.log(`failover (kill -9 owner → first acked produce on each of its partitions): median ${failoverResult.medianMs} ms, max ${failoverResult.maxMs} ms over ${repeats} kills [${failoverResult.perKillMs.join(', ')}]`);
  console.log('brokers | MB/s acked | records | failed req | etcd writes/s | etcd writes/MB');
  for (const r of [one, three]) {
    console.log(`${r.brokers} | ${f(r.mbPerSecond, 2)} | ${r.records} | ${r.requestsFailed} | ${f(r.etcdWritesPerSecond)} | ${f(r.etcdWritesPerMb, 2)}`);
  }
  console.log(`3 brokers / 1 broker throughput: ${f(report.ratio3to1, 2)}x`);
  return 0;
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`bench:cluster failed: ${(error as Error).stack ?? String(error)}`);
  return 1;
});
