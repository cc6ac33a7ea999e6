import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DeleteRecordsResponse } from '../../protocol/messages/index.ts';
import { defineApi } from '../api-handler.ts';
import { allowed, Op, Resource } from './authorize.ts';

type TopicResult = DeleteRecordsResponse['topics'][number];

/**
 * DeleteRecords 0–2: moves each partition's log start offset (Kafka's low watermark) forward on the
 * partition's owner. Offset -1 means the high watermark. The change is committed before the response, so
 * TimeoutMs has nothing to wait for. A partition this broker should lead but does not own yet is taken
 * first (as Produce does); one led elsewhere gets NOT_LEADER_OR_FOLLOWER and the client re-routes.
 */
export const deleteRecordsApi = defineApi({
  apiKey: ApiKey.DeleteRecords,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, context) {
    const { topics, logs, assigner } = context.services;
    const results: TopicResult[] = [];
    for (const wanted of request.topics) {
      const topic = topics.get(wanted.name);
      const deletable = allowed(context, Op.DELETE, Resource.TOPIC, wanted.name);
      const partitions = await Promise.all(wanted.partitions.map(async (p) => {
        if (!deletable) return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
        if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions) {
          return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        }
        const offset = Number(p.offset);
        // Takes the partition if this broker leads it but has not acquired it yet; a no-op otherwise.
        await assigner.ensureOwned(topic.id, p.partitionIndex);
        const result = await logs.deleteRecords(topic.id, p.partitionIndex, offset);
        return { partitionIndex: p.partitionIndex, lowWatermark: BigInt(result.lowWatermark), errorCode: result.errorCode };
      }));
      results.push({ name: wanted.name, partitions });
    }
    return { throttleTimeMs: 0, topics: results };
  },
  errorResponse(request, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode })),
      })),
    };
  },
});
