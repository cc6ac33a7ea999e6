/**
 * Hot re-reads across merges, side by side (docs/benchmarks.md, "Hot reads across merges"):
 *
 *   npm run bench:hot-reread -- [--s3] [--base DIR] [--rounds N] [--reads N] [--gap-ms N]
 *
 * Per round and build (this tree's, and with --base the build checked out in DIR, alternating order): a
 * fresh broker (default merge settings) gets 3 × 50,000 × 1 KiB on 6 partitions, then one kbench consumer
 * after another reads the first 50,000 records from the beginning, `reads` times, `gap-ms` apart. The
 * first read comes from the object store (the owner's 16 MiB tail holds the newest data only), later
 * reads from the range cache — until a merge replaces the entries they read, which is what this
 * measures: per read MB/s and the GETs it caused. Reports per build the MB/s of the first read, the median
 * and the minimum of the later ones, and the GETs after the first read.
 */
import { mkdtempSync } from 'node:fs';
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
const MESSAGES = 50_000;
const PRODUCE_ROUNDS = 3;
const TIMEOUT_MS = 120_000;

const { values } = parseArgs({
  options: {
    s3: { type: 'boolean', default: false },
    base: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    reads: { type: 'string', default: '12' },
    'gap-ms': { type: 'string', default: '500' },
  },
});

type StartBroker = (options: StartBrokerOptions) => Promise<BrokerProcess>;

async function loadBuild(root: string): Promise<StartBroker> {
  return ((await import(join(resolve(root), 'test', 'helpers', 'broker-process.ts'))) as { startBroker: StartBroker }).startBroker;
}

async function gets(broker: BrokerProcess): Promise<number> {
  const response = await fetch(`http://${broker.host}:${broker.opsPort}/metrics`);
  const family = parsePrometheusText(await response.text()).get('kafscale_object_store_requests_total');
  let total = 0;
  for (const sample of family?.samples ?? []) if (sample.labels.operation === 'get') total += sample.value;
  return total;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const rounds = Number(values.rounds);
  const reads = Number(values.reads);
  const gapMs = Number(values['gap-ms']);
  const builds: { name: string; start: StartBroker }[] = [{ name: 'new', start: await loadBuild('.') }];
  if (values.base !== undefined) builds.unshift({ name: 'base', start: await loadBuild(values.base) });
  const log = (line: string): void => console.error(line);
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-hot-reread-'));
  const s3: S3TestServer | null = values.s3 ? await startS3Server() : null;
  const results = new Map<string, { first: number[]; later: number[]; laterGets: number[] }>(builds.map((b) => [b.name, { first: [], later: [], laterGets: [] }]));
  try {
    const client = await openNativeClient(workDir, log, false);
    for (let round = 0; round < rounds; round++) {
      for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
        const broker = await build.start({ logLevel: 'warn', env: s3 === null ? {} : brokerS3Env(s3) });
        const result = results.get(build.name)!;
        try {
          const topic = `hot-${round}`;
          await createTopics(broker, [topic], PARTITIONS, { clientId: 'kafscale-bench-hot-reread' });
          for (let i = 0; i < PRODUCE_ROUNDS; i++) await client.produce(broker.bootstrap, topic, MESSAGES, SIZE_BYTES, TIMEOUT_MS);
          let getsAfterFirst = 0;
          const line: string[] = [];
          for (let read = 0; read < reads; read++) {
            const before = await gets(broker);
            const r = await client.consume(broker.bootstrap, topic, PARTITIONS, MESSAGES, TIMEOUT_MS);
            const readGets = (await gets(broker)) - before;
            const mbPerSec = (r.count * SIZE_BYTES) / r.seconds / 1e6;
            if (read === 0) result.first.push(mbPerSec);
            else {
              result.later.push(mbPerSec);
              getsAfterFirst += readGets;
            }
            line.push(`${mbPerSec.toFixed(0)}${readGets > 0 ? `(${readGets} GETs)` : ''}`);
            await sleep(gapMs);
          }
          result.laterGets.push(getsAfterFirst);
          log(`hot-reread: round ${round + 1} ${build.name}: MB/s per read ${line.join(' ')}`);
        } finally {
          await broker.stop();
        }
      }
    }
  } finally {
    await s3?.stop();
  }
  console.log(`hot re-reads of 50,000 × 1 KiB × 6p (${values.s3 ? 's3rver' : 'filesystem'}), ${reads} reads ${gapMs} ms apart, ${rounds} rounds`);
  console.log('| build | first read MB/s | later reads median MB/s | later reads min MB/s | GETs after the first read (per round) |');
  console.log('|---|---|---|---|---|');
  for (const [name, r] of results) {
    console.log(`| ${name} | ${median(r.first).toFixed(0)} | ${median(r.later).toFixed(0)} | ${Math.min(...r.later).toFixed(0)} | ${r.laterGets.join(', ')} |`);
  }
}

await main();
