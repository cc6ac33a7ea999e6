import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../../../protocol/messages/index.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';

/** Kafka's offset.metadata.max.bytes default. */
export const OFFSET_METADATA_MAX_BYTES = 4096;

/**
 * OffsetCommit 0–9. v0 has no generation or member (KIP-896 removed v0–1 in Kafka 4.0; deployed clients
 * such as sarama still send v1): it is a simple commit, generation -1 and no member, which the
 * coordinator accepts while the group is Empty, as any such commit (Kafka kept v0 offsets in ZooKeeper;
 * kafscale keeps them with every other commit). v1 carries a commit timestamp per partition (-1: now)
 * that becomes the offset's commit time, from which the offset ages out. v2–4 carry a retention time.
 * Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION and oversized metadata
 * OFFSET_METADATA_TOO_LARGE (as KafkaApis checks them); the rest go to the coordinator in one call,
 * which writes them in as few metadata transactions as the limits allow.
 */
export const offsetCommitApi = defineApi({
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 9,
  async handle(request, context) {
    const { topics, groups } = context.services;
    // Kafka: READ on the group for the whole request, then READ on each topic.
    if (!allowed(context, Op.READ, Resource.GROUP, request.groupId)) return response(request, () => ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const readable = request.topics.map((t) => allowed(context, Op.READ, Resource.TOPIC, t.name));
    const codes: number[][] = request.topics.map((t, ti) =>
      t.partitions.map((p) => {
        if (readable[ti] !== true) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        if (topics.get(t.name) === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > OFFSET_METADATA_MAX_BYTES) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
        return ErrorCode.NONE;
      }),
    );
    const valid: { topic: string; partition: number; offset: bigint; leaderEpoch: number; metadata: string | null; commitTimestampMs: number; at: [number, number] }[] = [];
    request.topics.forEach((t, ti) =>
      t.partitions.forEach((p, pi) => {
        if (codes[ti]?.[pi] !== ErrorCode.NONE) return;
        valid.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: context.apiVersion >= 6 ? p.committedLeaderEpoch : -1,
          metadata: p.committedMetadata,
          commitTimestampMs: context.apiVersion === 1 ? Number(p.commitTimestamp) : -1,
          at: [ti, pi],
        });
      }),
    );
    if (valid.length > 0 || request.groupId === '') {
      const results = await groups.commitOffsets({
        groupId: request.groupId,
        generationId: request.generationIdOrMemberEpoch,
        memberId: request.memberId,
        groupInstanceId: context.apiVersion >= 7 ? request.groupInstanceId : null,
        retentionTimeMs: context.apiVersion <= 4 ? Number(request.retentionTimeMs) : -1,
        apiVersion: context.apiVersion,
        offsets: valid,
      });
      valid.forEach((v, i) => {
        const row = codes[v.at[0]];
        if (row !== undefined) row[v.at[1]] = results[i] ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      });
      if (request.groupId === '') for (const row of codes) row.fill(ErrorCode.INVALID_GROUP_ID);
    }
    return response(request, (ti, pi) => codes[ti]?.[pi] ?? ErrorCode.UNKNOWN_SERVER_ERROR);
  },
  errorResponse(request, errorCode) {
    return response(request, () => errorCode);
  },
});

function response(request: OffsetCommitRequest, codeOf: (topicIndex: number, partitionIndex: number) => number): OffsetCommitResponse {
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((t, ti) => ({ name: t.name, partitions: t.partitions.map((p, pi) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(ti, pi) })) })),
  };
}
