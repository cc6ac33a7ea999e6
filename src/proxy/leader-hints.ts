/** Leader hints in Produce and Fetch answers (KIP-951), rewritten for the proxy's clients. */
import type { ClusterView } from './cluster-view.ts';
import type { PartitionedShape } from './partition-split.ts';
import { PROXY_NODE_ID, type ProxyIdentity } from './proxy-identity.ts';

type Struct = Record<string, unknown>;

/**
 * KIP-951 leader hints name the partition's virtual broker (proxy-identity.ts), the one Metadata names:
 * clients must never learn a broker address, and a hint must not move a partition between virtual brokers.
 */
export function nameProxyAsLeader(shape: PartitionedShape, response: Struct, identity: ProxyIdentity, view: ClusterView): void {
  const names = shape.response;
  const named = new Set<number>();
  for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
    const partitions = (topic[names.partitions] as Struct[] | undefined) ?? [];
    let topicName: string | null = null;
    topic[names.partitions] = partitions.map((partition) => {
      const leader = partition['currentLeader'] as { leaderId: number; leaderEpoch: number } | undefined;
      if (leader === undefined || leader.leaderId < 0) return partition;
      topicName ??= responseTopicName(shape, topic, view);
      const leaderId = identity.leaderOf(topicName, partition[names.index] as number);
      named.add(leaderId);
      return { ...partition, currentLeader: { leaderId, leaderEpoch: leader.leaderEpoch } };
    });
  }
  const endpoints = response['nodeEndpoints'] as unknown[] | undefined;
  if (named.size === 0 && endpoints !== undefined && endpoints.length > 0) named.add(PROXY_NODE_ID);
  response['nodeEndpoints'] = [...named].sort((a, b) => a - b).map((nodeId) => ({ ...identity.broker(nodeId), rack: null }));
}

function responseTopicName(shape: PartitionedShape, topic: Struct, view: ClusterView): string {
  const name = topic[shape.response.topicName];
  if (typeof name === 'string' && name !== '') return name;
  const id = shape.response.topicId === null ? null : topic[shape.response.topicId];
  return (typeof id === 'string' ? view.topicName(id) : null) ?? '';
}

/** True when some partition of the answer names a leader (a hint the proxy must rewrite). */
export function someLeaderNamed(shape: PartitionedShape, response: Struct): boolean {
  const names = shape.response;
  for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
    for (const partition of (topic[names.partitions] as Struct[] | undefined) ?? []) {
      const leader = partition['currentLeader'] as { leaderId: number } | undefined;
      if (leader !== undefined && leader.leaderId >= 0) return true;
    }
  }
  return false;
}
