/**
 * What each setting means, and its names. One rule derives the names from the schema key, so they
 * cannot drift: `s3SseKmsKeyId` → env `KAFSCALE_S3_SSE_KMS_KEY_ID`, flag `--s3-sse-kms-key-id`,
 * file key `"s3SseKmsKeyId"`.
 */
import { CONFIG_DEFAULTS, type SettingKey } from './config-schema.ts';
import { profiledDefaultNote } from './flush-profiles.ts';

interface SettingDoc {
  readonly description: string;
  /** Never logged or echoed in error messages. */
  readonly secret?: true;
  /** Shown in help when there is no literal default. */
  readonly defaultNote?: string;
  /** A filesystem path, resolved against the working directory. */
  readonly path?: true;
}

const DOCS = {
  brokerId: {
    description: 'Broker id (node id) this broker registers under; unique per cluster',
    defaultNote: '0 with embedded metadata; with etcd the lowest id no live broker holds, allocated at start',
  },
  brokerAddr: { description: 'Kafka listener address, host:port (port 0: any free port)' },
  brokerHost: { description: 'Host advertised to clients in Metadata responses' },
  brokerPort: { description: 'Port advertised to clients', defaultNote: 'the listen port' },
  brokerRack: { description: 'Rack advertised to clients (rack-aware clients use it)' },
  metricsAddr: { description: 'Ops HTTP listener address: /metrics, /healthz, /readyz, admin API' },
  dataDir: { description: 'Root of the embedded default: objects under <dir>/objects, metadata under <dir>/meta', path: true },
  s3Bucket: { description: 'S3 bucket for log objects; setting it selects S3 instead of <dataDir>/objects' },
  s3Endpoint: { description: 'S3 endpoint URL for S3-compatible stores (MinIO etc.)', defaultNote: 'AWS for the region' },
  s3Region: { description: 'S3 region' },
  s3PathStyle: { description: 'Use path-style S3 URLs (needed by most S3-compatible stores)' },
  s3AccessKey: { description: 'S3 access key id', defaultNote: 'AWS default credential chain' },
  s3SecretKey: { description: 'S3 secret access key', secret: true },
  s3Namespace: { description: 'Key prefix for all objects of this cluster (lets clusters share a bucket)' },
  s3SseKmsKeyId: { description: 'KMS key id for SSE-KMS server-side encryption of objects' },
  etcdEndpoints: { description: 'Comma-separated etcd endpoints; setting them selects etcd instead of <dataDir>/meta' },
  etcdUsername: { description: 'etcd user name' },
  etcdPassword: { description: 'etcd password', secret: true },
  etcdCaFile: { description: 'PEM CA bundle to verify etcd servers', path: true },
  etcdCertFile: { description: 'PEM client certificate for etcd', path: true },
  etcdKeyFile: { description: 'PEM client private key for etcd', path: true },
  cacheBytes: { description: 'Byte budget of the in-memory cache of object ranges served to Fetch' },
  logTailBytes: { description: 'Byte budget of the owners\' in-memory tails of recently acknowledged batches, served to hot consumers without a read; 0 turns the tail off' },
  readAheadBytes: { description: 'Byte budget of read-ahead for sequential consumers of object storage: ranges queued, in flight and held unread; 0 disables it' },
  autoCreateTopics: { description: 'Create unknown topics on Metadata/Produce requests (auto.create.topics.enable)' },
  autoCreatePartitions: { description: 'Partition count of auto-created topics (num.partitions)' },
  logLevel: { description: 'Log level: fatal, error, warn, info, debug, trace or silent' },
  clusterId: { description: 'Cluster id to create or expect; a mismatch with the store fails start-up', defaultNote: 'generated on first start' },
  socketRequestMaxBytes: { description: 'Largest request frame accepted; larger ones close the connection (socket.request.max.bytes)' },
  connectionsMaxIdleMs: { description: 'Close connections idle this long (connections.max.idle.ms)' },
  maxInflightRequests: { description: 'Pipelined requests processed at once per connection; beyond it the broker stops reading' },
  queuedMaxRequestBytes: { description: 'Request bytes held in memory broker-wide; beyond it the broker stops reading from sockets (queued.max.request.bytes)' },
  maxConnections: { description: 'Client connections accepted at once; more are closed on accept (max.connections)' },
  maxConnectionsPerIp: { description: 'Client connections accepted at once from one IP address; more are closed on accept (max.connections.per.ip)' },
  flushProfile: { description: 'Defaults of the flush and merge settings below: latency, balanced or cost (fewer object-store PUTs per GiB for more produce latency; docs/design/flush-profiles.md)' },
  flushLingerMs: { description: 'Wait this long for more data before a flush starts (flush.linger.ms)', defaultNote: profiledDefaultNote('flushLingerMs') },
  flushIdleLingerMs: { description: 'The linger while no flush is in flight, at most flushLingerMs: on an idle pipeline waiting rarely saves a PUT and always adds latency', defaultNote: profiledDefaultNote('flushIdleLingerMs') },
  flushMaxBytes: { description: 'A WAL object closes at this size (flush.max.bytes)', defaultNote: profiledDefaultNote('flushMaxBytes') },
  flushMaxInflight: { description: 'Flushes (PUT + commit) running at once per broker', defaultNote: profiledDefaultNote('flushMaxInflight') },
  flushMaxPendingBytes: { description: 'Produced bytes held broker-wide until their flush is committed (queued + in flight); a produce beyond it waits for room; at least flushMaxBytes' },
  mergeMaxWalEntries: { description: 'Merge a partition into a segment once it has more WAL entries than this (each merge writes 2 objects)', defaultNote: profiledDefaultNote('mergeMaxWalEntries') },
  mergeMaxWalAgeMs: { description: "… or once its oldest WAL entry is this old", defaultNote: profiledDefaultNote('mergeMaxWalAgeMs') },
  brokerSessionTtlMs: { description: 'Broker session lease TTL; partitions move this long after a broker dies' },
  groupInitialRebalanceDelayMs: { description: 'Delay of the first rebalance of an empty group (group.initial.rebalance.delay.ms)' },
  groupMinSessionTimeoutMs: { description: 'Smallest consumer session timeout accepted (group.min.session.timeout.ms)' },
  groupMaxSessionTimeoutMs: { description: 'Largest consumer session timeout accepted (group.max.session.timeout.ms)' },
  groupConsumerSessionTimeoutMs: { description: 'Session timeout of KIP-848 consumer-group members (group.consumer.session.timeout.ms)' },
  groupConsumerHeartbeatIntervalMs: { description: 'Heartbeat interval told to KIP-848 consumer-group members (group.consumer.heartbeat.interval.ms)' },
  groupConsumerAssignors: { description: "KIP-848 server-side assignors, separated by ','; the first is the default, a member naming another gets UNSUPPORTED_ASSIGNOR (group.consumer.assignors)" },
  offsetsRetentionMinutes: { description: 'Keep committed offsets of empty groups this long (offsets.retention.minutes)' },
  maxIncrementalFetchSessionCacheSlots: { description: 'Incremental fetch sessions (KIP-227) a broker keeps at once; 0 turns them off (max.incremental.fetch.session.cache.slots)' },
  authorizer: { description: "Authorization: 'none' allows every request; 'acl' enforces Kafka ACLs from the metadata store (authorizer.class.name)" },
  superUsers: { description: "Principals allowed everything with the ACL authorizer, separated by ';' (super.users), e.g. User:admin;User:ops", defaultNote: 'none' },
  allowEveryoneIfNoAclFound: { description: 'With the ACL authorizer, allow everyone on resources no ACL applies to (allow.everyone.if.no.acl.found)' },
  listeners: { description: 'Kafka listeners, NAME://host:port,… (listeners); names PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL or mapped ones', defaultNote: 'PLAINTEXT://<brokerAddr>' },
  advertisedListeners: { description: 'Addresses given to clients per listener, NAME://host:port,… (advertised.listeners)', defaultNote: '<brokerHost>:<listener port>' },
  listenerSecurityProtocolMap: { description: 'Security protocol of custom listener names, NAME:PROTOCOL,… (listener.security.protocol.map)' },
  tlsCertFile: { description: 'PEM certificate chain of SSL and SASL_SSL listeners; re-read when it changes', path: true },
  tlsKeyFile: { description: 'PEM private key of the listener certificate', path: true },
  tlsCaFile: { description: 'PEM CA bundle client certificates must chain to (mTLS)', path: true },
  tlsClientAuth: { description: 'Client certificates: none, requested or required (ssl.client.auth)' },
  tlsPrincipalMappingRules: { description: 'Client certificate subject → principal: RULE:pattern/replacement/[L|U],…,DEFAULT (ssl.principal.mapping.rules)' },
  tlsReloadIntervalMs: { description: 'How often the TLS files are checked for changes' },
  saslMechanisms: { description: 'SASL mechanisms offered: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (sasl.enabled.mechanisms)' },
  authFailureDelayMs: { description: 'Delay before answering a failed authentication (connection.failed.authentication.delay.ms)' },
  connectionsMaxReauthMs: { description: 'SASL session lifetime; clients must re-authenticate within it, 0 = never (connections.max.reauth.ms, KIP-368)' },
  opsTls: { description: 'Serve the ops HTTP listener over HTTPS with the listener certificate (tlsCertFile/tlsKeyFile)' },
  opsTokenFile: { description: 'File holding a bearer token every ops HTTP request but /healthz must send', path: true },
  console: { description: 'Serve the web console (/ui) and its JSON API (/api/v1) on the ops listener — see docs/console.md' },
  consoleMaxBytes: { description: 'Most record bytes one console message-browser request returns (and the largest test message it produces)' },
  consoleAllowUnauthenticated: { description: 'Allow the console without SASL on an ops listener that is not bound to loopback (anyone who reaches it can act)' },
  logInvariantChecks: { description: 'Check the partition log invariants after every commit and log violations (tests, fault runs)' },
  proxyAddr: { description: '`kafscale proxy`: Kafka listener address of the proxy, host:port' },
  proxyAdvertisedHost: { description: '`kafscale proxy`: host the proxy names as the only broker in Metadata (the Service name)' },
  proxyAdvertisedPort: { description: '`kafscale proxy`: port the proxy names in Metadata', defaultNote: 'the proxy listen port' },
  proxyBootstrap: { description: '`kafscale proxy`: comma-separated broker host:port list the proxy asks for metadata first' },
  proxyMetadataRefreshMs: { description: '`kafscale proxy`: refresh partition ownership from the brokers this often (also after every ownership error)' },
  proxySecurityProtocol: { description: '`kafscale proxy`: security protocol of the proxy\'s client listener (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); TLS and SASL settings as for brokers' },
  proxyUpstreamSecurityProtocol: { description: '`kafscale proxy`: security protocol of the broker listener the proxy connects to (the bootstrap addresses)' },
  proxyUpstreamTlsCaFile: { description: '`kafscale proxy`: PEM CA bundle that broker certificates must chain to', defaultNote: 'the system CAs', path: true },
  proxyUpstreamTlsCertFile: { description: '`kafscale proxy`: PEM client certificate the proxy shows brokers (mTLS)', path: true },
  proxyUpstreamTlsKeyFile: { description: '`kafscale proxy`: PEM private key of the upstream client certificate', path: true },
  proxyUpstreamSaslMechanism: { description: '`kafscale proxy`: SASL mechanism of the proxy\'s own login to brokers' },
  proxyUpstreamSaslUsername: { description: '`kafscale proxy`: user the proxy logs in to brokers as (needs CLUSTER_ACTION on the cluster, e.g. a super user)' },
  proxyUpstreamSaslPasswordFile: { description: '`kafscale proxy`: file holding that user\'s password (never on the command line)', path: true },
  proxyVirtualBrokers: { description: '`kafscale proxy`: brokers the proxy presents to clients, on that many consecutive ports from the listen (and advertised) port; partitions and coordinators are spread over them so clients use one connection per virtual broker' },
} as const satisfies Record<SettingKey, SettingDoc>;

export interface SettingInfo {
  readonly key: SettingKey;
  readonly env: string;
  readonly flag: string;
  readonly description: string;
  readonly secret: boolean;
  readonly path: boolean;
  /** The default as a display string, or null when unset by default. */
  readonly defaultText: string | null;
}

function words(key: string): string[] {
  return key.split(/(?=[A-Z])/).map((word) => word.toLowerCase());
}

export function envName(key: SettingKey): string {
  return `KAFSCALE_${words(key).join('_').toUpperCase()}`;
}

export function flagName(key: SettingKey): string {
  return `--${words(key).join('-')}`;
}

function defaultText(key: SettingKey, doc: SettingDoc): string | null {
  const value = (CONFIG_DEFAULTS as Partial<Record<SettingKey, unknown>>)[key];
  if (value !== undefined) return String(value);
  return doc.defaultNote ?? null;
}

/** Every setting in schema order, with its names. */
export const CONFIG_SETTINGS: readonly SettingInfo[] = Object.freeze(
  (Object.entries(DOCS) as [SettingKey, SettingDoc][]).map(([key, doc]) =>
    Object.freeze({
      key,
      env: envName(key),
      flag: flagName(key),
      description: doc.description,
      secret: doc.secret === true,
      path: doc.path === true,
      defaultText: defaultText(key, doc),
    }),
  ),
);

export const SETTINGS_BY_KEY: ReadonlyMap<SettingKey, SettingInfo> = new Map(CONFIG_SETTINGS.map((s) => [s.key, s]));
export const SETTINGS_BY_ENV: ReadonlyMap<string, SettingInfo> = new Map(CONFIG_SETTINGS.map((s) => [s.env, s]));
export const SETTINGS_BY_FLAG: ReadonlyMap<string, SettingInfo> = new Map(CONFIG_SETTINGS.map((s) => [s.flag, s]));

/** The environment variable / flag naming an optional JSON config file. */
export const CONFIG_FILE_ENV = 'KAFSCALE_CONFIG_FILE';
export const CONFIG_FILE_FLAG = '--config';

/** A plain-text table of every flag and environment variable, for `kafscale broker --help`. */
export function formatConfigHelp(): string {
  const lines = [`  ${CONFIG_FILE_FLAG} <file>  (${CONFIG_FILE_ENV})  JSON file with settings by key, e.g. {"brokerId": 1}`];
  for (const s of CONFIG_SETTINGS) {
    const def = s.defaultText === null ? '' : ` [default: ${s.defaultText}]`;
    lines.push(`  ${s.flag} <value>  (${s.env})  ${s.description}${def}`);
  }
  return `Settings (precedence: flag > environment > config file > default):\n${lines.join('\n')}\n`;
}
