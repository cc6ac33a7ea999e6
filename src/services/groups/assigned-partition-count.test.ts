import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignedPartitionCount } from './assigned-partition-count.ts';

/** ConsumerProtocolAssignment v0: int16 version, [int16-length topic, [int32 partition]], then user data. */
function assignment(topics: Record<string, number[]>, userData = Buffer.alloc(4, 0xff)): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(Object.keys(topics).length)];
  for (const [topic, partitions] of Object.entries(topics)) {
    const name = Buffer.from(topic);
    parts.push(Buffer.from([name.length >> 8, name.length & 0xff]), name, int32(partitions.length), ...partitions.map(int32));
  }
  return Buffer.concat([...parts, userData]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

test('counts the partitions of every topic of a consumer-protocol assignment', () => {
  assert.equal(assignedPartitionCount(assignment({ orders: [0, 3], payments: [1] })), 3);
  assert.equal(assignedPartitionCount(assignment({})), 0);
  assert.equal(assignedPartitionCount(Buffer.alloc(0)), 0, 'a member left out by the leader');
});

test('anything that is not a consumer-protocol assignment is null, never an error', () => {
  assert.equal(assignedPartitionCount(Buffer.from('a')), null);
  const truncated = assignment({ orders: [0, 1, 2] }, Buffer.alloc(0));
  assert.equal(assignedPartitionCount(truncated.subarray(0, truncated.length - 2)), null);
  assert.equal(assignedPartitionCount(Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff])), null, 'an absurd topic count');
});
