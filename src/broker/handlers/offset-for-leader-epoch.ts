import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { OffsetForLeaderEpochResponse } from '../../protocol/messages/index.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { leaderEpochError } from './leader-epoch.ts';

type EpochEndOffset = OffsetForLeaderEpochResponse['topics'][number]['partitions'][number];

/**
 * OffsetForLeaderEpoch 0–4 (KIP-101, KIP-320): the end offset of the requested epoch, answered from the
 * partition's epoch history; consumers use it to detect log truncation after a leader change. v0 has no
 * leader epoch in the answer and v0–1 no current leader epoch in the request (-1: not checked).
 */
export const offsetForLeaderEpochApi = defineApi({
  apiKey: ApiKey.OffsetForLeaderEpoch,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,
  async handle(request, context) {
    const topics = [];
    for (const t of request.topics) {
      const partitions: EpochEndOffset[] = [];
      if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, t.topic)) {
        topics.push({ topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) });
        continue;
      }
      for (const p of t.partitions) partitions.push(await endOffset(t.topic, p.partition, p.currentLeaderEpoch, p.leaderEpoch, context));
      topics.push({ topic: t.topic, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, errorCode)) })),
    };
  },
});

async function endOffset(topicName: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number, context: RequestContext): Promise<EpochEndOffset> {
  const { services } = context;
  const topic = services.topics.get(topicName);
  if (topic === undefined || partition < 0 || partition >= topic.partitions) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const epochError = leaderEpochError(services, topic.id, partition, currentLeaderEpoch);
  if (epochError !== ErrorCode.NONE) return failed(partition, epochError);
  const result = await services.logs.epochEndOffset(topic.id, partition, leaderEpoch);
  return { errorCode: result.errorCode, partition, leaderEpoch: result.leaderEpoch, endOffset: BigInt(result.endOffset) };
}

function failed(partition: number, errorCode: number): EpochEndOffset {
  return { errorCode, partition, leaderEpoch: -1, endOffset: -1n };
}
