/**
 * Committed offsets of a consumer group: OffsetFetch (v8+ asks per group in `groups`, older versions at
 * the top level) and OffsetCommit (generation -1 and an empty member id commit for an empty group, as
 * Kafka's admin tools do when they reset offsets).
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { kafkaError } from './cli-error.ts';
import type { KafkaConnection } from './kafka-connection.ts';

/** topic → partition → committed offset (partitions without a commit are left out). */
export type CommittedOffsets = Map<string, Map<number, bigint>>;

export interface TopicPartitions {
  readonly name: string;
  readonly partitions: readonly number[];
}

export async function fetchCommittedOffsets(
  coordinator: KafkaConnection, groupId: string, topics: readonly TopicPartitions[] | null,
): Promise<CommittedOffsets> {
  const wanted = topics === null ? null : topics.map((t) => ({ name: t.name, partitionIndexes: [...t.partitions] }));
  const { version, body } = await coordinator.request(ApiKey.OffsetFetch, {
    groupId,
    topics: wanted,
    groups: [{ groupId, memberId: null, memberEpoch: -1, topics: wanted }],
    requireStable: false,
  });
  const group = version >= 8 ? body.groups.find((g) => g.groupId === groupId) : { groupId, errorCode: body.errorCode, topics: body.topics };
  if (group === undefined) return new Map();
  if (group.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}'`, group.errorCode);
  const result: CommittedOffsets = new Map();
  for (const topic of group.topics) {
    const offsets = new Map<number, bigint>();
    for (const p of topic.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}' topic '${topic.name}' partition ${p.partitionIndex}`, p.errorCode);
      if (p.committedOffset >= 0n) offsets.set(p.partitionIndex, p.committedOffset);
    }
    if (offsets.size > 0) result.set(topic.name, offsets);
  }
  return result;
}

export interface CommitIdentity {
  readonly generationId: number;
  readonly memberId: string;
}

/** The identity an admin tool commits with: only accepted while the group has no active members. */
export const ADMIN_COMMIT: CommitIdentity = { generationId: -1, memberId: '' };

export async function commitOffsets(
  coordinator: KafkaConnection, groupId: string, identity: CommitIdentity, topic: string, offsets: ReadonlyMap<number, bigint>,
): Promise<void> {
  if (offsets.size === 0) return;
  const { body } = await coordinator.request(ApiKey.OffsetCommit, {
    groupId,
    generationIdOrMemberEpoch: identity.generationId,
    memberId: identity.memberId,
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [{
      name: topic,
      partitions: [...offsets].map(([partitionIndex, committedOffset]) => ({
        partitionIndex, committedOffset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null,
      })),
    }],
  });
  for (const t of body.topics) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}' topic '${t.name}' partition ${p.partitionIndex}`, p.errorCode);
    }
  }
}
