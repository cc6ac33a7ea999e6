/**
 * `npm run bench:proxy [-- options]`: produce and consume through `kafscale proxy` against the same
 * three brokers directly, side by side in one run (docs/benchmarks.md, "Proxy"). The cluster is real
 * (etcd, s3rver, 3 broker processes on loopback, test/helpers/cluster.ts); the proxy is a fourth
 * process. The client is the bench's native librdkafka program (bench/native), kcat when it cannot be
 * built (then no latency). Rounds alternate direct/proxy order so that drift on the machine hits both;
 * one unmeasured produce + consume of 50,000 records through each path warms both up first.
 *
 *   produce   acks=all throughput of --messages records of --size bytes over 6 partitions (MB/s)
 *   consume   reading those records back from the beginning (MB/s)
 *   request   2,000 sequential ListOffsets round trips on one connection (p50, p99): the time the proxy
 *             itself adds, without the flush (S3 PUT + etcd commit) that dominates produce latency
 *   latency   produce→consume end-to-end at --rate msg/s (p50, p99; one proxy hop each way)
 *
 *   --messages n   per produce/consume run (default 20000)
 *   --size n       record bytes (default 1024)
 *   --rate n       latency rate, msg/s (default 200), --latency-messages n (default 1000)
 *   --repeats n    rounds (default 2); medians are reported
 *   --virtual-brokers n   KAFSCALE_PROXY_VIRTUAL_BROKERS for the proxy (default 3, as deploy/kubernetes runs it;
 *                  1 = the proxy's own default, one broker)
 *   --json         print the result document instead of the table
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster } from '../test/helpers/cluster.ts';
import { WireClient } from '../test/helpers/wire-client.ts';
import { startProxy } from '../test/proxy/proxy-process.ts';
import { openNativeClient } from './native-client.ts';

const PARTITIONS = 6;
const TIMEOUT_MS = 180_000;
const ROUND_TRIPS = 2_000;
/** Records produced and consumed once through each path before the measured rounds. */
const WARMUP_MESSAGES = 50_000;
/** KAFSCALE_PROXY_VIRTUAL_BROKERS in deploy/kubernetes/brokers/proxy-deployment.yaml. */
const DEPLOYED_VIRTUAL_BROKERS = 3;

/** `count` sequential ListOffsets(latest) requests for partition 0, each timed (ms). */
async function listOffsetsRoundTrips(bootstrap: string, topic: string, count: number): Promise<number[]> {
  const [host, port] = bootstrap.split(':');
  const client = await WireClient.connect(host ?? '127.0.0.1', Number(port), 'kafscale-bench-proxy');
  const times: number[] = [];
  try {
    const body = { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] };
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const answer = await client.send(2, 7, body);
      times.push(performance.now() - started);
      if (answer.topics[0]?.partitions[0]?.errorCode !== 0) throw new Error(`ListOffsets ${topic}/0 answered error ${answer.topics[0]?.partitions[0]?.errorCode}`);
    }
  } finally {
    client.close();
  }
  return times;
}

interface Row {
  /** Sequential ListOffsets round trips (one partition, one connection): the proxy's own added time. */
  readonly roundTripP50Ms: number[];
  readonly roundTripP99Ms: number[];
  readonly produceMbPerSec: number[];
  readonly consumeMbPerSec: number[];
  readonly latencyP50Ms: number[];
  readonly latencyP99Ms: number[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '20000' },
      size: { type: 'string', default: '1024' },
      rate: { type: 'string', default: '200' },
      'latency-messages': { type: 'string', default: '1000' },
      repeats: { type: 'string', default: '2' },
      'virtual-brokers': { type: 'string', default: String(DEPLOYED_VIRTUAL_BROKERS) },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const messages = Number(values.messages);
  const sizeBytes = Number(values.size);
  const rate = Number(values.rate);
  const latencyMessages = Number(values['latency-messages']);
  const repeats = Number(values.repeats);
  const virtualBrokers = Number(values['virtual-brokers']);
  if (!Number.isInteger(virtualBrokers) || virtualBrokers < 1) throw new Error(`--virtual-brokers must be a positive integer, got ${values['virtual-brokers']}`);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-bench-proxy-'));
  const client = await openNativeClient(workDir, log);
  const cluster = await startCluster({ brokers: 3, sessionTtlMs: 5_000 });
  const startedAt = new Date().toISOString();
  const rows: Record<'direct' | 'proxy', Row> = {
    direct: { roundTripP50Ms: [], roundTripP99Ms: [], produceMbPerSec: [], consumeMbPerSec: [], latencyP50Ms: [], latencyP99Ms: [] },
    proxy: { roundTripP50Ms: [], roundTripP99Ms: [], produceMbPerSec: [], consumeMbPerSec: [], latencyP50Ms: [], latencyP99Ms: [] },
  };
  try {
    const proxy = await startProxy({ bootstrap: cluster.bootstrap, virtualBrokers });
    try {
      const bootstraps = { direct: cluster.bootstrap, proxy: proxy.bootstrap };
      // Warm-up, not measured: a fresh proxy's first consume ran at a third of its later rounds (JIT,
      // first connections to every broker), which a long-running proxy never pays again.
      for (const path of ['direct', 'proxy'] as const) {
        const topic = `bench-warmup-${path}`;
        await cluster.createTopic(topic, PARTITIONS);
        await cluster.waitForLeaders(topic, PARTITIONS, 20_000);
        await client.produce(bootstraps[path], topic, WARMUP_MESSAGES, sizeBytes, TIMEOUT_MS);
        await client.consume(bootstraps[path], topic, PARTITIONS, WARMUP_MESSAGES, TIMEOUT_MS);
      }
      for (let round = 0; round < repeats; round++) {
        const order: Array<'direct' | 'proxy'> = round % 2 === 0 ? ['direct', 'proxy'] : ['proxy', 'direct'];
        for (const path of order) {
          const topic = `bench-${path}-${round}`;
          await cluster.createTopic(topic, PARTITIONS);
          await cluster.waitForLeaders(topic, PARTITIONS, 20_000);
          const produced = await client.produce(bootstraps[path], topic, messages, sizeBytes, TIMEOUT_MS);
          const consumed = await client.consume(bootstraps[path], topic, PARTITIONS, messages, TIMEOUT_MS);
          const row = rows[path];
          const owner = (await cluster.metadata(topic)).partitions[0]?.leaderId ?? 0;
          const ownerBroker = cluster.brokers[owner];
          const roundTrips = await listOffsetsRoundTrips(path === 'direct' && ownerBroker !== undefined ? ownerBroker.bootstrap : proxy.bootstrap, topic, ROUND_TRIPS);
          row.roundTripP50Ms.push(percentile(roundTrips, 0.5));
          row.roundTripP99Ms.push(percentile(roundTrips, 0.99));
          row.produceMbPerSec.push(produced.bytes / 1e6 / produced.seconds);
          row.consumeMbPerSec.push(consumed.bytes / 1e6 / consumed.seconds);
          let line = `round ${round + 1} ${path}: round trip p50 ${percentile(roundTrips, 0.5).toFixed(3)} ms, produce ${(produced.bytes / 1e6 / produced.seconds).toFixed(2)} MB/s, consume ${(consumed.bytes / 1e6 / consumed.seconds).toFixed(2)} MB/s`;
          if (client.latency !== null) {
            const latencyTopic = `bench-latency-${path}-${round}`;
            await cluster.createTopic(latencyTopic, 1);
            await cluster.waitForLeaders(latencyTopic, 1, 20_000);
            const micros = (await client.latency(bootstraps[path], latencyTopic, 1, latencyMessages, sizeBytes, rate, TIMEOUT_MS)).endToEndUs;
            row.latencyP50Ms.push(percentile(micros, 0.5) / 1000);
            row.latencyP99Ms.push(percentile(micros, 0.99) / 1000);
            line += `, latency p50 ${(percentile(micros, 0.5) / 1000).toFixed(2)} ms p99 ${(percentile(micros, 0.99) / 1000).toFixed(2)} ms`;
          }
          log(line);
        }
      }
    } finally {
      await proxy.stop();
    }
  } finally {
    await cluster.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const summary = (row: Row) => ({
    roundTripP50Ms: median(row.roundTripP50Ms),
    roundTripP99Ms: median(row.roundTripP99Ms),
    produceMbPerSec: median(row.produceMbPerSec),
    consumeMbPerSec: median(row.consumeMbPerSec),
    latencyP50Ms: median(row.latencyP50Ms),
    latencyP99Ms: median(row.latencyP99Ms),
  });
  const direct = summary(rows.direct);
  const viaProxy = summary(rows.proxy);
  const report = {
    startedAt,
    client: client.name,
    messages,
    sizeBytes,
    partitions: PARTITIONS,
    virtualBrokers,
    latency: { ratePerSec: rate, messages: latencyMessages },
    repeats,
    direct,
    proxy: viaProxy,
    produceRatio: viaProxy.produceMbPerSec / direct.produceMbPerSec,
    consumeRatio: viaProxy.consumeMbPerSec / direct.consumeMbPerSec,
    addedP50Ms: viaProxy.latencyP50Ms - direct.latencyP50Ms,
    addedRoundTripP50Ms: viaProxy.roundTripP50Ms - direct.roundTripP50Ms,
    runs: rows,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  const f = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  console.log(`proxy bench ${startedAt}: ${client.name}, ${messages} x ${sizeBytes} B over ${PARTITIONS} partitions, 3 brokers (etcd + s3rver), proxy with ${virtualBrokers} virtual broker${virtualBrokers === 1 ? '' : 's'}, median of ${repeats}`);
  console.log('path   | request p50 ms | request p99 ms | produce MB/s | consume MB/s | e2e p50 ms | e2e p99 ms');
  for (const [name, r] of [['direct', direct], ['proxy ', viaProxy]] as const) {
    console.log(`${name} | ${f(r.roundTripP50Ms, 3)} | ${f(r.roundTripP99Ms, 3)} | ${f(r.produceMbPerSec)} | ${f(r.consumeMbPerSec)} | ${f(r.latencyP50Ms)} | ${f(r.latencyP99Ms)}`);
  }
  console.log(`proxy/direct: produce ${f(report.produceRatio)}x, consume ${f(report.consumeRatio)}x (target >= 0.7x); added p50: request ${f(report.addedRoundTripP50Ms, 3)} ms, end to end ${f(report.addedP50Ms)} ms (target <= 2 ms)`);
  return 0;
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`bench:proxy failed: ${(error as Error).stack ?? String(error)}`);
  return 1;
});
