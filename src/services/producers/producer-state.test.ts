import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { decodeProducerBatches, encodeProducerBatches, liveProducerRows, ProducerStateTable, retainedBatches, type ProducerBatch } from './producer-state.ts';

function b(producerId: bigint, epoch: number, firstSeq: number, lastSeq: number, firstOffset: number, timestampMs = 0): ProducerBatch {
  return { producerId, epoch, firstSeq, lastSeq, firstOffset, lastOffset: firstOffset + (lastSeq - firstSeq), timestampMs };
}

test('the table keeps the last 5 batches of the current epoch; a new epoch resets them', () => {
  const table = new ProducerStateTable();
  for (let i = 0; i < 8; i++) table.apply(b(1n, 0, i, i, i));
  assert.deepEqual(table.get(1n)!.batches.map((x) => x.firstSeq), [3, 4, 5, 6, 7]);
  assert.equal(table.check(1n, 0, 3, 3).kind, 'duplicate');
  assert.equal(table.check(1n, 0, 2, 2).kind, 'error');
  assert.deepEqual(table.check(1n, 0, 3, 4), { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: 'producer 1 epoch 0: expected sequence 8, got 3' });
  table.apply(b(1n, 1, 0, 0, 8));
  assert.deepEqual(table.get(1n)!.batches.map((x) => x.firstSeq), [0]);
  // A duplicate must match the epoch too: the same sequences under the old epoch are fenced.
  assert.equal((table.check(1n, 0, 7, 7) as { errorCode: number }).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
});

test('persisted rows keep at most 5 batches per producer and round-trip int64 producer ids exactly', () => {
  const rows: ProducerBatch[] = [];
  for (let i = 0; i < 7; i++) rows.push(b(9_007_199_254_740_993n, 0, i, i, i), b(2n, 0, i, i, 100 + i));
  const kept = retainedBatches(rows);
  assert.equal(kept.length, 10);
  assert.deepEqual(kept.filter((x) => x.producerId === 2n).map((x) => x.firstSeq), [2, 3, 4, 5, 6]);
  const decoded = decodeProducerBatches(JSON.parse(JSON.stringify(encodeProducerBatches(kept))));
  assert.deepEqual(decoded, kept);
});

test('expiry drops producers idle for the expiration; clone is independent', () => {
  const table = new ProducerStateTable();
  table.apply(b(1n, 0, 0, 0, 0, 1_000));
  table.apply(b(2n, 0, 0, 0, 1, 5_000));
  const copy = table.clone();
  assert.equal(table.expire(11_000, 10_000), 1);
  assert.equal(table.get(1n), undefined);
  assert.ok(copy.get(1n) !== undefined);
  copy.apply(b(2n, 0, 1, 1, 2, 6_000));
  assert.equal(table.get(2n)!.batches.length, 1);
});

test('rows carried into a merged entry: expired producers dropped, then the most recently active kept within the cap', () => {
  // Producer 1 is idle since 1_000; 2 wrote at 5_000 (old rows) and again at 9_000; 3 at 8_000; 4 at 9_500.
  const rows = [b(1n, 0, 0, 0, 0, 1_000), b(2n, 0, 0, 0, 1, 5_000), b(3n, 0, 0, 0, 2, 8_000), b(2n, 0, 1, 1, 3, 9_000), b(4n, 0, 0, 0, 4, 9_500)];
  const live = liveProducerRows(rows, 10_000, 6_000);
  assert.deepEqual(live.map((r) => [r.producerId, r.firstSeq]), [[2n, 0], [3n, 0], [2n, 1], [4n, 0]], 'producer 1 expired; 2 is judged by its newest row');
  // Cap of 3 rows: producer 2 (2 rows, last 9_000) and 4 (9_500) fit; 3 (8_000) is the least recent.
  assert.deepEqual(liveProducerRows(rows, 10_000, 6_000, 3).map((r) => [r.producerId, r.firstSeq]), [[2n, 0], [2n, 1], [4n, 0]]);
  // Retention of 5 per producer still applies.
  const many = Array.from({ length: 8 }, (_, i) => b(9n, 0, i, i, i, 10_000));
  assert.deepEqual(liveProducerRows(many, 10_000, 6_000).map((r) => r.firstSeq), [3, 4, 5, 6, 7]);
});
