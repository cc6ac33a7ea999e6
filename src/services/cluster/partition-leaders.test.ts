import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerRegistry } from './broker-registry.ts';
import { NO_OWNER, type OwnerDirectory } from './owner-directory.ts';
import { PartitionLeaders } from './partition-leaders.ts';

const TOPIC = '11111111-2222-3333-4444-555555555555';

function leadersWith(owner: number, epoch: number, localEpoch: number | undefined): PartitionLeaders {
  const brokers = {
    self: { brokerId: 1 },
    live: () => [{ brokerId: 1 }, { brokerId: 2 }],
    onChange: () => () => {},
  } as unknown as BrokerRegistry;
  const directory = { ownerOf: () => owner, epochOf: () => epoch } as unknown as OwnerDirectory;
  const leaders = new PartitionLeaders(brokers, directory);
  leaders.useEpochSource(() => localEpoch);
  return leaders;
}

test('our own active log wins: its epoch, this broker', () => {
  assert.deepEqual(leadersWith(2, 3, 5).leaderOf(TOPIC, 0), { brokerId: 1, epoch: 5 });
});

test('another owner is reported with its epoch', () => {
  assert.deepEqual(leadersWith(2, 3, undefined).leaderOf(TOPIC, 0), { brokerId: 2, epoch: 3 });
});

test('no owner: the epoch the next owner will get (last + 1)', () => {
  assert.equal(leadersWith(NO_OWNER, 3, undefined).leaderOf(TOPIC, 0).epoch, 4);
});

test('our key but no active log yet (acquiring or releasing): the key epoch, never one above the owner', () => {
  // Over-reporting made clients send an epoch above the owner's, answered UNKNOWN_LEADER_EPOCH for ever.
  assert.equal(leadersWith(1, 3, undefined).leaderOf(TOPIC, 0).epoch, 3);
});
