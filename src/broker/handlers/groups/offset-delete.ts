import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import type { OffsetDeleteRequest } from '../../../protocol/messages/index.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';

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
    // Kafka: DELETE on the group, READ on each topic.
    if (!allowed(context, Op.DELETE, Resource.GROUP, request.groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const unreadable = new Set(request.topics.filter((t) => !allowed(context, Op.READ, Resource.TOPIC, t.name)).map((t) => t.name));
    const wanted: { topic: string; partition: number }[] = [];
    for (const t of request.topics) {
      if (unreadable.has(t.name) || topics.get(t.name) === undefined) continue;
      for (const p of t.partitions) wanted.push({ topic: t.name, partition: p.partitionIndex });
    }
    const result = await groups.deleteOffsets(request.groupId, wanted, subscribedTopics);
    if (result.errorCode !== ErrorCode.NONE) return { errorCode: result.errorCode, throttleTimeMs: 0, topics: [] };
    const codes = new Map(wanted.map((w, i) => [`${w.topic}\0${w.partition}`, result.partitions[i] ?? ErrorCode.NONE]));
    return response(request, ErrorCode.NONE, (topic, partition) =>
      unreadable.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : topics.get(topic) === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : (codes.get(`${topic}\0${partition}`) ?? ErrorCode.NONE),
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

/**
 * Topics of a ConsumerProtocolSubscription; null if unreadable. Like Kafka's
 * `ClassicGroup.computeSubscribedTopics`, only the v0 part that every version starts with is read
 * (int16 version, then an array of int16-length strings): clients label their metadata with versions
 * whose later fields they do not all write (@platformatic/kafka says v1 and writes v0's fields), and a
 * subscription must not be missed because of a field the answer does not need.
 */
export function subscribedTopics(metadata: Buffer): readonly string[] | null {
  if (metadata.length < 6) return null;
  const count = metadata.readInt32BE(2);
  if (count < 0 || count > (metadata.length - 6) / 2) return null;
  const topics: string[] = [];
  let offset = 6;
  for (let i = 0; i < count; i++) {
    if (offset + 2 > metadata.length) return null;
    const length = metadata.readInt16BE(offset);
    offset += 2;
    if (length < 0 || offset + length > metadata.length) return null;
    topics.push(metadata.toString('utf8', offset, offset + length));
    offset += length;
  }
  return topics;
}
