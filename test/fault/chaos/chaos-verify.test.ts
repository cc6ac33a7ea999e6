/**
 * The chaos verdict can fail: synthetic logs and acknowledgements with one of each violation (lost,
 * misplaced, acknowledged twice, duplicated, a hole) are each reported, and a non-idempotent
 * producer's duplicate is counted as allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify, type AckedRecord, type StoredLog } from './chaos-verify.ts';

function log(partition: number, records: Array<[number, string]>, highWatermark: number): StoredLog {
  return { partition, highWatermark: BigInt(highWatermark), logStartOffset: 0n, records: new Map(records.map(([o, v]) => [BigInt(o), v])), anomalies: [] };
}

function ack(producer: string, partition: number, offset: number, value: string): AckedRecord {
  return { producer, partition, offset: BigInt(offset), value, ackedMs: 0 };
}

test('a clean log and its acknowledgements give no violation', () => {
  const verdict = verify([ack('a', 0, 0, 'a-0'), ack('a', 0, 1, 'a-1')], [log(0, [[0, 'a-0'], [1, 'a-1']], 2)], [{ name: 'a', mayDuplicate: false }]);
  assert.deepEqual([verdict.lost, verdict.misplaced, verdict.duplicated, verdict.doubleAcked, verdict.logAnomalies], [[], [], [], [], []]);
  assert.equal(verdict.acknowledgedRecords, 2);
});

test('lost, misplaced, acknowledged twice, duplicated and a hole are each reported', () => {
  const acks = [
    ack('a', 0, 0, 'a-0'),
    ack('a', 0, 1, 'a-1'), // misplaced: stored at 2
    ack('b', 0, 1, 'b-1'), // offset 1 acknowledged twice; b-1 stored nowhere: lost
    ack('c', 0, 3, 'c-3'), // stored at 3 and 4, c must not duplicate
    ack('p', 0, 5, 'p-5'), // stored at 5 and 6, p may duplicate
  ];
  const stored = log(0, [[0, 'a-0'], [2, 'a-1'], [3, 'c-3'], [4, 'c-3'], [5, 'p-5'], [6, 'p-5']], 8);
  const verdict = verify(acks, [stored], [{ name: 'a', mayDuplicate: false }, { name: 'b', mayDuplicate: false }, { name: 'c', mayDuplicate: false }, { name: 'p', mayDuplicate: true }]);
  assert.deepEqual(verdict.lost.map((l) => l.value), ['b-1']);
  assert.deepEqual(verdict.misplaced.map((m) => [m.ack.value, m.storedAt, m.atItsOffset]), [['a-1', ['0/2'], null]]);
  assert.deepEqual(verdict.doubleAcked, [{ slot: '0/1', values: ['a-1', 'b-1'] }]);
  assert.deepEqual(verdict.duplicated, [{ value: 'c-3', storedAt: ['0/3', '0/4'] }]);
  assert.equal(verdict.allowedDuplicates, 1);
  assert.equal(verdict.logAnomalies.length, 2, `holes at 1 and at 7: ${JSON.stringify(verdict.logAnomalies)}`);
});
