/**
 * The metadata key schema: every key kafscale writes to the metadata store is built here and nowhere
 * else. Documented in docs/design/metadata.md.
 *
 * Topic names are validated to Kafka's legal characters ([a-zA-Z0-9._-]) before they reach a key, and
 * partition data is keyed by topic *id*, so a re-created topic never sees the old topic's state.
 */
const ROOT = '/kafscale';

const LOG_SUFFIX_PREFIX = 'log/';
const LOG_OFFSET_DIGITS = 20;

/**
 * The log-entry part of a partition key, `log/{baseOffset}`, in both directions. The offset has 20
 * digits so that any int64 offset sorts numerically; a key built or parsed anywhere else could drift
 * from this format and make entries invisible to the read path and the merger.
 */
export const LogKeys = {
  /** `log/{baseOffset:020}`: what follows the partition prefix of a log entry key. */
  suffix: (baseOffset: number): string => `${LOG_SUFFIX_PREFIX}${baseOffset.toString().padStart(LOG_OFFSET_DIGITS, '0')}`,
  /** The base offset of a partition-key suffix that names a log entry, else null ('owner', 'start', …). */
  parseSuffix: parseLogSuffix,
  /** The base offset of a full log entry key (MetaKeys.partitionLogEntry), else null. */
  baseOffsetOf: (key: string): number | null => {
    const suffixStart = key.length - LOG_SUFFIX_PREFIX.length - LOG_OFFSET_DIGITS;
    return suffixStart > 0 && key[suffixStart - 1] === '/' ? parseLogSuffix(key.slice(suffixStart)) : null;
  },
} as const;

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
  /** Every partition of every topic: the storage engine's committed-log cache watches this. */
  partitionsPrefix: `${ROOT}/partitions/`,
  /** Current owner of a partition, attached to the owner's session lease (gone when the session is). */
  partitionOwner: (topicId: string, partition: number): string => `${MetaKeys.partitionPrefix(topicId, partition)}owner`,
  /** Last owner epoch handed out; never leased, so epochs keep rising across owner crashes. */
  partitionEpoch: (topicId: string, partition: number): string => `${MetaKeys.partitionPrefix(topicId, partition)}epoch`,
  /** Leader-epoch history (epoch → first offset), for OffsetForLeaderEpoch. */
  partitionEpochHistory: (topicId: string, partition: number): string => `${MetaKeys.partitionPrefix(topicId, partition)}epochs`,
  /** Log start offset (retention, DeleteRecords). Absent = 0. */
  partitionLogStart: (topicId: string, partition: number): string => `${MetaKeys.partitionPrefix(topicId, partition)}start`,
  partitionLogPrefix: (topicId: string, partition: number): string => `${MetaKeys.partitionPrefix(topicId, partition)}log/`,
  /** One committed log entry, keyed by its base offset (parsed back by `LogKeys`). */
  partitionLogEntry: (topicId: string, partition: number, baseOffset: number): string =>
    `${MetaKeys.partitionPrefix(topicId, partition)}${LogKeys.suffix(baseOffset)}`,
  /**
   * Producer-id allocation (docs/design/idempotence.md): `{next}` = first id not yet handed to any
   * broker. Brokers take blocks of ids from it by compare-and-swap, so ids are unique cluster-wide.
   */
  producerIdBlock: `${ROOT}/producer-ids/next`,
  /** Topics deleted whose objects still wait for collection. */
  deletedTopic: (topicId: string): string => `${ROOT}/deleted-topics/${topicId}`,
  deletedTopicsPrefix: `${ROOT}/deleted-topics/`,
  /** Which broker runs the object collector now: `{brokerId}` under its session lease (one at a time). */
  objectCollector: `${ROOT}/object-collector`,
  /**
   * Consumer groups (docs/design/groups.md). Group ids are arbitrary strings, so they are
   * percent-encoded (encodeURIComponent: '/' becomes %2F) before they reach a key. One state key per
   * group; offsets live under a separate prefix so that listing groups never reads offsets.
   */
  groupsPrefix: `${ROOT}/groups/`,
  group: (groupId: string): string => `${ROOT}/groups/${encodeURIComponent(groupId)}`,
  /** KIP-848 per-group config overrides (DescribeConfigs/IncrementalAlterConfigs on GROUP resources). */
  groupConfigsPrefix: `${ROOT}/group-configs/`,
  groupConfig: (groupId: string): string => `${ROOT}/group-configs/${encodeURIComponent(groupId)}`,
  /** Committed offsets of one group: one key per (topic, partition). */
  groupOffsetsPrefix: (groupId: string): string => `${ROOT}/group-offsets/${encodeURIComponent(groupId)}/`,
  groupOffset: (groupId: string, topic: string, partition: number): string =>
    `${ROOT}/group-offsets/${encodeURIComponent(groupId)}/${encodeURIComponent(topic)}/${pad(partition)}`,
  /**
   * ACL bindings (docs/design/metadata.md), one key per binding, derived from the whole binding so
   * that creating it twice writes one key: `{resourceType}/{patternType}/{name}/{principal}/{host}/{operation}/{permission}`,
   * the strings percent-encoded. Every broker watches the prefix.
   */
  aclsPrefix: `${ROOT}/acls/`,
  acl: (b: AclKeyParts): string =>
    `${ROOT}/acls/${b.resourceType}/${b.patternType}/${encodeURIComponent(b.resourceName)}/${encodeURIComponent(b.principal)}/${encodeURIComponent(b.host)}/${b.operation}/${b.permission}`,
  /**
   * SCRAM credentials (docs/security.md): one key per (user, mechanism) holding salt, iterations,
   * StoredKey and ServerKey — never a password. User names are percent-encoded.
   */
  scramCredentialsPrefix: `${ROOT}/scram-credentials/`,
  scramCredential: (user: string, mechanism: string): string => `${ROOT}/scram-credentials/${encodeURIComponent(user)}/${mechanism}`,
} as const;

/** The fields of an ACL binding that make its key (structurally an AclBinding). */
export interface AclKeyParts {
  readonly resourceType: number;
  readonly patternType: number;
  readonly resourceName: string;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permission: number;
}

export interface PartitionKey {
  readonly topicId: string;
  readonly partition: number;
  /** What follows the partition prefix: 'owner', 'epoch', 'epochs', 'start', 'log/{baseOffset}', … */
  readonly suffix: string;
}

/** Splits a key under `MetaKeys.partitionsPrefix`; null for anything else. */
export function parsePartitionKey(key: string): PartitionKey | null {
  if (!key.startsWith(MetaKeys.partitionsPrefix)) return null;
  const rest = key.slice(MetaKeys.partitionsPrefix.length);
  const slash1 = rest.indexOf('/');
  if (slash1 <= 0) return null;
  const slash2 = rest.indexOf('/', slash1 + 1);
  if (slash2 !== slash1 + 11) return null;
  const partition = Number(rest.slice(slash1 + 1, slash2));
  if (!Number.isInteger(partition)) return null;
  return { topicId: rest.slice(0, slash1), partition, suffix: rest.slice(slash2 + 1) };
}

/** The base offset of a partition-key suffix that names a log entry, else null ('owner', 'start', …). */
function parseLogSuffix(suffix: string): number | null {
  if (suffix.length !== LOG_SUFFIX_PREFIX.length + LOG_OFFSET_DIGITS || !suffix.startsWith(LOG_SUFFIX_PREFIX)) return null;
  for (let i = LOG_SUFFIX_PREFIX.length; i < suffix.length; i++) {
    const code = suffix.charCodeAt(i);
    if (code < 48 || code > 57) return null; // decimal digits only
  }
  return Number(suffix.slice(LOG_SUFFIX_PREFIX.length));
}

/** Zero-padded so that key order equals numeric order (range reads come back sorted by key). */
function pad(n: number): string {
  return n.toString().padStart(10, '0');
}
