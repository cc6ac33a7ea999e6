/**
 * Cold consume only, side by side (docs/benchmarks.md, "Cold reads from S3, wave 2"):
 *
 *   npm run bench:cold-read -- --s3 [--base DIR] [--rounds N] [--messages N] [--merged] [--json FILE]
 *
 * (--build NAME=DIR adds more builds.) Produces MESSAGES × 1 KiB to one 6-partition topic once (kbench, this tree's broker), then per round
 * starts a broker on that same data — this tree's, and with --base the build checked out in DIR, in
 * alternating order — and times one consume from the beginning with kbench: every byte comes from the
 * object store (a fresh process has no tail and no cache). Both builds read exactly the same objects, so
 * the layout the producer's flushes left (WAL entries of 1–8 MB) does not move one build's figure against
 * the other's. Merging is off unless --merged (then the harness waits for the merger first, and the reads
 * are of segments). Reports per build the MB/s of every round, the median, GETs and broker CPU-seconds per
 * cold read (/proc).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { BrokerProcess, StartBrokerOptions } from '../test/helpers/broker-process.ts';
import { brokerS3Env, startS3Server, type S3TestServer } from '../test/helpers/s3-server.ts';
import { createTopics } from './bench-topics.ts';
import { openNativeClient } from './native-client.ts';
import { parsePrometheusText } from './prometheus-text.ts';

const SIZE_BYTES = 1024;
const PARTITIONS = 6;
const TIMEOUT_MS = 120_000;
const MERGE_OFF_ENV = { KAFSCALE_MERGE_MAX_WAL_ENTRIES: '10000', KAFSCALE_MERGE_MAX_WAL_AGE_MS: '86400000' } as const;
const MERGE_SOON_ENV = { KAFSCALE_MERGE_MAX_WAL_ENTRIES: '4', KAFSCALE_MERGE_MAX_WAL_AGE_MS: '1000' } as const;
const CLOCK_TICKS_PER_SEC = 100;

interface Build {
  readonly name: string;
  readonly startBroker: (options: StartBrokerOptions) => Promise<BrokerProcess>;
}

interface Sample {
  readonly mbPerSec: number;
  readonly gets: number | null;
  readonly cpuSeconds: number | null;
}

const { values } = parseArgs({
  options: {
    s3: { type: 'boolean', default: false },
    base: { type: 'string' },
    build: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '50000' },
    merged: { type: 'boolean', default: false },
    hot: { type: 'boolean', default: false },
    json: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    'settle-ms': { type: 'string', default: '1000' },
  },
});

function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC; // utime, stime
  } catch {
    return null;
  }
}

async function getCount(broker: BrokerProcess): Promise<number | null> {
  const response = await fetch(`http://${broker.host}:${broker.opsPort}/metrics`).catch(() => null);
  if (response === null || !response.ok) return null;
  const family = parsePrometheusText(await response.text()).get('kafscale_object_store_requests_total');
  if (family === undefined) return null;
  let total = 0;
  for (const sample of family.samples) if (sample.labels.operation === 'get') total += sample.value;
  return total;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function loadBuild(name: string, root: string): Promise<Build> {
  const module = (await import(join(resolve(root), 'test', 'helpers', 'broker-process.ts'))) as { startBroker: Build['startBroker'] };
  return { name, startBroker: module.startBroker };
}

async function main(): Promise<void> {
  const rounds = Number(values.rounds);
  const messages = Number(values.messages);
  const extraEnv: Record<string, string> = {};
  for (const pair of values.env) {
    const at = pair.indexOf('=');
    extraEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const builds: Build[] = [await loadBuild('new', '.')];
  for (const named of values.build) builds.unshift(await loadBuild(named.slice(0, named.indexOf('=')), named.slice(named.indexOf('=') + 1)));
  if (values.base !== undefined) builds.unshift(await loadBuild('base', values.base));
  const log = (line: string): void => console.error(line);
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-cold-read-'));
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir);
  const s3: S3TestServer | null = values.s3 ? await startS3Server() : null;
  const env = { ...(s3 === null ? {} : brokerS3Env(s3)), ...(values.merged ? MERGE_SOON_ENV : MERGE_OFF_ENV), ...extraEnv };
  const samples = new Map<string, Sample[]>(builds.map((b) => [b.name, []]));
  try {
    const client = await openNativeClient(workDir, log, false);
    const topic = 'cold-read';
    if (values.hot) {
      // Hot instead: each build produces its own topic and reads it back at once, `rounds` times.
      for (const build of builds) {
        const broker = await build.startBroker({ logLevel: 'warn', env });
        try {
          for (let round = 0; round < rounds; round++) {
            const name = `hot-${round}`;
            await createTopics(broker, [name], PARTITIONS, { clientId: 'kafscale-bench-cold-read' });
            await client.produce(broker.bootstrap, name, messages, SIZE_BYTES, TIMEOUT_MS);
            const result = await client.consume(broker.bootstrap, name, PARTITIONS, messages, TIMEOUT_MS);
            const mbPerSec = (result.count * SIZE_BYTES) / result.seconds / 1e6;
            samples.get(build.name)!.push({ mbPerSec, gets: null, cpuSeconds: null });
            log(`cold-read: hot ${round + 1} ${build.name}: ${mbPerSec.toFixed(1)} MB/s`);
          }
        } finally {
          await broker.stop();
        }
      }
    }
    const producer = await builds[builds.length - 1]!.startBroker({ dataDir, logLevel: 'warn', env });
    try {
      await createTopics(producer, [topic], PARTITIONS, { clientId: 'kafscale-bench-cold-read' });
      const produced = await client.produce(producer.bootstrap, topic, messages, SIZE_BYTES, TIMEOUT_MS);
      log(`cold-read: produced ${produced.count} × ${SIZE_BYTES} B × ${PARTITIONS}p in ${produced.seconds.toFixed(2)} s`);
      if (values.merged) await sleep(15_000); // merges of ≥ 4 WAL entries, each at least 1 s old
    } finally {
      await producer.stop();
    }
    for (let round = 0; round < (values.hot ? 0 : rounds); round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) {
        const broker = await build.startBroker({ dataDir, logLevel: 'warn', env });
        try {
          // The broker answers before its start-up work is over; let that finish outside the measurement.
          await sleep(Number(values['settle-ms']));
          const getsBefore = await getCount(broker);
          const cpuBefore = cpuSeconds(broker.pid);
          const result = await client.consume(broker.bootstrap, topic, PARTITIONS, messages, TIMEOUT_MS);
          const cpuAfter = cpuSeconds(broker.pid);
          const getsAfter = await getCount(broker);
          const sample: Sample = {
            mbPerSec: (result.bytes || result.count * SIZE_BYTES) / result.seconds / 1e6,
            gets: getsBefore === null || getsAfter === null ? null : getsAfter - getsBefore,
            cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
          };
          samples.get(build.name)!.push(sample);
          log(`cold-read: round ${round + 1} ${build.name}: ${sample.mbPerSec.toFixed(1)} MB/s, ${String(sample.gets)} GETs, broker ${sample.cpuSeconds?.toFixed(2)} CPU-s`);
        } finally {
          await broker.stop();
        }
      }
    }
  } finally {
    await s3?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const summary: Record<string, unknown> = {};
  for (const [name, list] of samples) {
    const mb = list.map((s) => s.mbPerSec);
    summary[name] = { mbPerSec: mb.map((x) => Math.round(x)), medianMbPerSec: Math.round(median(mb)), gets: list.map((s) => s.gets), cpuSeconds: list.map((s) => s.cpuSeconds) };
    console.log(`${name}: median ${median(mb).toFixed(1)} MB/s over ${list.length} (${mb.map((x) => x.toFixed(0)).join(', ')})`);
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ store: values.s3 ? 's3' : 'filesystem', merged: values.merged, messages, rounds, ...summary }, null, 2)}\n`);
}

await main();
