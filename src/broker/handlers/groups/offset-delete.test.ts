import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subscribedTopics } from './offset-delete.ts';

function subscription(version: number, topics: readonly string[], trailing: Buffer = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.alloc(6)];
  parts[0]!.writeInt16BE(version, 0);
  parts[0]!.writeInt32BE(topics.length, 2);
  for (const topic of topics) {
    const name = Buffer.from(topic);
    const length = Buffer.alloc(2);
    length.writeInt16BE(name.length);
    parts.push(length, name);
  }
  parts.push(trailing);
  return Buffer.concat(parts);
}

test('the topics are read from the v0 prefix whatever version the member declares', () => {
  assert.deepEqual(subscribedTopics(subscription(0, ['a', 'b'])), ['a', 'b']);
  // @platformatic/kafka: labelled v1, v0 fields only (no user data, no owned partitions).
  assert.deepEqual(subscribedTopics(subscription(1, ['orders'])), ['orders']);
  // A later version with more fields after the topics.
  assert.deepEqual(subscribedTopics(subscription(3, ['x'], Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]))), ['x']);
});

test('unreadable metadata is null (the coordinator then treats the member as subscribed to everything)', () => {
  assert.equal(subscribedTopics(Buffer.alloc(0)), null);
  assert.equal(subscribedTopics(Buffer.from([0, 0, 0, 0, 0, 5, 0, 1])), null, 'more topics than bytes');
  assert.equal(subscribedTopics(subscription(0, ['abc']).subarray(0, 9)), null, 'truncated name');
});
