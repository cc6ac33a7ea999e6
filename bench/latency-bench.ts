/**
 * `npm run bench:latency [-- --rounds N] [--messages N] [--rate N] [--backlog-mb N] [--profile NAME] [--s3] [--json]`:
 * end-to-end latency (1 KiB, 1 partition, acks=all) side by side, in one run, for
 *
 *   - segment merging on (the default) and off (merge thresholds out of reach), each on its own broker;
 *   - the bench's tuned client (kbench: linger.ms 5, fetch.wait.max.ms 100) and a client on librdkafka's
 *     defaults (fetch.wait.max.ms 500, fetch.message.max.bytes 1 MiB, queue.buffering.max.messages
 *     100,000; linger.ms 5 and fetch.min.bytes 1 are the defaults already).
 *
 * Before every measurement the broker takes a backlog (`--backlog-mb` of 1 KiB messages over 6 partitions
 * of a fresh topic, at full speed), so that with merging on the merger rewrites that backlog into
 * segments while the latency is measured: the question is whether background merge I/O sits in
 * front of a producer's flush. Both brokers get the same backlog; only the merging differs. Rounds
 * alternate the brokers and the clients, and each figure is the median over rounds.
 *
 * Two things keep each measurement to its own broker's work:
 *   - The merging broker merges a partition once its oldest WAL entry is 1 s old (the default is 60 s). A
 *     backlog at full speed is a few large flushes per partition, under the entry threshold, so at the
 *     default age its merges ran a minute later: in a later measurement, as often the other broker's.
 *   - Before a measurement starts, the other broker must be quiet: no object-store call for a second
 *     (merges, and collecting what they replaced), waited for at most `QUIET_MAX_WAIT_MS`. Both brokers
 *     share the machine's two cores and disk.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOwnedTarget, type BenchTarget } from './bench-target.ts';
import { createTopics } from './bench-topics.ts';
import { HdrHistogram } from './hdr-histogram.ts';
import { openNativeClient, type LatencySeries, type NativeClient } from './native-client.ts';
import { samplesNamed, sumSamples, type MetricFamily } from './prometheus-text.ts';

const SIZE_BYTES = 1024;
const BACKLOG_PARTITIONS = 6;
const MERGE_OFF_ENV = { KAFSCALE_MERGE_MAX_WAL_ENTRIES: '10000', KAFSCALE_MERGE_MAX_WAL_AGE_MS: '86400000' } as const;
/** Merging on: the backlog's merges start in the first merge pass of its own measurement (see above). */
const MERGE_SOON_ENV = { KAFSCALE_MERGE_MAX_WAL_AGE_MS: '1000' } as const;
const QUIET_WINDOW_MS = 1_000;
const QUIET_MAX_WAIT_MS = 30_000;
/** librdkafka's defaults where kbench's tuned settings differ from them (CONFIGURATION.md, 2.0.2). */
const LIBRDKAFKA_DEFAULTS = ['fetch.wait.max.ms=500', 'fetch.message.max.bytes=1048576', 'queue.buffering.max.messages=100000'];

type Merging = 'on' | 'off';
type ClientKind = 'tuned' | 'librdkafka-defaults';

interface Sample {
  readonly merging: Merging;
  readonly client: ClientKind;
  readonly round: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Send to the producer's acknowledgement (acks=all), per record: the produce half of the round trip. */
  readonly ack: { readonly p50Ms: number; readonly p99Ms: number; readonly p999Ms: number };
  /** Object-store PUTs during the measurement (WAL flushes plus, with merging on, segments). */
  readonly puts: number;
  /** The broker's own flush time (PUT + commit) at p50/p99: the upper bound of the histogram bucket. */
  readonly flushP50Ms: number;
  readonly flushP99Ms: number;
  /** Produce requests, arrival to response written (includes the flush): bucket upper bounds. */
  readonly produceP50Ms: number;
  readonly produceP99Ms: number;
  /** The flush's parts (bucket upper bounds) and the broker's event-loop lag over the measurement. */
  readonly stages: {
    readonly put: { readonly p50Ms: number; readonly p99Ms: number };
    readonly commit: { readonly p50Ms: number; readonly p99Ms: number };
    readonly eventLoopLagP99Ms: number;
    readonly eventLoopLagMaxMs: number;
  };
  /** The broker's garbage collections during the measurement: mark-compacts, and the main thread's GC time (all kinds). */
  readonly gc: { readonly markCompacts: number; readonly pauseMs: number };
  /** How long the measurement waited for the other broker to go quiet, and whether it did. */
  readonly otherQuiet: { readonly waitedMs: number; readonly quiet: boolean };
}

interface Options {
  readonly rounds: number;
  readonly messages: number;
  readonly rate: number;
  readonly backlogMb: number;
  readonly s3: boolean;
  readonly json: boolean;
  /** KAFSCALE_FLUSH_PROFILE of both brokers (null: the broker's default). */
  readonly profile: string | null;
}

const log = (line: string): void => {
  console.error(line);
};

async function scrape(target: BenchTarget): Promise<Map<string, MetricFamily>> {
  return (await target.scrapeMetrics()) ?? new Map();
}

/** Cumulative bucket counts of a histogram by upper bound (seconds). */
function buckets(families: ReadonlyMap<string, MetricFamily>, name: string, match: Readonly<Record<string, string>> = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const sample of samplesNamed(families, `${name}_bucket`)) {
    if (!Object.entries(match).every(([label, value]) => sample.labels[label] === value)) continue;
    const le = sample.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels['le']);
    out.set(le, (out.get(le) ?? 0) + sample.value);
  }
  return out;
}

/** The upper bound (ms) of the bucket holding quantile q of the observations between two scrapes. */
function bucketQuantileMs(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return Number.NaN;
  for (const le of bounds) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= q * total) return le * 1000;
  return Number.POSITIVE_INFINITY;
}

async function awaitOwned(target: BenchTarget, count: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const families = await target.scrapeMetrics();
    if (families !== null && sumSamples(families, 'kafscale_partitions_owned') >= count) return;
    if (performance.now() > deadline) throw new Error(`the broker does not own ${count} partitions after 60 s`);
    await sleep(100);
  }
}

/** Object-store calls the broker has made so far, of every operation and outcome. */
async function objectStoreCalls(target: BenchTarget): Promise<number> {
  return sumSamples(await scrape(target), 'kafscale_object_store_requests_total');
}

/** Waits until `target` has made no object-store call for QUIET_WINDOW_MS; returns the ms waited (capped). */
async function awaitQuiet(target: BenchTarget): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  let calls = await objectStoreCalls(target);
  let since = performance.now();
  while (performance.now() - started < QUIET_MAX_WAIT_MS) {
    await sleep(250);
    const now = await objectStoreCalls(target);
    if (now !== calls) {
      calls = now;
      since = performance.now();
    } else if (performance.now() - since >= QUIET_WINDOW_MS) {
      return { waitedMs: Math.round(performance.now() - started), quiet: true };
    }
  }
  return { waitedMs: Math.round(performance.now() - started), quiet: false };
}

async function measure(client: NativeClient, target: BenchTarget, other: BenchTarget, merging: Merging, kind: ClientKind, round: number, options: Options, state: { owned: number }, configFile: string): Promise<Sample> {
  const latencyOf = client.latency;
  if (latencyOf === null) throw new Error('end-to-end latency needs the C client (apt-get install librdkafka-dev gcc)');
  const id = `${merging}-${kind}-${round}-${Math.random().toString(36).slice(2, 6)}`;
  const backlog = `lat-backlog-${id}`;
  const topic = `lat-${id}`;
  await createTopics(target, [backlog], BACKLOG_PARTITIONS, { clientId: 'kafscale-bench-latency' });
  await createTopics(target, [topic], 1, { clientId: 'kafscale-bench-latency' });
  state.owned += BACKLOG_PARTITIONS + 1;
  await awaitOwned(target, state.owned);
  const backlogMessages = Math.round((options.backlogMb * 1e6) / SIZE_BYTES);
  const otherQuiet = await awaitQuiet(other);
  if (!otherQuiet.quiet) log(`bench:latency: the other broker was still calling its object store after ${QUIET_MAX_WAIT_MS} ms; measuring anyway`);
  if (backlogMessages > 0) await client.produce(target.bootstrap, backlog, backlogMessages, SIZE_BYTES, 300_000);
  if (kind === 'librdkafka-defaults') process.env['KBENCH_CONFIG'] = configFile;
  const before = await scrape(target);
  let series: LatencySeries;
  try {
    series = await latencyOf(target.bootstrap, topic, 1, options.messages, SIZE_BYTES, options.rate, Math.ceil((options.messages / options.rate) * 1000) + 60_000);
  } finally {
    delete process.env['KBENCH_CONFIG'];
  }
  const after = await scrape(target);
  const puts = sumSamples(after, 'kafscale_object_store_requests_total', { operation: 'put' }) - sumSamples(before, 'kafscale_object_store_requests_total', { operation: 'put' });
  const flushBefore = buckets(before, 'kafscale_flush_duration_seconds');
  const flushAfter = buckets(after, 'kafscale_flush_duration_seconds');
  const produceBefore = buckets(before, 'kafscale_request_duration_seconds', { api_key: '0' });
  const produceAfter = buckets(after, 'kafscale_request_duration_seconds', { api_key: '0' });
  const stage = (name: string, match: Readonly<Record<string, string>>): { p50Ms: number; p99Ms: number } => {
    const b = buckets(before, name, match);
    const a = buckets(after, name, match);
    return { p50Ms: bucketQuantileMs(b, a, 0.5), p99Ms: bucketQuantileMs(b, a, 0.99) };
  };
  // Where a flush's time goes: the object PUT and the metadata commit, and how late the event loop ran.
  const stages = {
    put: stage('kafscale_object_store_request_duration_seconds', { operation: 'put' }),
    commit: stage('kafscale_metadata_store_request_duration_seconds', { operation: 'txn' }),
    eventLoopLagP99Ms: sumSamples(after, 'kafscale_nodejs_eventloop_lag_p99_seconds') * 1000,
    eventLoopLagMaxMs: sumSamples(after, 'kafscale_nodejs_eventloop_lag_max_seconds') * 1000,
  };
  const gcDelta = (suffix: 'count' | 'sum', match: Readonly<Record<string, string>> = {}): number =>
    sumSamples(after, `kafscale_nodejs_gc_duration_seconds_${suffix}`, match) - sumSamples(before, `kafscale_nodejs_gc_duration_seconds_${suffix}`, match);
  const gc = { markCompacts: gcDelta('count', { kind: 'major' }), pauseMs: Math.round(gcDelta('sum') * 10_000) / 10 };
  const samples = series.endToEndUs;
  const histogram = HdrHistogram.of(samples);
  const ms = (percentile: number): number => histogram.valueAtPercentile(percentile) / 1000;
  const acks = HdrHistogram.of(series.ackUs);
  const ackMs = (percentile: number): number => acks.valueAtPercentile(percentile) / 1000;
  const ack = { p50Ms: ackMs(50), p99Ms: ackMs(99), p999Ms: ackMs(99.9) };
  const sample = { merging, client: kind, round, p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: Math.max(...samples) / 1000, ack, puts, flushP50Ms: bucketQuantileMs(flushBefore, flushAfter, 0.5), flushP99Ms: bucketQuantileMs(flushBefore, flushAfter, 0.99),
    produceP50Ms: bucketQuantileMs(produceBefore, produceAfter, 0.5), produceP99Ms: bucketQuantileMs(produceBefore, produceAfter, 0.99), stages, gc, otherQuiet };
  log(`bench:latency: round ${round} merging ${merging}, ${kind}: p50 ${sample.p50Ms} p99 ${sample.p99Ms} p99.9 ${sample.p999Ms} max ${sample.maxMs.toFixed(1)} ms, acknowledged p50 ${ack.p50Ms} p99 ${ack.p99Ms} p99.9 ${ack.p999Ms} ms, ${puts} PUTs, broker flush p50 ≤ ${sample.flushP50Ms} p99 ≤ ${sample.flushP99Ms} ms, produce request p50 ≤ ${sample.produceP50Ms} p99 ≤ ${sample.produceP99Ms} ms; PUT p50 ≤ ${stages.put.p50Ms} p99 ≤ ${stages.put.p99Ms}, commit p50 ≤ ${stages.commit.p50Ms} p99 ≤ ${stages.commit.p99Ms}, event-loop lag p99 ${stages.eventLoopLagP99Ms.toFixed(1)} max ${stages.eventLoopLagMaxMs.toFixed(1)} ms; ${gc.markCompacts} mark-compacts, ${gc.pauseMs} ms in GC; waited ${otherQuiet.waitedMs} ms for the other broker to go quiet${otherQuiet.quiet ? '' : ' (it did not)'}`);
  return sample;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(samples: readonly Sample[]): { merging: Merging; client: ClientKind; runs: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; ackP99Ms: number; ackP999Ms: number; puts: number; flushP99Ms: number; markCompacts: number }[] {
  const rows = [];
  for (const client of ['tuned', 'librdkafka-defaults'] as const) {
    for (const merging of ['on', 'off'] as const) {
      const mine = samples.filter((s) => s.client === client && s.merging === merging);
      if (mine.length === 0) continue;
      const pick = (f: (s: Sample) => number): number => Math.round(median(mine.map(f)) * 100) / 100;
      rows.push({ merging, client, runs: mine.length, p50Ms: pick((s) => s.p50Ms), p99Ms: pick((s) => s.p99Ms), p999Ms: pick((s) => s.p999Ms), maxMs: pick((s) => s.maxMs), ackP99Ms: pick((s) => s.ack.p99Ms), ackP999Ms: pick((s) => s.ack.p999Ms), puts: pick((s) => s.puts), flushP99Ms: pick((s) => s.flushP99Ms), markCompacts: pick((s) => s.gc.markCompacts) });
    }
  }
  return rows;
}

async function run(options: Options): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-bench-latency-'));
  const configFile = join(workDir, 'librdkafka-defaults.properties');
  writeFileSync(configFile, `${LIBRDKAFKA_DEFAULTS.join('\n')}\n`);
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0];
  const client = await openNativeClient(workDir, log, false);
  const brokers = new Map<Merging, BenchTarget>();
  const owned = new Map<Merging, { owned: number }>([['on', { owned: 0 }], ['off', { owned: 0 }]]);
  const samples: Sample[] = [];
  try {
    const profileEnv = options.profile === null ? {} : { KAFSCALE_FLUSH_PROFILE: options.profile };
    brokers.set('on', await startOwnedTarget({ s3: options.s3, env: { ...profileEnv, ...MERGE_SOON_ENV } }));
    brokers.set('off', await startOwnedTarget({ s3: options.s3, env: { ...profileEnv, ...MERGE_OFF_ENV } }));
    for (let round = 1; round <= options.rounds; round++) {
      // Alternate which goes first, so that a drift in the machine's load hits both alike.
      const mergings: Merging[] = round % 2 === 1 ? ['on', 'off'] : ['off', 'on'];
      const kinds: ClientKind[] = round % 2 === 1 ? ['tuned', 'librdkafka-defaults'] : ['librdkafka-defaults', 'tuned'];
      for (const kind of kinds) {
        for (const merging of mergings) samples.push(await measure(client, brokers.get(merging)!, brokers.get(merging === 'on' ? 'off' : 'on')!, merging, kind, round, options, owned.get(merging)!, configFile));
      }
    }
  } finally {
    for (const target of brokers.values()) await target.close().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
  const rows = summarize(samples);
  const report = { startedAt, profile: options.profile ?? 'default', objectStore: options.s3 ? 's3' : 'filesystem', client: client.name, sizeBytes: SIZE_BYTES, rate: options.rate, messages: options.messages, backlogMb: options.backlogMb, loadAverage: [loadavg()[0], loadAtStart], rows, samples };
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`end-to-end latency, ${SIZE_BYTES} B × 1 partition, acks=all, ${options.rate} msg/s, ${options.messages} messages, after a ${options.backlogMb} MB backlog; medians of ${options.rounds} rounds (ms)`);
  console.log('| client | merging | p50 | p99 | p99.9 | max | acknowledged p99 | acknowledged p99.9 | PUTs | broker flush p99 ≤ | broker mark-compacts |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.client} | ${r.merging} | ${r.p50Ms} | ${r.p99Ms} | ${r.p999Ms} | ${r.maxMs} | ${r.ackP99Ms} | ${r.ackP999Ms} | ${r.puts} | ${r.flushP99Ms} | ${r.markCompacts} |`);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        rounds: { type: 'string', default: '3' },
        messages: { type: 'string', default: '8000' },
        rate: { type: 'string', default: '1000' },
        'backlog-mb': { type: 'string', default: '150' },
        s3: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        profile: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`bench:latency: ${(error as Error).message}`);
    return 2;
  }
  const number = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${text}`);
    return n;
  };
  try {
    await run({
      rounds: number('rounds', values.rounds, 1, 20),
      messages: number('messages', values.messages, 100, 100_000),
      rate: number('rate', values.rate, 1, 20_000),
      backlogMb: number('backlog-mb', values['backlog-mb'], 0, 2_000),
      s3: values.s3,
      json: values.json,
      profile: values.profile ?? null,
    });
    return 0;
  } catch (error) {
    console.error(`bench:latency: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

process.exitCode = await main();
