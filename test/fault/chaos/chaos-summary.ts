/**
 * Turns a chaos report into the printed summary and the list of violations: every lost or misplaced
 * acknowledged record grouped into runs of consecutive offsets per producer and partition, each run
 * with its acknowledgement time and the faults active around it, so a violation names its fault,
 * its offsets and its producer.
 */
import type { ChaosReport } from './chaos-run.ts';
import type { AckedRecord } from './chaos-verify.ts';
import { FAULT_KINDS, type FaultEvent } from './fault-schedule.ts';

/** Faults that ended at most this long before an acknowledgement are named as its context. */
const CONTEXT_MS = 20_000;
const MAX_LINES_PER_KIND = 25;

interface Run {
  readonly producer: string;
  readonly partition: number;
  readonly from: bigint;
  to: bigint;
  readonly firstAckMs: number;
  lastAckMs: number;
  count: number;
  readonly detail: string;
}

function runsOf(items: ReadonlyArray<{ ack: AckedRecord; detail: string }>): Run[] {
  const sorted = [...items].sort((a, b) => a.ack.producer.localeCompare(b.ack.producer) || a.ack.partition - b.ack.partition || (a.ack.offset < b.ack.offset ? -1 : a.ack.offset > b.ack.offset ? 1 : 0));
  const runs: Run[] = [];
  for (const { ack, detail } of sorted) {
    const last = runs.at(-1);
    if (last !== undefined && last.producer === ack.producer && last.partition === ack.partition && last.to + 1n === ack.offset) {
      last.to = ack.offset;
      last.lastAckMs = Math.max(last.lastAckMs, ack.ackedMs);
      last.count++;
      continue;
    }
    runs.push({ producer: ack.producer, partition: ack.partition, from: ack.offset, to: ack.offset, firstAckMs: ack.ackedMs, lastAckMs: ack.ackedMs, count: 1, detail });
  }
  return runs;
}

function at(report: ChaosReport, ms: number): string {
  if (Number.isNaN(ms)) return 'never';
  return `+${((ms - report.runStartMs) / 1000).toFixed(1)} s`;
}

function describeFault(report: ChaosReport, event: FaultEvent): string {
  const end = Number.isFinite(event.endMs) ? at(report, event.endMs) : 'end';
  return `${event.kind}${event.target === null ? '' : `(broker ${event.target})`} ${at(report, event.startMs)}..${end}`;
}

function context(report: ChaosReport, run: Run): string {
  const around = report.faultLog.filter((e) => e.startMs <= run.lastAckMs && e.endMs >= run.firstAckMs - CONTEXT_MS);
  return around.length === 0 ? 'no fault in the preceding 20 s' : around.map((e) => describeFault(report, e)).join(', ');
}

function runLine(report: ChaosReport, run: Run): string {
  const offsets = run.from === run.to ? `offset ${run.from}` : `offsets ${run.from}..${run.to} (${run.count})`;
  return `${run.producer} partition ${run.partition} ${offsets}, acknowledged ${at(report, run.firstAckMs)}..${at(report, run.lastAckMs)}${run.detail === '' ? '' : `; ${run.detail}`}; faults: ${context(report, run)}`;
}

function capped(lines: string[]): string[] {
  return lines.length <= MAX_LINES_PER_KIND ? lines : [...lines.slice(0, MAX_LINES_PER_KIND), `… and ${lines.length - MAX_LINES_PER_KIND} more`];
}

/** Every violation as a line, grouped by kind; empty when the run is clean. */
export function violations(report: ChaosReport): string[] {
  const { verdict } = report;
  const out: string[] = [];
  for (const run of runsOf(verdict.lost.map((ack) => ({ ack, detail: '' })))) out.push(`LOST ${runLine(report, run)}`);
  const misplaced = verdict.misplaced.map(({ ack, storedAt, atItsOffset }) => ({
    ack,
    detail: `stored at ${storedAt.slice(0, 3).join(',')}${storedAt.length > 3 ? '…' : ''}`,
    atItsOffset,
  }));
  // Group misplaced records by where they went too (one line per run that moved together).
  for (const run of runsOf(misplaced.map(({ ack }) => ({ ack, detail: '' })))) {
    const first = misplaced.find((m) => m.ack.producer === run.producer && m.ack.partition === run.partition && m.ack.offset === run.from);
    const where = first === undefined ? '' : `first one ${first.detail}, its offset holds ${first.atItsOffset ?? 'nothing'}`;
    out.push(`MISPLACED ${runLine(report, { ...run, detail: where })}`);
  }
  // Duplicates grouped like losses: by the acknowledgement of the value (or its first copy when none).
  const ackOf = new Map(report.acks.map((a) => [a.value, a]));
  const dupItems = verdict.duplicated.map((d) => {
    const ack = ackOf.get(d.value);
    // A slot reads `partition/offset`, for idempotent batches followed by ` (pid … epoch … seq …)`.
    const [, p, o] = /^(\d+)\/(\d+)/.exec(d.storedAt[0] ?? '') ?? [];
    const detail = `stored at ${d.storedAt.join(', ')}${ack === undefined ? ' (never acknowledged)' : ''}`;
    return { ack: ack ?? { producer: d.value.slice(0, d.value.indexOf('-')), partition: Number(p ?? '0'), offset: BigInt(o ?? '0'), value: d.value, ackedMs: Number.NaN }, detail };
  });
  for (const run of runsOf(dupItems)) {
    const first = dupItems.find((d) => d.ack.producer === run.producer && d.ack.partition === run.partition && d.ack.offset === run.from);
    out.push(`DUPLICATED ${runLine(report, { ...run, detail: `first value ${first?.ack.value} ${first?.detail ?? ''}` })}`);
  }
  out.push(...capped(verdict.doubleAcked.map((d) => `ACKED TWICE offset ${d.slot} to ${d.values.join(' and ')}`)));
  out.push(...capped(verdict.logAnomalies.map((a) => `LOG ${a}`)));
  out.push(...report.viewMismatches.map((m) => `VIEWS ${m}`));
  for (const group of report.groups) {
    if (group.missingStored > 0) out.push(`GROUP ${group.name} never received ${group.missingStored} acknowledged, stored records (e.g. ${group.sampleMissing.join(', ')})`);
  }
  out.push(...capped(report.offsetRegressions.map((r) => `COMMITTED OFFSET BACKWARDS group ${r.group} partition ${r.partition}: ${r.from} → ${r.to} at ${at(report, r.atMs)} (coordinator broker ${r.coordinator})`)));
  out.push(...report.harnessProblems.map((p) => `RUN ${p}`));
  return out;
}

export function formatSummary(report: ChaosReport): string {
  const { verdict } = report;
  const lines: string[] = [];
  lines.push(`chaos summary — seed ${report.seed}, ${(report.faultMs / 60_000).toFixed(1)} min of faults, ${(report.elapsedMs / 1000).toFixed(0)} s in all, topic ${report.topic} (${report.partitions} partitions)`);
  lines.push(`faults injected: ${FAULT_KINDS.map((k) => `${k} ${report.faults[k]}`).join(', ')}`);
  const p = report.proxy;
  lines.push(`S3 proxy: ${p.requests} requests (${p.puts} PUTs): ${p.put503} answered 503 SlowDown, ${p.delayed} delayed, ${p.resetMidRequest} reset mid-request, ${p.resetAfterApplied} reset after S3 applied them`);
  lines.push('producers (acks=all):');
  for (const producer of report.producers) {
    lines.push(`  ${producer.name.padEnd(9)} ${producer.client}, ${producer.idempotent ? 'idempotent' : 'not idempotent'}, ${producer.recordsPerBatch} records/batch: ${producer.acknowledged} records acknowledged, ${producer.failedOrUnknown} failed/unknown${producer.errors.length > 0 ? ` (${producer.errors.join('; ')})` : ''}`);
  }
  lines.push(`log: ${report.highWatermarks.join('; ')}`);
  lines.push(
    `records acknowledged ${verdict.acknowledgedRecords}, stored ${verdict.storedRecords}; lost ${verdict.lost.length}, misplaced ${verdict.misplaced.length}, ` +
      `duplicated ${verdict.duplicated.length} (plus ${verdict.allowedDuplicates} allowed at-least-once duplicates of non-idempotent retries), offsets acknowledged twice ${verdict.doubleAcked.length}, log anomalies ${verdict.logAnomalies.length}`,
  );
  const failedButStored = Object.entries(report.failedButStored);
  if (failedButStored.length > 0) lines.push(`wire-client batches answered with an error code although their records are in the log: ${failedButStored.map(([code, n]) => `${n}× ${code}`).join(', ')}`);
  for (const group of report.groups) {
    lines.push(`group ${group.name}: ${group.distinctSeen} distinct records received; missing ${group.missingStored} stored + ${group.missingLost} lost${group.notes.length > 0 ? ` (${group.notes.join(' | ').slice(0, 300)})` : ''}`);
  }
  for (const note of report.runNotes) lines.push(`run note (not a violation): ${note.split('\n')[0]}`);
  lines.push(`committed offsets: ${report.committedPolls.polls} polls (${report.committedPolls.failed} unanswered during faults), ${report.offsetRegressions.length} regressions`);
  const errors = report.brokerErrors.filter((e) => e.level === 'error').slice(0, 8);
  if (errors.length > 0) lines.push(`broker error logs: ${errors.map((e) => `broker ${e.broker} ${e.count}× "${e.msg}"`).join('; ')}`);
  const found = violations(report);
  lines.push(found.length === 0 ? 'RESULT: no violation' : `RESULT: ${found.length} violation line(s):`);
  for (const line of found) lines.push(`  ${line}`);
  for (const item of evidence(report, 6, 3)) {
    lines.push(`  around ${item.slot}: acknowledged [${item.acks.join(' | ')}]`);
    lines.push(`  around ${item.slot}: stored [${item.stored.join(' | ')}]`);
  }
  lines.push('fault log:');
  for (const event of report.faultLog) lines.push(`  ${describeFault(report, event)} ${event.detail}${event.problem === null ? '' : ` PROBLEM: ${event.problem}`}`);
  return lines.join('\n');
}

/**
 * For the first violations, what surrounds them: every acknowledgement on the same partition within
 * `radius` offsets (producer, offsets, time) and what the log holds there — the raw material to tell
 * which write took whose offsets.
 */
export function evidence(report: ChaosReport, radius = 20, max = 10): Array<{ readonly slot: string; readonly acks: string[]; readonly stored: string[] }> {
  const { verdict, acks } = report;
  const slots: Array<{ partition: number; offset: bigint }> = [
    ...verdict.doubleAcked.map((d) => {
      const [p, o] = d.slot.split('/');
      return { partition: Number(p ?? '0'), offset: BigInt(o ?? '0') };
    }),
    ...verdict.lost.map((a) => ({ partition: a.partition, offset: a.offset })),
    ...verdict.misplaced.map((m) => ({ partition: m.ack.partition, offset: m.ack.offset })),
  ].slice(0, max);
  return slots.map(({ partition, offset }) => {
    const near = acks
      .filter((a) => a.partition === partition && a.offset >= offset - BigInt(radius) && a.offset <= offset + BigInt(radius))
      .sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : a.ackedMs - b.ackedMs));
    return {
      slot: `${partition}/${offset}`,
      acks: near.map((a) => `${a.offset} ${a.value} acked ${at(report, a.ackedMs)}`),
      stored: (report.stored?.[partition] ?? []).filter(([o]) => BigInt(o) >= offset - BigInt(radius) && BigInt(o) <= offset + BigInt(radius)).map(([o, v]) => `${o} ${v}`),
    };
  });
}
