/** ReadHints: bounded per connection and in connections, used once, not after their time to live. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadHints } from './read-hints.ts';

test('hints are bounded, used once, and expire', () => {
  let nowMs = 0;
  const hints = new ReadHints({ maxReaders: 2, maxHintsPerReader: 2, ttlMs: 100, now: () => nowMs });
  hints.add(1, 't', 0, 5);
  hints.add(1, 't', 0, 7); // the same partition again: the newer offset
  hints.add(1, 't', 1, 0);
  hints.add(1, 't', 2, 0); // over maxHintsPerReader: the first ones are kept
  assert.deepEqual(hints.take(1).map((h) => [h.partition, h.offset]), [[0, 7], [1, 0]]);
  assert.deepEqual(hints.take(1), [], 'used once');
  hints.add(1, 't', 0, 0);
  hints.add(2, 't', 0, 0);
  hints.add(1, 't', 1, 0); // reader 1 is now the most recently hinted
  hints.add(3, 't', 0, 0); // over maxReaders: reader 2 is forgotten
  assert.equal(hints.readers, 2);
  assert.deepEqual(hints.take(2), []);
  assert.equal(hints.take(1).length, 2);
  nowMs += 101;
  assert.deepEqual(hints.take(3), [], 'expired');
});
