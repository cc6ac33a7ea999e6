/**
 * The bench's result document (stored as bench/results/<date>.json with --save), its table rendering
 * and the comparison with a previous run. Throughput figures are medians over the repeats of a run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One throughput workload: `messages` of `sizeBytes` over `partitions`, median of `repeats` runs. */
export interface ThroughputRow {
  readonly sizeBytes: number;
  readonly partitions: number;
  readonly messages: number;
  readonly repeats: number;
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
}

export interface ProduceRow extends ThroughputRow {
  /** Object-store PUTs over this row's repeats per GB they produced; null/absent when not countable. */
  readonly putsPerGb?: number | null;
}

export interface ConsumeRow extends ThroughputRow {
  readonly kind: 'hot' | 'cold';
}

export interface LatencyRow {
  readonly sizeBytes: number;
  readonly partitions: number;
  readonly ratePerSec: number;
  readonly messages: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface ReferenceRow {
  readonly id: string;
  readonly description: string;
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSec: number;
  readonly kafscaleSeconds: number;
  readonly kafscaleMsgsPerSec: number;
  /** Our msg/s over KafScale's: above 1 is faster than KafScale's published local run. */
  readonly ratio: number;
}

export interface BenchReport {
  readonly version: 1;
  readonly startedAt: string;
  readonly mode: 'short' | 'full';
  readonly durationSeconds: number;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryBytes: number; readonly node: string; readonly platform: string };
  readonly broker: { readonly bootstrap: string; readonly owned: boolean; readonly commit: string | null };
  readonly client: string;
  readonly produce: ProduceRow[];
  readonly consume: ConsumeRow[];
  /** The headline latency point (500 msg/s in full mode). */
  readonly latency: LatencyRow | null;
  /** Every latency point measured (absent in reports saved before 2026-11-27's second run). */
  readonly latencyPoints?: LatencyRow[];
  /** 'filesystem' or 's3' for a broker the bench started; absent/null: unknown (external broker, older report). */
  readonly objectStoreKind?: 'filesystem' | 's3' | null;
  readonly nodeClient: { readonly client: string; readonly sizeBytes: number; readonly partitions: number; readonly messages: number; readonly msgsPerSec: number; readonly mbPerSec: number } | null;
  readonly objectStore: { readonly putsPerGbProduced: number | null; readonly getsPerGbColdRead: number | null; readonly source: string };
  readonly peakRssBytes: number | null;
  readonly reference: ReferenceRow[];
  /** What did not run, and why. */
  readonly skipped: string[];
}

const fmt = (value: number | null, digits = 0): string =>
  value === null || !Number.isFinite(value) ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatReport(report: BenchReport): string {
  const parts: string[] = [];
  parts.push(
    `kafscale bench (${report.mode}) ${report.startedAt} — ${report.machine.cpus} × ${report.machine.cpuModel}, node ${report.machine.node}, client ${report.client}, broker ${report.broker.owned ? 'started by the bench' : report.broker.bootstrap}${report.broker.commit === null ? '' : ` @ ${report.broker.commit}`}${report.objectStoreKind == null ? '' : `, ${report.objectStoreKind} object store`}`,
  );
  if (report.produce.length > 0) {
    parts.push(
      `\nProduce, acks=all (median of repeats)\n` +
        formatTable(
          ['size', 'partitions', 'messages', 'repeats', 'msg/s', 'MB/s', 'PUTs/GB'],
          report.produce.map((row) => [`${row.sizeBytes} B`, String(row.partitions), fmt(row.messages), String(row.repeats), fmt(row.msgsPerSec), fmt(row.mbPerSec, 1), fmt(row.putsPerGb ?? null)]),
        ),
    );
  }
  if (report.consume.length > 0) {
    parts.push(
      `\nConsume from the beginning (cold = first read after a broker restart)\n` +
        formatTable(
          ['kind', 'size', 'partitions', 'messages', 'repeats', 'msg/s', 'MB/s'],
          report.consume.map((row) => [row.kind, `${row.sizeBytes} B`, String(row.partitions), fmt(row.messages), String(row.repeats), fmt(row.msgsPerSec), fmt(row.mbPerSec, 1)]),
        ),
    );
  }
  const points = latencyPointsOf(report);
  if (points.length > 0) {
    const l = points[0] as LatencyRow;
    parts.push(
      `\nEnd-to-end latency, ${l.sizeBytes} B, ${l.partitions} partition(s), acks=all (ms)\n` +
        formatTable(['msg/s', 'messages', 'p50', 'p95', 'p99', 'p99.9', 'max'], points.map((p) => [fmt(p.ratePerSec), fmt(p.messages), fmt(p.p50Ms, 2), fmt(p.p95Ms, 2), fmt(p.p99Ms, 2), fmt(p.p999Ms, 2), fmt(p.maxMs, 2)])),
    );
  }
  if (report.nodeClient !== null) {
    const n = report.nodeClient;
    parts.push(`\nNode client reference (${n.client}): produce ${fmt(n.messages)} × ${n.sizeBytes} B on ${n.partitions} partitions: ${fmt(n.msgsPerSec)} msg/s, ${fmt(n.mbPerSec, 1)} MB/s`);
  }
  parts.push(
    `\nObject store: ${fmt(report.objectStore.putsPerGbProduced)} PUTs per GB produced, ${fmt(report.objectStore.getsPerGbColdRead)} GETs per GB read cold (${report.objectStore.source})` +
      `\nPeak broker RSS: ${report.peakRssBytes === null ? 'n/a' : `${fmt(report.peakRssBytes / 1024 / 1024, 1)} MiB`}`,
  );
  if (report.reference.length > 0) {
    parts.push(
      `\nKafScale reference workloads (256 B messages, kcat) vs KafScale's published local run (2026-01-03)\n` +
        formatTable(
          ['workload', 'messages', 'seconds', 'msg/s', 'KafScale s', 'KafScale msg/s', 'ratio'],
          report.reference.map((row) => [
            `${row.id}: ${row.description}`,
            fmt(row.messages),
            fmt(row.seconds, 3),
            fmt(row.msgsPerSec),
            fmt(row.kafscaleSeconds, 3),
            fmt(row.kafscaleMsgsPerSec),
            `${fmt(row.ratio, 2)}×`,
          ]),
        ),
    );
  }
  if (report.skipped.length > 0) parts.push(`\nSkipped:\n${report.skipped.map((why) => `  - ${why}`).join('\n')}`);
  parts.push(`\nTotal ${fmt(report.durationSeconds, 1)} s`);
  return parts.join('\n');
}

/** The latency points of a report, also of one saved before latencyPoints existed. */
export function latencyPointsOf(report: BenchReport): LatencyRow[] {
  return report.latencyPoints ?? (report.latency === null ? [] : [report.latency]);
}

/** Every headline number under a stable key, for comparing runs. */
export function headlineNumbers(report: BenchReport): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const row of report.produce) numbers.set(`produce ${row.sizeBytes} B × ${row.partitions}p msg/s`, row.msgsPerSec);
  for (const row of report.consume) numbers.set(`consume ${row.kind} ${row.sizeBytes} B × ${row.partitions}p msg/s`, row.msgsPerSec);
  for (const [i, point] of latencyPointsOf(report).entries()) {
    // The headline point keeps its historical keys so older results stay comparable.
    const suffix = i === 0 ? '' : ` at ${point.ratePerSec} msg/s`;
    numbers.set(`latency p50 ms${suffix}`, point.p50Ms);
    numbers.set(`latency p99 ms${suffix}`, point.p99Ms);
  }
  if (report.nodeClient !== null) numbers.set('node client produce msg/s', report.nodeClient.msgsPerSec);
  for (const row of report.reference) numbers.set(`reference ${row.id} msg/s`, row.msgsPerSec);
  if (report.peakRssBytes !== null) numbers.set('peak RSS MiB', report.peakRssBytes / 1024 / 1024);
  return numbers;
}

export function formatComparison(previous: BenchReport, current: BenchReport, previousName: string): string {
  const before = headlineNumbers(previous);
  const rows: string[][] = [];
  for (const [key, now] of headlineNumbers(current)) {
    const then = before.get(key);
    if (then === undefined) continue;
    const change = then === 0 ? Number.NaN : ((now - then) / then) * 100;
    rows.push([key, fmt(then, 2), fmt(now, 2), Number.isFinite(change) ? `${change >= 0 ? '+' : ''}${fmt(change, 1)}%` : 'n/a']);
  }
  if (rows.length === 0) return `No numbers in common with ${previousName} (different mode or workloads).`;
  const note = previous.mode === current.mode ? '' : ` (previous run was ${previous.mode} mode)`;
  return `Compared with ${previousName}${note}:\n${formatTable(['metric', 'previous', 'now', 'change'], rows)}`;
}

/** The newest stored result in `dir` (by its startedAt) other than the file `exclude`. */
export function latestStoredReport(dir: string, exclude: string | null): { name: string; report: BenchReport } | null {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json') && name !== exclude);
  } catch {
    return null;
  }
  let latest: { name: string; report: BenchReport } | null = null;
  for (const name of names) {
    let report: BenchReport;
    try {
      report = JSON.parse(readFileSync(join(dir, name), 'utf8')) as BenchReport;
    } catch {
      continue; // not a result document; a hand-edited or foreign file must not break the comparison
    }
    // Other benches (flush profiles, scale) save their own documents beside these: not comparable.
    if (typeof report.startedAt !== 'string' || !Array.isArray(report.produce) || !Array.isArray(report.consume)) continue;
    if (latest === null || report.startedAt > latest.report.startedAt) latest = { name, report };
  }
  return latest;
}
