import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedKeySet } from './bounded-key-set.ts';

test('a key is new once, and again only after it was forgotten', () => {
  const keys = new BoundedKeySet(2);
  assert.equal(keys.add('a'), true);
  assert.equal(keys.add('a'), false);
  assert.equal(keys.add('b'), true);
  assert.equal(keys.add('c'), true, 'c pushes out a, the oldest');
  assert.equal(keys.size, 2);
  assert.equal(keys.add('b'), false);
  assert.equal(keys.add('a'), true, 'a was forgotten');
});

test('memory stays bounded however many keys arrive', () => {
  const keys = new BoundedKeySet(100);
  for (let i = 0; i < 10_000; i++) keys.add(`client-${i}`);
  assert.equal(keys.size, 100);
});

test('a bound below 1 is refused', () => {
  assert.throws(() => new BoundedKeySet(0), RangeError);
});
