/**
 * ListOffsets for some partitions of one topic, each asked of its leader: earliest (-2), latest (-1)
 * or the first offset at or after a timestamp (ms since epoch).
 */
import { ApiKey } from '../protocol/api-keys.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { kafkaError } from './cli-error.ts';
import type { KafkaClient, MetadataTopic } from './kafka-client.ts';

export const EARLIEST = -2n;
export const LATEST = -1n;

export interface PartitionOffset {
  /** -1 when no record has a timestamp at or after the one asked for. */
  readonly offset: bigint;
  readonly timestamp: bigint;
}

export async function listOffsets(
  client: KafkaClient, topic: MetadataTopic, partitions: readonly number[], timestamp: bigint,
): Promise<Map<number, PartitionOffset>> {
  const name = topic.name ?? '';
  const byLeader = new Map<number, number[]>();
  for (const partition of partitions) {
    const leader = topic.partitions.find((p) => p.partitionIndex === partition)?.leaderId ?? -1;
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
  }
  const result = new Map<number, PartitionOffset>();
  await Promise.all([...byLeader.values()].map(async (group) => {
    const connection = await client.leader(topic, group[0]!);
    const { body } = await connection.request(ApiKey.ListOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name, partitions: group.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 })) }],
      timeoutMs: 30_000,
    });
    for (const t of body.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}' partition ${p.partitionIndex}`, p.errorCode);
        // v0 answered with a list of offsets; every later version with one offset.
        const offset = p.oldStyleOffsets.length > 0 && p.offset === -1n ? p.oldStyleOffsets[0]! : p.offset;
        result.set(p.partitionIndex, { offset, timestamp: p.timestamp });
      }
    }
  }));
  return result;
}
