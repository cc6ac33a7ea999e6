import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/messages/index.ts';
import { ALLOW_ALL } from '../../services/security/acl-authorizer.ts';
import type { RequestContext } from '../broker-services.ts';
import { deleteRecordsApi } from './delete-records.ts';

const TOPIC = { name: 'orders', id: '11111111-2222-4333-8444-555555555555', partitions: 2, configs: {}, createdMs: 0 };

function context(calls: string[]): RequestContext {
  return {
    apiKey: 21,
    apiVersion: 2,
    correlationId: 1,
    clientId: null,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    services: {
      settings: { brokerId: 1 },
      authorizer: ALLOW_ALL,
      topics: { get: (name: string) => (name === TOPIC.name ? TOPIC : undefined) },
      assigner: {
        ensureOwned: async (_topicId: string, partition: number) => {
          calls.push(`ensureOwned ${partition}`);
          return null;
        },
      },
      logs: {
        deleteRecords: async (topicId: string, partition: number, offset: number) => {
          assert.equal(topicId, TOPIC.id);
          calls.push(`delete ${partition} ${offset}`);
          if (offset === 99) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 };
          if (offset === 7) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 };
          return { errorCode: ErrorCode.NONE, lowWatermark: offset === -1 ? 42 : offset };
        },
      },
    },
  } as unknown as RequestContext;
}

test('DeleteRecords maps per-partition outcomes and passes -1 (high watermark) through', async () => {
  const calls: string[] = [];
  const request: DeleteRecordsRequest = {
    timeoutMs: 1000,
    topics: [
      { name: 'orders', partitions: [{ partitionIndex: 0, offset: 5n }, { partitionIndex: 1, offset: -1n }, { partitionIndex: 2, offset: 1n }] },
      { name: 'missing', partitions: [{ partitionIndex: 0, offset: 1n }] },
    ],
  };
  const response = (await deleteRecordsApi.handle(request as never, context(calls))) as DeleteRecordsResponse;
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
  // Ownership is ensured before each delete; unknown partitions never reach the log service.
  assert.deepEqual(calls.sort(), ['delete 0 5', 'delete 1 -1', 'ensureOwned 0', 'ensureOwned 1']);
});

test('DeleteRecords reports OFFSET_OUT_OF_RANGE and NOT_LEADER_OR_FOLLOWER per partition', async () => {
  const request: DeleteRecordsRequest = { timeoutMs: 1000, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 99n }, { partitionIndex: 1, offset: 7n }] }] };
  const response = (await deleteRecordsApi.handle(request as never, context([]))) as DeleteRecordsResponse;
  assert.deepEqual(response.topics[0]?.partitions.map((p) => p.errorCode), [ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
  const error = deleteRecordsApi.errorResponse(request as never, ErrorCode.UNKNOWN_SERVER_ERROR, 'x', context([])) as DeleteRecordsResponse;
  assert.deepEqual(error.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.lowWatermark]), [[0, ErrorCode.UNKNOWN_SERVER_ERROR, -1n], [1, ErrorCode.UNKNOWN_SERVER_ERROR, -1n]]);
});
