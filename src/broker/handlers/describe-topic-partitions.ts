import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DescribeTopicPartitionsResponse } from '../../protocol/messages/index.ts';
import { defineApi } from '../api-handler.ts';
import { allowed, authorizedOperations, Op, Resource, visible } from './authorize.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, ZERO_UUID } from '../../protocol/sentinel-values.ts';
import { describeTopic } from './metadata.ts';

type ResponseTopic = DescribeTopicPartitionsResponse['topics'][number];

/**
 * DescribeTopicPartitions (KIP-966): topics sorted by name, paginated by ResponsePartitionLimit with a
 * cursor (topic name + first partition of the next page). An empty topic list means all topics.
 */
export const describeTopicPartitionsApi = defineApi({
  apiKey: ApiKey.DescribeTopicPartitions,
  name: 'DescribeTopicPartitions',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    const { services } = context;
    const limit = Math.max(1, Math.min(request.responsePartitionLimit, 2000));
    const names = request.topics.length === 0
      ? services.topics.list().map((t) => t.name).filter((name) => visible(context, Op.DESCRIBE, Resource.TOPIC, name))
      : [...new Set(request.topics.map((t) => t.name))].sort();
    const cursor = request.cursor;
    const topics: ResponseTopic[] = [];
    let budget = limit;
    let nextCursor: DescribeTopicPartitionsResponse['nextCursor'] = null;
    for (const name of names) {
      if (cursor !== null && name < cursor.topicName) continue;
      if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, name)) {
        topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED });
        continue;
      }
      const topic = services.topics.get(name);
      if (topic === undefined) {
        topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED });
        continue;
      }
      if (budget === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const first = cursor !== null && name === cursor.topicName ? Math.max(0, cursor.partitionIndex) : 0;
      const described = describeTopic(topic, services);
      const partitions = described.partitions.slice(first, first + budget).map((p) => ({ ...p, eligibleLeaderReplicas: null, lastKnownElr: null }));
      budget -= partitions.length;
      topics.push({ ...described, partitions, topicAuthorizedOperations: authorizedOperations(context, Resource.TOPIC, name) });
      if (first + partitions.length < topic.partitions) {
        nextCursor = { topicName: name, partitionIndex: first + partitions.length };
        break;
      }
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
  errorResponse(request, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({ errorCode, name: t.name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED })),
      nextCursor: null,
    };
  },
});
