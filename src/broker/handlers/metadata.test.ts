import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { BrokerServices } from '../broker-services.ts';
import { describeTopic } from './metadata.ts';

const topic = { name: 't', id: '11111111-2222-3333-4444-555555555555', partitions: 2, configs: {}, createdMs: 0 };

function servicesWithLeaders(leaders: readonly number[], live: readonly number[]): BrokerServices {
  return {
    leaders: { leaderOf: (_id: string, p: number) => ({ brokerId: leaders[p] ?? -1, epoch: 4 }) },
    brokers: { live: () => live.map((brokerId) => ({ brokerId, host: 'h', port: 1, rack: null, startedMs: 0 })) },
  } as unknown as BrokerServices;
}

test('a leader that is a live broker is reported with its epoch, as the only replica', () => {
  const described = describeTopic(topic, servicesWithLeaders([1, 2], [1, 2]));
  assert.deepEqual(described.partitions.map((p) => [p.errorCode, p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes]), [
    [ErrorCode.NONE, 1, 4, [1], [1]],
    [ErrorCode.NONE, 2, 4, [2], [2]],
  ]);
});

test('a leader missing from the live broker list is LEADER_NOT_AVAILABLE with leader -1, never an unknown id', () => {
  const described = describeTopic(topic, servicesWithLeaders([1, 7], [1, 2]), new Set([1, 2]));
  const [first, second] = described.partitions;
  assert.equal(first?.leaderId, 1);
  assert.equal(second?.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
  assert.equal(second?.leaderId, -1);
  assert.deepEqual(second?.offlineReplicas, [7]);
});
