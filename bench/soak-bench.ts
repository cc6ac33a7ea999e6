/**
 * `npm run bench -- --soak MINUTES`: produce and consume at a fixed share of the measured maximum for
 * the given time, and report per minute the end-to-end latency percentiles, the broker's RSS and heap,
 * and its event-loop delay. Flat lines are the goal; growth over the run is listed as a finding.
 *
 * The maximum is measured first (acks=all produce, 1 KiB × 6 partitions). Each minute then runs the C
 * client's latency mode (one process producing at the fixed rate and consuming the same topic) on a
 * fresh topic, which is deleted after its minute so that the broker's state does not grow with the run.
 * The seconds between minutes (client start, topic create/delete, scrape) are not measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from './bench-report.ts';
import { startOwnedTarget, type BenchTarget } from './bench-target.ts';
import { createTopics, deleteTopics } from './bench-topics.ts';
import { HdrHistogram } from './hdr-histogram.ts';
import { openNativeClient, type NativeClient } from './native-client.ts';
import { samplesNamed, sumSamples } from './prometheus-text.ts';

export interface SoakOptions {
  readonly minutes: number;
  /** The share of the measured maximum produce rate to run at, in (0, 1]. */
  readonly share: number;
  /** A fixed rate (msg/s) instead of the share; the maximum is still measured and reported. */
  readonly ratePerSec?: number | null;
  readonly s3: boolean;
  readonly log: (line: string) => void;
}

export interface SoakMinute {
  readonly minute: number;
  readonly messages: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly rssBytes: number | null;
  readonly heapUsedBytes: number | null;
  /** The broker's event-loop delay since the previous scrape (prom-client resets it on each collect). */
  readonly eventLoopP99Ms: number | null;
  readonly eventLoopMaxMs: number | null;
}

export interface SoakReport {
  readonly startedAt: string;
  readonly client: string;
  readonly objectStore: 'filesystem' | 's3';
  readonly sizeBytes: number;
  readonly partitions: number;
  readonly maxMsgsPerSec: number;
  readonly share: number;
  readonly ratePerSec: number;
  readonly minutes: readonly SoakMinute[];
  readonly findings: readonly string[];
}

const SIZE_BYTES = 1024;
const PARTITIONS = 6;
const MAX_PROBE_MESSAGES = 100_000;
const MINUTE_MS = 60_000;
/** A minute's round trips must complete within its minute plus this much, or the run fails. */
const MINUTE_GRACE_MS = 60_000;

/** A later stretch counts as growth when it exceeds the first by this factor and this absolute amount. */
const GROWTH = { rssFactor: 1.1, rssBytes: 20 * 1024 * 1024, latencyFactor: 1.5, latencyMs: 2 } as const;

const CLIENT_ID = 'kafscale-soak';

async function createTopic(target: BenchTarget, name: string): Promise<void> {
  await createTopics(target, [name], PARTITIONS, { clientId: CLIENT_ID });
}

async function deleteTopic(target: BenchTarget, name: string): Promise<void> {
  await deleteTopics(target, [name], CLIENT_ID);
}

/** The broker's memory and event-loop figures from /metrics; nulls when a family is missing. */
async function brokerVitals(target: BenchTarget): Promise<Pick<SoakMinute, 'rssBytes' | 'heapUsedBytes' | 'eventLoopP99Ms' | 'eventLoopMaxMs'>> {
  const families = await target.scrapeMetrics().catch(() => null);
  const value = (name: string): number | null => {
    if (families === null || samplesNamed(families, name).length === 0) return null;
    return sumSamples(families, name);
  };
  const seconds = (name: string): number | null => {
    const v = value(name);
    return v === null ? null : v * 1000;
  };
  return {
    rssBytes: value('kafscale_process_resident_memory_bytes'),
    heapUsedBytes: value('kafscale_nodejs_heap_size_used_bytes'),
    eventLoopP99Ms: seconds('kafscale_nodejs_eventloop_lag_p99_seconds'),
    eventLoopMaxMs: seconds('kafscale_nodejs_eventloop_lag_max_seconds'),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Compares the last third of the run with the first third (medians, so that one noisy minute does not
 * make a finding). Needs at least three minutes.
 */
export function soakFindings(minutes: readonly SoakMinute[]): string[] {
  if (minutes.length < 3) return [];
  const third = Math.max(1, Math.floor(minutes.length / 3));
  const first = minutes.slice(0, third);
  const last = minutes.slice(-third);
  const findings: string[] = [];
  const compare = (label: string, pick: (m: SoakMinute) => number | null, factor: number, absolute: number, unit: (v: number) => string): void => {
    const a = first.map(pick).filter((v): v is number => v !== null);
    const b = last.map(pick).filter((v): v is number => v !== null);
    if (a.length === 0 || b.length === 0) return;
    const before = median(a);
    const after = median(b);
    if (after > before * factor && after - before > absolute) {
      findings.push(`${label} grew from ${unit(before)} (first ${third} min) to ${unit(after)} (last ${third} min)`);
    }
  };
  const mb = (v: number): string => `${(v / 1024 / 1024).toFixed(0)} MiB`;
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  compare('broker RSS', (m) => m.rssBytes, GROWTH.rssFactor, GROWTH.rssBytes, mb);
  compare('broker heap used', (m) => m.heapUsedBytes, GROWTH.rssFactor, GROWTH.rssBytes, mb);
  compare('latency p99', (m) => m.p99Ms, GROWTH.latencyFactor, GROWTH.latencyMs, ms);
  compare('event-loop delay p99', (m) => m.eventLoopP99Ms, GROWTH.latencyFactor, GROWTH.latencyMs, ms);
  return findings;
}

async function soakMinute(target: BenchTarget, client: NativeClient, minute: number, ratePerSec: number, runId: string): Promise<SoakMinute> {
  const latencyOf = client.latency;
  if (latencyOf === null) throw new Error('the soak needs the C client (apt-get install librdkafka-dev gcc); kcat cannot measure latency');
  const topic = `soak-${runId}-${minute}`;
  await createTopic(target, topic);
  try {
    const messages = Math.round((ratePerSec * MINUTE_MS) / 1000);
    const samples = (await latencyOf(target.bootstrap, topic, PARTITIONS, messages, SIZE_BYTES, ratePerSec, MINUTE_MS + MINUTE_GRACE_MS)).endToEndUs;
    const histogram = HdrHistogram.of(samples);
    const ms = (percentile: number): number => histogram.valueAtPercentile(percentile) / 1000;
    const vitals = await brokerVitals(target);
    return { minute, messages, p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: histogram.max / 1000, ...vitals };
  } finally {
    await deleteTopic(target, topic);
  }
}

export async function runSoakBench(options: SoakOptions): Promise<SoakReport> {
  const { log } = options;
  const startedAt = new Date().toISOString();
  const target = await startOwnedTarget({ s3: options.s3 });
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-soak-'));
  const runId = Math.random().toString(36).slice(2, 8);
  try {
    const client = await openNativeClient(workDir, log, false);
    const probe = `soak-${runId}-max`;
    await createTopic(target, probe);
    const max = await client.produce(target.bootstrap, probe, MAX_PROBE_MESSAGES, SIZE_BYTES, 120_000);
    await deleteTopic(target, probe);
    const maxMsgsPerSec = max.count / max.seconds;
    const ratePerSec = options.ratePerSec ?? Math.max(1, Math.round(maxMsgsPerSec * options.share));
    const share = ratePerSec / maxMsgsPerSec;
    log(`soak: maximum ${Math.round(maxMsgsPerSec)} msg/s; running ${options.minutes} min at ${ratePerSec} msg/s (${Math.round(share * 100)} %)`);
    await brokerVitals(target); // resets the event-loop histogram so that minute 1 starts clean
    const minutes: SoakMinute[] = [];
    for (let minute = 1; minute <= options.minutes; minute++) {
      const row = await soakMinute(target, client, minute, ratePerSec, runId);
      minutes.push(row);
      log(`soak: minute ${minute}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, RSS ${row.rssBytes === null ? '?' : Math.round(row.rssBytes / 1048576)} MiB, loop p99 ${row.eventLoopP99Ms?.toFixed(1) ?? '?'} ms`);
    }
    return {
      startedAt,
      client: client.name,
      objectStore: options.s3 ? 's3' : 'filesystem',
      sizeBytes: SIZE_BYTES,
      partitions: PARTITIONS,
      maxMsgsPerSec,
      share,
      ratePerSec,
      minutes,
      findings: soakFindings(minutes),
    };
  } finally {
    await target.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

export function formatSoakReport(report: SoakReport): string {
  const mib = (v: number | null): string => (v === null ? '?' : (v / 1024 / 1024).toFixed(0));
  const ms = (v: number | null): string => (v === null ? '?' : v.toFixed(1));
  const lines = [
    `kafscale soak: ${report.minutes.length} min at ${report.ratePerSec} msg/s = ${Math.round(report.share * 100)} % of the measured ${Math.round(report.maxMsgsPerSec)} msg/s`,
    `${report.sizeBytes} B × ${report.partitions} partitions, acks=all, ${report.objectStore} store, client ${report.client}`,
    '',
    formatTable(
      ['min', 'messages', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'RSS MiB', 'heap MiB', 'loop p99 ms', 'loop max ms'],
      report.minutes.map((m) => [String(m.minute), String(m.messages), ms(m.p50Ms), ms(m.p99Ms), ms(m.p999Ms), ms(m.maxMs), mib(m.rssBytes), mib(m.heapUsedBytes), ms(m.eventLoopP99Ms), ms(m.eventLoopMaxMs)]),
    ),
    '',
    report.findings.length === 0 ? 'findings: none (no growth between the first and the last third of the run)' : `findings:\n${report.findings.map((f) => `- ${f}`).join('\n')}`,
  ];
  return lines.join('\n');
}
