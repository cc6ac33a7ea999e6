import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign } from './group-member.ts';

const require = createRequire(import.meta.url);
interface KafkajsProtocol {
  MemberMetadata: { encode(v: { version: number; topics: string[]; userData?: Buffer }): Buffer; decode(b: Buffer): { version: number; topics: string[] } };
  MemberAssignment: {
    encode(v: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer;
    decode(b: Buffer): { version: number; assignment: Record<string, number[]> } | null;
  };
}
const { AssignerProtocol } = require('kafkajs') as { AssignerProtocol: KafkajsProtocol };

test('subscriptions and assignments read the same in kafkajs and here (consumer protocol v0)', () => {
  assert.deepEqual(AssignerProtocol.MemberMetadata.decode(encodeSubscription(['orders', 'payments'])).topics, ['orders', 'payments']);
  assert.deepEqual(decodeSubscription(AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['a', 'b'], userData: Buffer.alloc(0) }), []), ['a', 'b']);
  const ours = encodeAssignment(new Map([['orders', [0, 2]], ['payments', [1]]]));
  assert.deepEqual(AssignerProtocol.MemberAssignment.decode(ours)?.assignment, { orders: [0, 2], payments: [1] });
  const theirs = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { orders: [3, 4] }, userData: Buffer.alloc(0) });
  assert.deepEqual([...decodeAssignment(theirs)], [['orders', [3, 4]]]);
  assert.deepEqual([...decodeAssignment(Buffer.alloc(0))], [], 'an empty assignment (no partitions for this member) is valid');
});

test('an unreadable subscription falls back to the given topics instead of failing the rebalance', () => {
  assert.deepEqual(decodeSubscription(Buffer.from([0, 0, 0xff]), ['orders']), ['orders']);
});

test('rangeAssign splits each topic into consecutive runs, earlier members taking the remainder', () => {
  const assigned = rangeAssign(
    new Map([['m-b', ['t1', 't2']], ['m-a', ['t1']], ['m-c', ['t1', 't2']]]),
    new Map([['t1', 7], ['t2', 2]]),
  );
  assert.deepEqual(Object.fromEntries([...assigned].map(([m, byTopic]) => [m, Object.fromEntries(byTopic)])), {
    'm-a': { t1: [0, 1, 2] },
    'm-b': { t1: [3, 4], t2: [0] },
    'm-c': { t1: [5, 6], t2: [1] },
  });
});
