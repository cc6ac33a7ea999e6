/**
 * docs/compatibility.md holds the API version table generated from the broker's API table; a change to
 * a served range without `node scripts/api-version-table.ts --write` fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMPATIBILITY_DOC, withCurrentTable } from '../../scripts/api-version-table.ts';

test('docs/compatibility.md has the current API version table', () => {
  const doc = readFileSync(COMPATIBILITY_DOC, 'utf8');
  assert.equal(doc, withCurrentTable(doc), 'stale: run node scripts/api-version-table.ts --write');
});

test('the table says why Fetch starts at 4 and nothing else differs from Kafka 3.9', () => {
  const doc = readFileSync(COMPATIBILITY_DOC, 'utf8');
  const rows = doc.split('\n').filter((line) => /^\| \d+ \|/.test(line));
  assert.ok(rows.length > 30);
  const differing = rows.filter((row) => !row.endsWith('|  |'));
  assert.deepEqual(differing.map((row) => row.split('|')[2]?.trim()), ['Fetch']);
});
