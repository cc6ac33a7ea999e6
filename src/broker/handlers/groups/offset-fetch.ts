import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import type { OffsetFetchResponse } from '../../../protocol/messages/index.ts';
import type { CommittedOffset } from '../../../services/groups/index.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource, visible } from '../authorize.ts';
import type { RequestContext } from '../../broker-services.ts';

type FetchedTopic = OffsetFetchResponse['topics'][number];
type WantedTopics = readonly { name: string; partitionIndexes: readonly number[] }[] | null;

/**
 * OffsetFetch 0–9 (v0 is v1 on the wire; Kafka read v0 offsets from ZooKeeper, kafscale has one store). Topics null (v2+) means every partition with a commit; a partition without one gets
 * offset -1. v8+ fetches several groups at once (KIP-709). v0–1 have no group-level error field, so a
 * group-level error is reported on every partition. There are no transactions, so no offset is ever
 * pending and require_stable (KIP-447) needs no waiting. v9's member id and epoch are checked for KIP-848
 * consumer groups (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH), as Kafka.
 */
export const offsetFetchApi = defineApi({
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 9,
  async handle(request, context) {
    if (context.apiVersion >= 8) {
      const groups = await Promise.all(
        request.groups.map(async (g) => {
          const fetched = await fetchGroup(g.groupId, g.topics, context, context.apiVersion >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : null);
          return { groupId: g.groupId, errorCode: fetched.errorCode, topics: fetched.topics };
        }),
      );
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, topics: [], groups };
    }
    const fetched = await fetchGroup(request.groupId, request.topics, context);
    return { throttleTimeMs: 0, errorCode: fetched.errorCode, topics: fetched.topics, groups: [] };
  },
  errorResponse(request, errorCode, _message, context) {
    if (context.apiVersion >= 8) return { throttleTimeMs: 0, errorCode, topics: [], groups: request.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    return { throttleTimeMs: 0, errorCode, topics: partitionErrors(request.topics, errorCode), groups: [] };
  },
});

/**
 * Kafka: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), then DESCRIBE on each topic: named topics
 * the principal may not see get TOPIC_AUTHORIZATION_FAILED, and "all topics" leaves them out.
 */
async function fetchGroup(
  groupId: string,
  wanted: WantedTopics,
  context: RequestContext,
  member: { memberId: string | null; memberEpoch: number } | null = null,
): Promise<{ errorCode: number; topics: FetchedTopic[] }> {
  if (!allowed(context, Op.DESCRIBE, Resource.GROUP, groupId)) {
    return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: context.apiVersion < 2 ? partitionErrors(wanted, ErrorCode.GROUP_AUTHORIZATION_FAILED) : [] };
  }
  const denied = wanted === null ? [] : wanted.filter((t) => !allowed(context, Op.DESCRIBE, Resource.TOPIC, t.name));
  const permitted = wanted === null ? null : wanted.filter((t) => !denied.includes(t));
  const topics = permitted === null ? null : permitted.map((t) => ({ name: t.name, partitions: t.partitionIndexes }));
  const result = await context.services.groups.fetchOffsets(groupId, topics, member);
  if (result.errorCode !== ErrorCode.NONE) {
    return { errorCode: result.errorCode, topics: context.apiVersion < 2 ? partitionErrors(wanted, result.errorCode) : [] };
  }
  const offsets = wanted === null ? result.offsets.filter((o) => visible(context, Op.DESCRIBE, Resource.TOPIC, o.topic)) : result.offsets;
  return { errorCode: ErrorCode.NONE, topics: [...byTopic(offsets), ...partitionErrors(denied, ErrorCode.TOPIC_AUTHORIZATION_FAILED)] };
}

function byTopic(offsets: readonly CommittedOffset[]): FetchedTopic[] {
  const topics = new Map<string, FetchedTopic>();
  for (const o of offsets) {
    let topic = topics.get(o.topic);
    if (topic === undefined) {
      topic = { name: o.topic, partitions: [] };
      topics.set(o.topic, topic);
    }
    topic.partitions.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', errorCode: ErrorCode.NONE });
  }
  return [...topics.values()];
}

function partitionErrors(wanted: WantedTopics, errorCode: number): FetchedTopic[] {
  return (wanted ?? []).map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode })),
  }));
}
