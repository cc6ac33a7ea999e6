/**
 * `npm run bench:cost [-- --s3] [--json] [--messages N] [--latency-messages N]` (also `npm run bench --
 * --flush-profiles`): the flush profiles (KAFSCALE_FLUSH_PROFILE, docs/design/flush-profiles.md) side by
 * side in one run. For each partition count (1, 6, 100) and each profile, a fresh broker (so that no other
 * row's merges fall into the window) takes a full-speed acks=all produce of 1 KiB messages with the C
 * client; the row records the object-store PUTs (kafscale_object_store_requests_total{operation="put"})
 * from the produce's start to a settle of one merge pass after it, the flushes (= WAL PUTs) and the
 * metadata-store writes (put, delete, txn) of the produce. Then one broker per profile measures end-to-end
 * latency at 1,000 msg/s on a fresh topic per partition count. Counts are bounded; every loop has a timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { FLUSH_PROFILE_NAMES, FLUSH_PROFILES, type FlushProfileName } from '../src/config/flush-profiles.ts';
import { MERGE_DEFAULTS } from '../src/services/log/segment-merger.ts';
import { startOwnedTarget, type BenchTarget } from './bench-target.ts';
import { createTopics } from './bench-topics.ts';
import { formatProfilesReport, type ProfileLatency, type ProfileRow, type ProfileSettings, type ProfilesReport } from './flush-profiles-report.ts';
import { HdrHistogram } from './hdr-histogram.ts';
import { openNativeClient, type NativeClient } from './native-client.ts';
import { sumSamples, type MetricFamily } from './prometheus-text.ts';

const SIZE_BYTES = 1024;
const PARTITIONS = [1, 6, 100] as const;
const RATE_PER_SEC = 1_000;
/** One merge pass (MERGE_DEFAULTS.intervalMs) and a little: what a row's data triggers shows up. */
const SETTLE_MS = MERGE_DEFAULTS.intervalMs + 1_500;
const PRODUCE_TIMEOUT_MS = 300_000;
const OWNERSHIP_TIMEOUT_MS = 60_000;

export const MERGE_CONSTANTS = { intervalMs: MERGE_DEFAULTS.intervalMs, maxSegmentBytes: MERGE_DEFAULTS.maxSegmentBytes } as const;

export interface ProfilesBenchOptions {
  readonly s3: boolean;
  /** Messages per produce row (1 KiB each). */
  readonly messages: number;
  /** Round trips per latency row; 0 skips latency. */
  readonly latencyMessages: number;
  readonly profiles: readonly FlushProfileName[];
  readonly partitions: readonly number[];
  readonly log: (line: string) => void;
}

export function profileSettings(name: FlushProfileName): ProfileSettings {
  const p = FLUSH_PROFILES[name];
  return { lingerMs: p.flushLingerMs, maxBytes: p.flushMaxBytes, maxInflight: p.flushMaxInflight, mergeMaxWalEntries: p.mergeMaxWalEntries, mergeMaxWalAgeMs: p.mergeMaxWalAgeMs };
}

async function createTopic(target: BenchTarget, name: string, partitions: number): Promise<void> {
  await createTopics(target, [name], partitions, { clientId: 'kafscale-bench-cost' });
}

async function scrape(target: BenchTarget): Promise<Map<string, MetricFamily>> {
  const families = await target.scrapeMetrics();
  if (families === null) throw new Error('the broker the bench started has no ops address to scrape');
  return families;
}

interface Counts {
  readonly puts: number;
  readonly flushes: number;
  readonly metadataWrites: number;
}

function countsOf(families: ReadonlyMap<string, MetricFamily>): Counts {
  const meta = (operation: string): number => sumSamples(families, 'kafscale_metadata_store_requests_total', { operation });
  return {
    puts: sumSamples(families, 'kafscale_object_store_requests_total', { operation: 'put' }),
    flushes: sumSamples(families, 'kafscale_flushes_total'),
    metadataWrites: meta('put') + meta('delete') + meta('txn'),
  };
}

/** Waits until the broker owns `count` partitions, so acquisition writes are not counted as the produce's. */
async function awaitOwned(target: BenchTarget, count: number): Promise<void> {
  const deadline = performance.now() + OWNERSHIP_TIMEOUT_MS;
  for (;;) {
    const owned = sumSamples(await scrape(target), 'kafscale_partitions_owned');
    if (owned >= count) return;
    if (performance.now() > deadline) throw new Error(`the broker owns ${owned} of ${count} partitions after ${OWNERSHIP_TIMEOUT_MS} ms`);
    await sleep(200);
  }
}

async function produceRow(client: NativeClient, profile: FlushProfileName, partitions: number, options: ProfilesBenchOptions, runId: string): Promise<ProfileRow> {
  const target = await startOwnedTarget({ s3: options.s3, env: { KAFSCALE_FLUSH_PROFILE: profile } });
  try {
    const topic = `cost-${runId}-${profile}-p${partitions}`;
    await createTopic(target, topic, partitions);
    await awaitOwned(target, partitions);
    const before = countsOf(await scrape(target));
    const result = await client.produce(target.bootstrap, topic, options.messages, SIZE_BYTES, PRODUCE_TIMEOUT_MS);
    const produced = countsOf(await scrape(target));
    await sleep(SETTLE_MS);
    const settled = countsOf(await scrape(target));
    const row: ProfileRow = {
      profile,
      partitions,
      sizeBytes: SIZE_BYTES,
      messages: result.count,
      seconds: result.seconds,
      bytes: result.count * SIZE_BYTES,
      flushes: produced.flushes - before.flushes,
      puts: settled.puts - before.puts,
      metadataWrites: produced.metadataWrites - before.metadataWrites,
    };
    options.log(`bench:cost: ${profile} × ${partitions}p: ${(row.bytes / row.seconds / 1e6).toFixed(1)} MB/s, ${row.flushes} flushes, ${row.puts} PUTs (${produced.puts - before.puts} during the produce)`);
    return row;
  } finally {
    await target.close();
  }
}

async function latencyRows(client: NativeClient, profile: FlushProfileName, options: ProfilesBenchOptions, runId: string): Promise<ProfileLatency[]> {
  const latencyOf = client.latency;
  if (latencyOf === null) {
    options.log('bench:cost: end-to-end latency needs the C client (apt-get install librdkafka-dev gcc); skipped');
    return [];
  }
  const target = await startOwnedTarget({ s3: options.s3, env: { KAFSCALE_FLUSH_PROFILE: profile } });
  const rows: ProfileLatency[] = [];
  try {
    let owned = 0;
    for (const partitions of options.partitions) {
      const topic = `cost-${runId}-${profile}-lat-p${partitions}`;
      await createTopic(target, topic, partitions);
      owned += partitions;
      await awaitOwned(target, owned);
      const messages = options.latencyMessages;
      const timeoutMs = Math.ceil((messages / RATE_PER_SEC) * 1000) + 60_000;
      const samples = (await latencyOf(target.bootstrap, topic, partitions, messages, SIZE_BYTES, RATE_PER_SEC, timeoutMs)).endToEndUs;
      const histogram = HdrHistogram.of(samples);
      const ms = (percentile: number): number => histogram.valueAtPercentile(percentile) / 1000;
      rows.push({ profile, partitions, ratePerSec: RATE_PER_SEC, messages, p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9) });
      options.log(`bench:cost: ${profile} × ${partitions}p latency at ${RATE_PER_SEC} msg/s: p50 ${ms(50)} ms, p99 ${ms(99)} ms`);
    }
  } finally {
    await target.close();
  }
  return rows;
}

function gitCommit(): string | null {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const result = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8', timeout: 5_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

export async function runProfilesBench(options: ProfilesBenchOptions): Promise<ProfilesReport> {
  const startedAt = new Date().toISOString();
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-bench-cost-'));
  const runId = Math.random().toString(36).slice(2, 8);
  const loadAtStart = [loadavg()[0] ?? Number.NaN];
  try {
    const client = await openNativeClient(workDir, options.log, false);
    const rows: ProfileRow[] = [];
    // Profiles alternate within each partition count, so that a change in the machine's load hits all alike.
    for (const partitions of options.partitions) {
      for (const profile of options.profiles) rows.push(await produceRow(client, profile, partitions, options, runId));
    }
    const latency: ProfileLatency[] = [];
    if (options.latencyMessages > 0) {
      for (const profile of options.profiles) latency.push(...(await latencyRows(client, profile, options, runId)));
    }
    const loadAverage = [loadavg()[0] ?? Number.NaN, ...loadAtStart] as const;
    return {
      startedAt,
      objectStore: options.s3 ? 's3' : 'filesystem',
      client: client.name,
      commit: gitCommit(),
      settleMs: SETTLE_MS,
      loadAverage: { start: loadAverage[1] ?? Number.NaN, end: loadAverage[0] },
      profiles: Object.fromEntries(options.profiles.map((name) => [name, profileSettings(name)])),
      rows,
      latency,
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

const USAGE = `usage: npm run bench:cost -- [--s3] [--json] [--messages N] [--latency-messages N] [--profiles a,b]

  --s3                  brokers store objects in a local S3 server (s3rver) instead of files
  --json                print the result document (JSON) instead of the table
  --messages N          1 KiB messages per produce row (default 150000, about 150 MB)
  --latency-messages N  round trips per latency row at 1,000 msg/s (default 5000; 0 skips latency)
  --partitions a,b      partition counts (default: ${PARTITIONS.join(',')})
  --profiles a,b        the profiles to compare (default: ${FLUSH_PROFILE_NAMES.join(',')})`;

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        s3: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        messages: { type: 'string', default: '150000' },
        'latency-messages': { type: 'string', default: '5000' },
        profiles: { type: 'string', default: FLUSH_PROFILE_NAMES.join(',') },
        partitions: { type: 'string', default: PARTITIONS.join(',') },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`bench:cost: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const messages = Number(values.messages);
  const latencyMessages = Number(values['latency-messages']);
  const profiles = values.profiles.split(',').map((p) => p.trim());
  const partitions = values.partitions.split(',').map(Number);
  if (partitions.length === 0 || partitions.some((n) => !Number.isInteger(n) || n < 1 || n > 1_000)) {
    console.error(`bench:cost: --partitions takes counts from 1 to 1000 (got ${values.partitions})`);
    return 2;
  }
  if (!Number.isInteger(messages) || messages < 1 || messages > 2_000_000 || !Number.isInteger(latencyMessages) || latencyMessages < 0 || latencyMessages > 600_000) {
    console.error(`bench:cost: --messages takes 1-2000000 and --latency-messages 0-600000\n${USAGE}`);
    return 2;
  }
  const unknown = profiles.filter((p) => !(FLUSH_PROFILE_NAMES as readonly string[]).includes(p));
  if (unknown.length > 0 || profiles.length === 0) {
    console.error(`bench:cost: --profiles takes ${FLUSH_PROFILE_NAMES.join(', ')} (got ${unknown.join(', ') || 'none'})`);
    return 2;
  }
  try {
    const report = await runProfilesBench({ s3: values.s3, messages, latencyMessages, profiles: profiles as FlushProfileName[], partitions, log: (line) => console.error(line) });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatProfilesReport(report, MERGE_CONSTANTS));
    return 0;
  } catch (error) {
    console.error(`bench:cost: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
