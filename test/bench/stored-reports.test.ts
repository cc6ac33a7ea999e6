/**
 * `npm run bench -- --save` compares with the latest stored run of the same bench: other benches' result
 * documents in bench/results (flush profiles, scale) are passed over, not compared (it crashed on one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestStoredReport } from '../../bench/bench-report.ts';

test('latestStoredReport picks the newest main-bench document and passes over other benches', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-bench-results-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '2026-12-01.json'), JSON.stringify({ startedAt: '2026-12-01T10:00:00.000Z', produce: [], consume: [] }));
  writeFileSync(join(dir, '2026-12-02.json'), JSON.stringify({ startedAt: '2026-12-02T10:00:00.000Z', produce: [], consume: [] }));
  writeFileSync(join(dir, '2026-12-03_flush-profiles-1.json'), JSON.stringify({ startedAt: '2026-12-03T10:00:00.000Z', profiles: {} }));
  writeFileSync(join(dir, 'notes.json'), '{ not json');
  writeFileSync(join(dir, '2026-12-04.json'), JSON.stringify({ startedAt: '2026-12-04T10:00:00.000Z', produce: [], consume: [] }));

  assert.equal(latestStoredReport(dir, '2026-12-04.json')?.name, '2026-12-02.json');
  assert.equal(latestStoredReport(dir, null)?.name, '2026-12-04.json');
  assert.equal(latestStoredReport(join(dir, 'missing'), null), null);
});
