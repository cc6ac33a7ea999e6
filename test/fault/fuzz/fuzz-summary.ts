/** The fuzzer's printed summary and its list of violations (empty when the run is clean). */
import { BAD_BATCH_KINDS, FRAME_KINDS } from './fuzz-frames.ts';
import type { FuzzReport } from './protocol-fuzzer.ts';

export function fuzzViolations(report: FuzzReport): string[] {
  return [
    ...report.crashes.map((c) => `CRASH ${c}`),
    ...report.hangs.map((h) => `HANG ${h}`),
    ...report.badResponses.map((b) => `BAD RESPONSE ${b}`),
    ...report.acceptedBadBatches.map((a) => `CORRUPT BATCH ACKNOWLEDGED ${a}`),
    ...report.unclosed.map((u) => `NOT CLOSED ${u}`),
    ...report.control.failures.map((f) => `CONTROL CONNECTION ${f}`),
    ...report.storedProblems.map((s) => `STORED DATA ${s}`),
  ];
}

export function formatFuzzSummary(report: FuzzReport): string {
  const lines: string[] = [];
  const rate = Math.round(report.frames / Math.max(1, report.elapsedMs / 1000));
  lines.push(`fuzz summary — seed ${report.seed}: ${report.frames} frames in ${(report.elapsedMs / 1000).toFixed(0)} s (${rate}/s)`);
  for (const kind of FRAME_KINDS) {
    const c = report.byKind[kind];
    lines.push(`  ${kind.padEnd(10)} sent ${c.sent}: answered ${c.answered}, connection closed ${c.closed}${c.noResponseExpected > 0 ? `, acks=0 (no response expected) ${c.noResponseExpected}` : ''}`);
  }
  lines.push(`  API versions covered by well-formed frames: ${report.apiVersionsCovered} of the ${report.apiVersionsInSchemas} (apiKey, version) pairs in the schemas; ${report.skippedLongWaits} generated frames not sent (they ask the broker to wait > 2 s)`);
  lines.push('  corrupt record batches (sent: rejected with an error / connection closed / ACKNOWLEDGED):');
  for (const kind of BAD_BATCH_KINDS) {
    const b = report.badBatches[kind];
    lines.push(`    ${kind.padEnd(20)} ${b.sent}: ${b.rejected} / ${b.closed} / ${b.accepted}`);
  }
  const closedWellFormed = Object.entries(report.wellFormedClosed).sort((a, b) => b[1] - a[1]);
  if (closedWellFormed.length > 0) lines.push(`  well-formed requests of advertised versions answered by closing the connection: ${closedWellFormed.slice(0, 12).map(([k, n]) => `${k}×${n}`).join(', ')}`);
  lines.push(`  control connection: ${report.control.rounds} produce+fetch rounds, ${report.control.failures.length} failures, slowest ${report.control.maxLatencyMs} ms${report.control.idleCloses > 0 ? `, ${report.control.idleCloses} closed as idle after this process stalled past connections.max.idle.ms` : ''}`);
  if (report.undecodableStored > 0) lines.push(`  fuzz topic: ${report.undecodableStored} stored batches whose records do not decode (from acknowledged corrupt batches)`);
  lines.push(`  broker RSS at the end: ${report.brokerRssMiB} MiB`);
  if (report.brokerErrors.length > 0) lines.push(`  broker error logs: ${report.brokerErrors.map((e) => `${e.count}× "${e.msg}"`).join('; ')}`);
  const found = fuzzViolations(report);
  lines.push(found.length === 0 ? 'RESULT: 0 crashes, 0 hangs, no violation' : `RESULT: ${found.length} violation(s):`);
  for (const line of found.slice(0, 60)) lines.push(`  ${line}`);
  return lines.join('\n');
}
