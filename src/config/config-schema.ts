/**
 * The one configuration schema. Every setting is a flat key here; its environment variable and flag
 * are derived from the key by one rule (see setting-names.ts), so `brokerAddr` is
 * `KAFSCALE_BROKER_ADDR` and `--broker-addr` everywhere. The schema validates the merged flat input and
 * transforms it into the structured, resolved `KafscaleConfig` the rest of the program reads.
 *
 * Strings from the environment or flags are parsed here (integers, booleans, lists), so a JSON config
 * file may give either `"9092"` or `9092`.
 */
import { join } from 'node:path';
import * as z from 'zod';
import { checkCombinations, checkPresence } from './config-checks.ts';
import { FLUSH_PROFILE_DEFAULT, FLUSH_PROFILE_NAMES, FLUSH_PROFILES, normalizeFlushProfile } from './flush-profiles.ts';
import {
  assignorList,
  AUTHORIZERS,
  boolean,
  endpointList,
  hostPortList,
  integer,
  listenAddress,
  listenerList,
  mechanismList,
  principalList,
  protocolMap,
  SASL_MECHANISM_NAMES,
  securityProtocolName,
  securityProtocolOf,
  text,
  TLS_CLIENT_AUTH,
  type HostPort,
  type SecurityProtocol,
} from './setting-types.ts';

export { AUTHORIZERS, parseHostPort, SASL_MECHANISM_NAMES, SECURITY_PROTOCOLS, TLS_CLIENT_AUTH, type HostPort, type ListenerAddress, type SecurityProtocol } from './setting-types.ts';

const MIB = 1024 * 1024;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** All defaults, in one place. Settings absent here have no default (they are optional). */
export const CONFIG_DEFAULTS = {
  brokerAddr: '0.0.0.0:9092',
  brokerHost: 'localhost',
  metricsAddr: '0.0.0.0:9093',
  dataDir: './data',
  s3Region: 'us-east-1',
  s3PathStyle: false,
  s3Namespace: 'default',
  cacheBytes: 256 * MIB,
  logTailBytes: 16 * MIB,
  readAheadBytes: 64 * MIB,
  autoCreateTopics: true,
  autoCreatePartitions: 1,
  logLevel: 'info',
  socketRequestMaxBytes: 100 * MIB,
  connectionsMaxIdleMs: 600_000,
  maxInflightRequests: 64,
  queuedMaxRequestBytes: 256 * MIB,
  maxConnections: 10_000,
  maxConnectionsPerIp: 10_000,
  // flushLingerMs, flushIdleLingerMs, flushMaxBytes, flushMaxInflight, mergeMaxWalEntries, mergeMaxWalAgeMs: from the profile.
  flushProfile: FLUSH_PROFILE_DEFAULT,
  flushMaxPendingBytes: 64 * MIB,
  brokerSessionTtlMs: 10_000,
  groupInitialRebalanceDelayMs: 3_000,
  groupMinSessionTimeoutMs: 6_000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupConsumerSessionTimeoutMs: 45_000,
  groupConsumerHeartbeatIntervalMs: 5_000,
  groupConsumerAssignors: ['uniform', 'range'],
  offsetsRetentionMinutes: 10_080,
  maxIncrementalFetchSessionCacheSlots: 1_000,
  authorizer: 'none',
  allowEveryoneIfNoAclFound: false,
  tlsClientAuth: 'none',
  tlsPrincipalMappingRules: 'DEFAULT',
  tlsReloadIntervalMs: 10_000,
  saslMechanisms: 'SCRAM-SHA-256,SCRAM-SHA-512',
  authFailureDelayMs: 100,
  connectionsMaxReauthMs: 0,
  opsTls: false,
  console: false,
  consoleMaxBytes: MIB,
  consoleAllowUnauthenticated: false,
  logInvariantChecks: false,
  proxyAddr: '0.0.0.0:9092',
  proxyAdvertisedHost: 'localhost',
  proxyMetadataRefreshMs: 5_000,
  proxySecurityProtocol: 'PLAINTEXT',
  proxyUpstreamSecurityProtocol: 'PLAINTEXT',
  proxyUpstreamSaslMechanism: 'SCRAM-SHA-512',
  proxyVirtualBrokers: 1,
} as const satisfies Partial<Record<SettingKey, unknown>>;

/** The flat settings. Optional ones have no default; `dataDir` and TLS paths arrive resolved. */
export const settingsSchema = z.strictObject({
  /** Unset: 0 with embedded metadata; allocated from the store with etcd (EMBEDDED_BROKER_ID, `broker.allocateId`). */
  brokerId: integer(0, 2_147_483_647).optional(),
  brokerAddr: listenAddress(),
  brokerHost: text(),
  brokerPort: integer(1, 65535).optional(),
  brokerRack: text().optional(),
  metricsAddr: listenAddress(),
  dataDir: text(),
  s3Bucket: text().optional(),
  s3Endpoint: z.url({ error: 'must be a URL such as http://127.0.0.1:9000' }).optional(),
  s3Region: text(),
  s3PathStyle: boolean(),
  s3AccessKey: text().optional(),
  s3SecretKey: text().optional(),
  s3Namespace: text().regex(/^[A-Za-z0-9._-]+$/, { error: 'may contain only letters, digits, ".", "_" and "-"' }),
  s3SseKmsKeyId: text().optional(),
  etcdEndpoints: endpointList().optional(),
  etcdUsername: text().optional(),
  etcdPassword: text().optional(),
  etcdCaFile: text().optional(),
  etcdCertFile: text().optional(),
  etcdKeyFile: text().optional(),
  cacheBytes: integer(0, Number.MAX_SAFE_INTEGER),
  /** 0: no tail; every Fetch reads from the range cache or the object store. */
  logTailBytes: integer(0, Number.MAX_SAFE_INTEGER),
  readAheadBytes: integer(0, Number.MAX_SAFE_INTEGER),
  autoCreateTopics: boolean(),
  autoCreatePartitions: integer(1, 100_000),
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  clusterId: text().optional(),
  socketRequestMaxBytes: integer(1024, 2_147_483_647),
  connectionsMaxIdleMs: integer(1_000, 2_147_483_647),
  maxInflightRequests: integer(1, 100_000),
  queuedMaxRequestBytes: integer(1024, Number.MAX_SAFE_INTEGER),
  maxConnections: integer(1, 10_000_000),
  maxConnectionsPerIp: integer(1, 10_000_000),
  flushProfile: z.preprocess(normalizeFlushProfile, z.enum(FLUSH_PROFILE_NAMES, { error: `must be one of ${FLUSH_PROFILE_NAMES.join(', ')}` })),
  /** Unset: the flush profile's value (flush-profiles.ts); likewise the next four. */
  flushLingerMs: integer(0, 60_000).optional(),
  flushIdleLingerMs: integer(0, 60_000).optional(),
  flushMaxBytes: integer(1024, 2_147_483_647).optional(),
  flushMaxInflight: integer(1, 1_024).optional(),
  /** At least the resolved flushMaxBytes (config-checks.ts): a flush takes only bytes the budget admitted. */
  flushMaxPendingBytes: integer(1024, Number.MAX_SAFE_INTEGER),
  mergeMaxWalEntries: integer(1, 10_000).optional(),
  mergeMaxWalAgeMs: integer(1_000, 86_400_000).optional(),
  brokerSessionTtlMs: integer(1_000, 3_600_000),
  groupInitialRebalanceDelayMs: integer(0, 3_600_000),
  groupMinSessionTimeoutMs: integer(1, 2_147_483_647),
  groupMaxSessionTimeoutMs: integer(1, 2_147_483_647),
  groupConsumerSessionTimeoutMs: integer(1, 2_147_483_647),
  groupConsumerHeartbeatIntervalMs: integer(1, 2_147_483_647),
  groupConsumerAssignors: assignorList(),
  offsetsRetentionMinutes: integer(1, 2_147_483_647),
  maxIncrementalFetchSessionCacheSlots: integer(0, 1_000_000),
  authorizer: z.enum(AUTHORIZERS, { error: `must be one of ${AUTHORIZERS.join(', ')}` }),
  superUsers: principalList().optional(),
  allowEveryoneIfNoAclFound: boolean(),
  listeners: listenerList('listeners').optional(),
  advertisedListeners: listenerList('advertised listeners').optional(),
  listenerSecurityProtocolMap: protocolMap().optional(),
  tlsCertFile: text().optional(),
  tlsKeyFile: text().optional(),
  tlsCaFile: text().optional(),
  tlsClientAuth: z.enum(TLS_CLIENT_AUTH, { error: `must be one of ${TLS_CLIENT_AUTH.join(', ')}` }),
  tlsPrincipalMappingRules: text(),
  tlsReloadIntervalMs: integer(100, 3_600_000),
  saslMechanisms: mechanismList(),
  authFailureDelayMs: integer(0, 60_000),
  connectionsMaxReauthMs: integer(0, Number.MAX_SAFE_INTEGER),
  opsTls: boolean(),
  opsTokenFile: text().optional(),
  console: boolean(),
  consoleMaxBytes: integer(1024, 64 * MIB),
  consoleAllowUnauthenticated: boolean(),
  logInvariantChecks: boolean(),
  proxyAddr: listenAddress(),
  proxyAdvertisedHost: text(),
  proxyAdvertisedPort: integer(1, 65535).optional(),
  proxyBootstrap: hostPortList().optional(),
  proxyMetadataRefreshMs: integer(100, 3_600_000),
  proxySecurityProtocol: securityProtocolName(),
  proxyUpstreamSecurityProtocol: securityProtocolName(),
  proxyUpstreamTlsCaFile: text().optional(),
  proxyUpstreamTlsCertFile: text().optional(),
  proxyUpstreamTlsKeyFile: text().optional(),
  proxyUpstreamSaslMechanism: z.enum(SASL_MECHANISM_NAMES, { error: `must be one of ${SASL_MECHANISM_NAMES.join(', ')}` }),
  proxyUpstreamSaslUsername: text().optional(),
  proxyUpstreamSaslPasswordFile: text().optional(),
  proxyVirtualBrokers: integer(1, 64),
});

export type SettingKey = keyof z.input<typeof settingsSchema>;
export type Settings = z.output<typeof settingsSchema>;

export interface ListenerConfig {
  readonly name: string;
  readonly securityProtocol: SecurityProtocol;
  readonly listen: HostPort;
  /** What Metadata tells clients that connected to this listener; port 0 = the bound port (app fixes it up). */
  readonly advertised: HostPort;
}

/** The listeners: KAFSCALE_LISTENERS, or the one PLAINTEXT listener of KAFSCALE_BROKER_ADDR. */
function listenersOf(s: Settings): ListenerConfig[] {
  const defaultAdvertised = { host: s.brokerHost, port: s.brokerPort ?? s.brokerAddr.port };
  if (s.listeners === undefined) return [{ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', listen: s.brokerAddr, advertised: defaultAdvertised }];
  return s.listeners.map((listener, index) => {
    const advertised = s.advertisedListeners?.find((a) => a.name === listener.name);
    return {
      name: listener.name,
      securityProtocol: securityProtocolOf(listener.name, s.listenerSecurityProtocolMap) ?? 'PLAINTEXT',
      listen: { host: listener.host, port: listener.port },
      advertised: advertised !== undefined ? { host: advertised.host, port: advertised.port } : { host: s.brokerHost, port: index === 0 && s.brokerPort !== undefined ? s.brokerPort : listener.port },
    };
  });
}

export interface S3ObjectStoreConfig {
  readonly kind: 's3';
  readonly bucket: string;
  /** null: the AWS default endpoint for the region. */
  readonly endpoint: string | null;
  readonly region: string;
  readonly forcePathStyle: boolean;
  /** null: the AWS default credential chain. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | null;
  readonly sseKmsKeyId: string | null;
  readonly namespace: string;
}

export interface FilesystemObjectStoreConfig {
  readonly kind: 'filesystem';
  /** Absolute: `<dataDir>/objects`. */
  readonly rootDir: string;
  readonly namespace: string;
}

export interface EtcdMetadataStoreConfig {
  readonly kind: 'etcd';
  readonly endpoints: readonly string[];
  readonly auth: { readonly username: string; readonly password: string } | null;
  /** Absolute paths; caFile alone trusts a private CA, cert+key add client authentication. */
  readonly tls: { readonly caFile: string | null; readonly certFile: string | null; readonly keyFile: string | null } | null;
}

export interface EmbeddedMetadataStoreConfig {
  readonly kind: 'embedded';
  /** Absolute: `<dataDir>/meta`. */
  readonly dir: string;
}

/** The id of a broker on embedded metadata when none is configured: a single node needs no choice. */
export const EMBEDDED_BROKER_ID = 0;
/** `broker.id` until the app has allocated one (`broker.allocateId`); never a valid node id. */
export const UNALLOCATED_BROKER_ID = -1;

function toConfig(s: Settings) {
  // Explicit flush and merge settings win over the profile's defaults.
  const profile = FLUSH_PROFILES[s.flushProfile];
  const objectStore: S3ObjectStoreConfig | FilesystemObjectStoreConfig =
    s.s3Bucket === undefined
      ? { kind: 'filesystem', rootDir: join(s.dataDir, 'objects'), namespace: s.s3Namespace }
      : {
          kind: 's3',
          bucket: s.s3Bucket,
          endpoint: s.s3Endpoint ?? null,
          region: s.s3Region,
          forcePathStyle: s.s3PathStyle,
          credentials:
            s.s3AccessKey !== undefined && s.s3SecretKey !== undefined
              ? { accessKeyId: s.s3AccessKey, secretAccessKey: s.s3SecretKey }
              : null,
          sseKmsKeyId: s.s3SseKmsKeyId ?? null,
          namespace: s.s3Namespace,
        };
  const hasTls = s.etcdCaFile !== undefined || s.etcdCertFile !== undefined;
  const metadataStore: EtcdMetadataStoreConfig | EmbeddedMetadataStoreConfig =
    s.etcdEndpoints === undefined
      ? { kind: 'embedded', dir: join(s.dataDir, 'meta') }
      : {
          kind: 'etcd',
          endpoints: s.etcdEndpoints,
          auth:
            s.etcdUsername !== undefined && s.etcdPassword !== undefined
              ? { username: s.etcdUsername, password: s.etcdPassword }
              : null,
          tls: hasTls
            ? { caFile: s.etcdCaFile ?? null, certFile: s.etcdCertFile ?? null, keyFile: s.etcdKeyFile ?? null }
            : null,
        };
  return {
    broker: {
      // Cluster mode without a configured id: app/ allocates one from etcd at start (cluster.md, "Broker ids").
      id: s.brokerId ?? (s.etcdEndpoints === undefined ? EMBEDDED_BROKER_ID : UNALLOCATED_BROKER_ID),
      allocateId: s.brokerId === undefined && s.etcdEndpoints !== undefined,
      listen: s.brokerAddr,
      // Advertised port defaults to the listen port; a listen port of 0 (tests) is fixed up by app/ once bound.
      advertised: { host: s.brokerHost, port: s.brokerPort ?? s.brokerAddr.port },
      rack: s.brokerRack ?? null,
      sessionTtlMs: s.brokerSessionTtlMs,
    },
    ops: { listen: s.metricsAddr, tls: s.opsTls, tokenFile: s.opsTokenFile ?? null },
    console: { enabled: s.console, maxBytes: s.consoleMaxBytes, allowUnauthenticated: s.consoleAllowUnauthenticated },
    listeners: listenersOf(s),
    tls:
      s.tlsCertFile !== undefined && s.tlsKeyFile !== undefined
        ? {
            certFile: s.tlsCertFile,
            keyFile: s.tlsKeyFile,
            caFile: s.tlsCaFile ?? null,
            clientAuth: s.tlsClientAuth,
            principalMappingRules: s.tlsPrincipalMappingRules,
            reloadIntervalMs: s.tlsReloadIntervalMs,
          }
        : null,
    sasl: { mechanisms: s.saslMechanisms, authFailureDelayMs: s.authFailureDelayMs, connectionsMaxReauthMs: s.connectionsMaxReauthMs },
    clusterId: s.clusterId ?? null,
    dataDir: s.dataDir,
    objectStore,
    metadataStore,
    cache: { maxBytes: s.cacheBytes, tailBytes: s.logTailBytes, readAheadBytes: s.readAheadBytes },
    topics: { autoCreate: s.autoCreateTopics, autoCreatePartitions: s.autoCreatePartitions },
    logLevel: s.logLevel,
    socket: {
      requestMaxBytes: s.socketRequestMaxBytes,
      connectionsMaxIdleMs: s.connectionsMaxIdleMs,
      maxInflightRequestsPerConnection: s.maxInflightRequests,
      queuedMaxRequestBytes: s.queuedMaxRequestBytes,
      maxConnections: s.maxConnections,
      maxConnectionsPerIp: s.maxConnectionsPerIp,
    },
    flush: {
      profile: s.flushProfile,
      lingerMs: s.flushLingerMs ?? profile.flushLingerMs,
      // Never longer than the linger itself (an explicit short linger shortens the profile's idle one).
      idleLingerMs: Math.min(s.flushIdleLingerMs ?? profile.flushIdleLingerMs, s.flushLingerMs ?? profile.flushLingerMs),
      maxBytes: s.flushMaxBytes ?? profile.flushMaxBytes,
      maxInflight: s.flushMaxInflight ?? profile.flushMaxInflight,
      maxPendingBytes: s.flushMaxPendingBytes,
    },
    merge: { maxWalEntries: s.mergeMaxWalEntries ?? profile.mergeMaxWalEntries, maxWalAgeMs: s.mergeMaxWalAgeMs ?? profile.mergeMaxWalAgeMs },
    authorization: {
      authorizer: s.authorizer,
      superUsers: s.superUsers ?? [],
      allowEveryoneIfNoAclFound: s.allowEveryoneIfNoAclFound,
    },
    proxy: {
      listen: s.proxyAddr,
      // Advertised port defaults to the listen port; a listen port of 0 (tests) is fixed up by app/ once bound.
      advertised: { host: s.proxyAdvertisedHost, port: s.proxyAdvertisedPort ?? s.proxyAddr.port },
      bootstrap: s.proxyBootstrap ?? [],
      metadataRefreshMs: s.proxyMetadataRefreshMs,
      securityProtocol: s.proxySecurityProtocol,
      upstream: {
        securityProtocol: s.proxyUpstreamSecurityProtocol,
        tls: s.proxyUpstreamSecurityProtocol.endsWith('SSL')
          ? { caFile: s.proxyUpstreamTlsCaFile ?? null, certFile: s.proxyUpstreamTlsCertFile ?? null, keyFile: s.proxyUpstreamTlsKeyFile ?? null }
          : null,
        sasl: s.proxyUpstreamSecurityProtocol.startsWith('SASL')
          ? { mechanism: s.proxyUpstreamSaslMechanism, username: s.proxyUpstreamSaslUsername ?? '', passwordFile: s.proxyUpstreamSaslPasswordFile ?? '' }
          : null,
      },
      virtualBrokers: s.proxyVirtualBrokers,
    },
    groups: {
      initialRebalanceDelayMs: s.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: s.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: s.groupMaxSessionTimeoutMs,
      consumerSessionTimeoutMs: s.groupConsumerSessionTimeoutMs,
      consumerHeartbeatIntervalMs: s.groupConsumerHeartbeatIntervalMs,
      consumerAssignors: s.groupConsumerAssignors,
      offsetsRetentionMinutes: s.offsetsRetentionMinutes,
    },
    fetchSessions: { maxSlots: s.maxIncrementalFetchSessionCacheSlots },
    checks: { logInvariants: s.logInvariantChecks },
  } as const;
}

/** The one schema: validator of the flat settings and producer of the config type. */
export const configSchema = settingsSchema
  .superRefine(checkPresence, { when: () => true })
  .superRefine(checkCombinations)
  .transform(toConfig);

type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export type KafscaleConfig = DeepReadonly<z.output<typeof configSchema>>;
