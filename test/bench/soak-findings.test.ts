import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSoakReport, soakFindings, type SoakMinute } from '../../bench/soak-bench.ts';

const MiB = 1024 * 1024;

function minute(n: number, overrides: Partial<SoakMinute> = {}): SoakMinute {
  return { minute: n, messages: 60_000, p50Ms: 2, p99Ms: 6, p999Ms: 12, maxMs: 20, rssBytes: 150 * MiB, heapUsedBytes: 40 * MiB, eventLoopP99Ms: 3, eventLoopMaxMs: 9, ...overrides };
}

test('a flat run has no findings', () => {
  const minutes = Array.from({ length: 9 }, (_, i) => minute(i + 1, { rssBytes: (150 + (i % 2)) * MiB, p99Ms: 6 + (i % 3) * 0.5 }));
  assert.deepEqual(soakFindings(minutes), []);
});

test('RSS that climbs through the run is a finding; one noisy minute is not', () => {
  const climbing = Array.from({ length: 9 }, (_, i) => minute(i + 1, { rssBytes: (150 + i * 20) * MiB }));
  const findings = soakFindings(climbing);
  assert.equal(findings.length, 1);
  assert.match(findings[0] ?? '', /broker RSS grew from 170 MiB \(first 3 min\) to 290 MiB \(last 3 min\)/);

  const oneSpike = Array.from({ length: 9 }, (_, i) => minute(i + 1, { p99Ms: i === 8 ? 80 : 6 }));
  assert.deepEqual(soakFindings(oneSpike), []);
});

test('latency and event-loop growth are findings; small absolute changes are not', () => {
  const slower = Array.from({ length: 6 }, (_, i) => minute(i + 1, { p99Ms: i < 3 ? 6 : 15, eventLoopP99Ms: i < 3 ? 3 : 9 }));
  const findings = soakFindings(slower);
  assert.equal(findings.length, 2);
  assert.match(findings.join('\n'), /latency p99 grew from 6\.0 ms/);
  assert.match(findings.join('\n'), /event-loop delay p99 grew from 3\.0 ms/);
  // 1 ms → 2 ms doubles, but stays under the absolute threshold.
  const tiny = Array.from({ length: 6 }, (_, i) => minute(i + 1, { p99Ms: i < 3 ? 1 : 2 }));
  assert.deepEqual(soakFindings(tiny), []);
});

test('fewer than three minutes make no verdict, and the report prints every minute', () => {
  assert.deepEqual(soakFindings([minute(1), minute(2, { rssBytes: 900 * MiB })]), []);
  const text = formatSoakReport({ startedAt: 'x', client: 'kbench', objectStore: 'filesystem', sizeBytes: 1024, partitions: 6, maxMsgsPerSec: 100_000, share: 0.25, ratePerSec: 25_000, minutes: [minute(1), minute(2, { rssBytes: null })], findings: [] });
  assert.match(text, /2 min at 25000 msg\/s = 25 % of the measured 100000 msg\/s/);
  assert.match(text, /^2\s+60000\s+2\.0\s+6\.0\s+12\.0\s+20\.0\s+\?\s+40/m);
  assert.match(text, /findings: none/);
});
