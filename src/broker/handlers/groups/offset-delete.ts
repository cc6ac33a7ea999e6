import { ApiKey } from '../../../protocol/api-keys.ts';
import { decodeData } from '../../../protocol/codec/index.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { DATA_SCHEMAS, type ConsumerProtocolSubscription, type OffsetDeleteRequest } from '../../../protocol/messages/index.ts';
import { defineApi } from '../../api-handler.ts';

/**
 * OffsetDelete 0 (KIP-496). Deleting offsets of a topic an active consumer group subscribes to is
 * refused with GROUP_SUBSCRIBED_TO_TOPIC; the subscriptions are read from the members' consumer
 * protocol metadata here, in the protocol layer's terms, so the coordinator keeps metadata opaque.
 */
export const offsetDeleteApi = defineApi({
  apiKey: ApiKey.OffsetDelete,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    const { topics, groups } = context.services;
    const wanted: { topic: string; partition: number }[] = [];
    for (const t of request.topics) {
      if (topics.get(t.name) === undefined) continue;
      for (const p of t.partitions) wanted.push({ topic: t.name, partition: p.partitionIndex });
    }
    const result = await groups.deleteOffsets(request.groupId, wanted, subscribedTopics);
    if (result.errorCode !== ErrorCode.NONE) return { errorCode: result.errorCode, throttleTimeMs: 0, topics: [] };
    const codes = new Map(wanted.map((w, i) => [`${w.topic}\0${w.partition}`, result.partitions[i] ?? ErrorCode.NONE]));
    return response(request, ErrorCode.NONE, (topic, partition) =>
      topics.get(topic) === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : (codes.get(`${topic}\0${partition}`) ?? ErrorCode.NONE),
    );
  },
  errorResponse(request, errorCode) {
    return response(request, errorCode, () => errorCode);
  },
});

function response(request: OffsetDeleteRequest, errorCode: number, codeOf: (topic: string, partition: number) => number) {
  return {
    errorCode,
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })) })),
  };
}

/** Topics of a ConsumerProtocolSubscription (int16 version, then the struct); null if unreadable. */
export function subscribedTopics(metadata: Buffer): readonly string[] | null {
  if (metadata.length < 2) return null;
  try {
    const version = Math.min(metadata.readInt16BE(0), 3);
    return decodeData<ConsumerProtocolSubscription>(DATA_SCHEMAS.ConsumerProtocolSubscription, version, metadata, 2).topics;
  } catch {
    return null;
  }
}
