import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/messages/index.ts';
import type { RequestContext } from '../broker-services.ts';
import { createDeleteRecordsApi, type RecordsDeleter } from './delete-records.ts';

const TOPIC = { name: 'orders', id: '11111111-2222-4333-8444-555555555555', partitions: 2, configs: {}, createdMs: 0 };

function context(leaderId: number): RequestContext {
  return {
    apiKey: 21,
    apiVersion: 2,
    correlationId: 1,
    clientId: null,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    services: {
      settings: { brokerId: 1 },
      topics: { get: (name: string) => (name === TOPIC.name ? TOPIC : undefined) },
      leaders: { leaderOf: () => ({ brokerId: leaderId, epoch: 0 }) },
    },
  } as unknown as RequestContext;
}

test('DeleteRecords maps per-partition outcomes, acquires partitions it leads and passes -1 through', async () => {
  const calls: string[] = [];
  let owned = false;
  const deleter = {
    owned: () => (owned ? ({} as never) : undefined),
    acquire: async (topicId: string, partition: number) => {
      calls.push(`acquire ${topicId} ${partition}`);
      owned = true;
      return { errorCode: ErrorCode.NONE, log: {} as never };
    },
    deleteRecords: async (topicId: string, partition: number, offset: number) => {
      calls.push(`delete ${partition} ${offset}`);
      return offset === 99 ? { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 } : { errorCode: ErrorCode.NONE, lowWatermark: offset === -1 ? 42 : offset };
    },
  } as unknown as RecordsDeleter;
  const api = createDeleteRecordsApi(deleter);
  const request: DeleteRecordsRequest = {
    timeoutMs: 1000,
    topics: [
      { name: 'orders', partitions: [{ partitionIndex: 0, offset: 5n }, { partitionIndex: 1, offset: -1n }, { partitionIndex: 2, offset: 1n }] },
      { name: 'missing', partitions: [{ partitionIndex: 0, offset: 1n }] },
    ],
  };
  const response = (await api.handle(request as never, context(1))) as DeleteRecordsResponse;
  assert.deepEqual(response.topics, [
    {
      name: 'orders',
      partitions: [
        { partitionIndex: 0, lowWatermark: 5n, errorCode: ErrorCode.NONE },
        { partitionIndex: 1, lowWatermark: 42n, errorCode: ErrorCode.NONE },
        { partitionIndex: 2, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ],
    },
    { name: 'missing', partitions: [{ partitionIndex: 0, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
  ]);
  assert.ok(calls.includes('delete 1 -1'));
  assert.equal(calls.filter((c) => c.startsWith('acquire')).length, 1);
});

test('DeleteRecords on a partition led elsewhere does not acquire it', async () => {
  let acquired = false;
  const deleter = {
    owned: () => undefined,
    acquire: async () => {
      acquired = true;
      return { errorCode: ErrorCode.NONE, log: {} as never };
    },
    deleteRecords: async () => ({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 }),
  } as unknown as RecordsDeleter;
  const api = createDeleteRecordsApi(deleter);
  const request: DeleteRecordsRequest = { timeoutMs: 1000, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 1n }] }] };
  const response = (await api.handle(request as never, context(7))) as DeleteRecordsResponse;
  assert.equal(response.topics[0]?.partitions[0]?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(acquired, false);
});
