import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTop, profileTop, type CpuProfile } from '../../bench/cpu-profile-top.ts';

// root → handle → validate; plus idle and GC. Samples 1 ms apart, starting at 1,000 µs.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
    { id: 2, callFrame: { functionName: 'handle', url: 'file:///x/src/broker/handlers/produce.ts', lineNumber: 51 } },
    { id: 3, callFrame: { functionName: 'validateBatch', url: 'file:///x/src/protocol/records/validate-batch.ts', lineNumber: 81 } },
    { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    { id: 5, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    // The same function reached through another path: summed with id 3.
    { id: 6, callFrame: { functionName: 'validateBatch', url: 'file:///x/src/protocol/records/validate-batch.ts', lineNumber: 81 } },
  ],
  startTime: 1_000,
  endTime: 9_000,
  samples: [3, 3, 2, 4, 4, 5, 6, 3],
  timeDeltas: [0, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000],
};

test('self time is summed per function and file; idle is left out of the shares', () => {
  const top = profileTop(profile, 10);
  assert.equal(top.idleMs, 2);
  // The last sample has no following delta: it counts 0.
  assert.equal(top.busyMs, 5);
  assert.deepEqual(
    top.rows.map((row) => [row.functionName, row.location, row.selfMs, Math.round(row.selfPercent)]),
    [
      ['validateBatch', 'validate-batch.ts:82', 3, 60],
      ['handle', 'produce.ts:52', 1, 20],
      ['(garbage collector)', '', 1, 20],
    ],
  );
  assert.match(formatTop(top, true), /\| 60\.0 \| 3 \| `validateBatch` \| validate-batch\.ts:82 \|/);
});

test('a window keeps only the samples inside it', () => {
  // Sample times: 1000, 2000, ..., 8000 µs; keep 4000–6000 (idle, idle, GC).
  const top = profileTop(profile, 10, { fromUs: 4_000, toUs: 6_000 });
  assert.equal(top.busyMs, 1);
  assert.equal(top.idleMs, 2);
  assert.deepEqual(top.rows.map((row) => row.functionName), ['(garbage collector)']);
});

test('by samples, a long gap after one sample does not inflate that function', () => {
  // The process was descheduled for 50 ms right after the `handle` sample (index 2).
  const gapped: CpuProfile = { ...profile, timeDeltas: [0, 1_000, 1_000, 50_000, 1_000, 1_000, 1_000, 1_000] };
  const byTime = profileTop(gapped, 10);
  assert.equal(byTime.rows[0]?.functionName, 'handle');
  assert.equal(byTime.rows[0]?.selfMs, 50);
  const bySamples = profileTop(gapped, 10, null, true);
  // Every sample weighs the median interval (1 ms), the last one included.
  assert.deepEqual(
    bySamples.rows.map((row) => [row.functionName, row.selfMs]),
    [
      ['validateBatch', 4],
      ['handle', 1],
      ['(garbage collector)', 1],
    ],
  );
  assert.equal(bySamples.idleMs, 2);
});
