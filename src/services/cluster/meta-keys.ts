/**
 * The metadata key schema: every key kafscale writes to the metadata store is built here and nowhere
 * else. Documented in docs/design/metadata.md.
 *
 * Topic names are validated to Kafka's legal characters ([a-zA-Z0-9._-]) before they reach a key, and
 * partition data is keyed by topic *id*, so a re-created topic never sees the old topic's state.
 */
const ROOT = '/kafscale';

export const MetaKeys = {
  clusterId: `${ROOT}/cluster/id`,
  brokersPrefix: `${ROOT}/brokers/`,
  broker: (brokerId: number): string => `${ROOT}/brokers/${pad(brokerId)}`,
  topicsPrefix: `${ROOT}/topics/`,
  topic: (name: string): string => `${ROOT}/topics/${name}`,
  topicIdsPrefix: `${ROOT}/topic-ids/`,
  topicId: (topicId: string): string => `${ROOT}/topic-ids/${topicId}`,
  /** Everything that belongs to one topic incarnation's partitions (owners, log entries, producer state). */
  partitionsOfTopicPrefix: (topicId: string): string => `${ROOT}/partitions/${topicId}/`,
  partitionPrefix: (topicId: string, partition: number): string => `${ROOT}/partitions/${topicId}/${pad(partition)}/`,
  /** Topics deleted whose objects still wait for collection. */
  deletedTopic: (topicId: string): string => `${ROOT}/deleted-topics/${topicId}`,
  deletedTopicsPrefix: `${ROOT}/deleted-topics/`,
} as const;

/** Zero-padded so that key order equals numeric order (range reads come back sorted by key). */
function pad(n: number): string {
  return n.toString().padStart(10, '0');
}
