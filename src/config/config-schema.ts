/**
 * The one configuration schema. Every setting is a flat key here; its environment variable and flag
 * are derived from the key by one rule (see setting-names.ts), so `brokerAddr` is
 * `KAFSCALE_BROKER_ADDR` and `--broker-addr` everywhere. The schema validates the merged flat input and
 * transforms it into the structured, resolved `KafscaleConfig` the rest of the program reads.
 *
 * Strings from the environment or flags are parsed here (integers, booleans, lists), so a JSON config
 * file may give either `"9092"` or `9092`.
 */
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as z from 'zod';

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
  autoCreateTopics: true,
  autoCreatePartitions: 1,
  logLevel: 'info',
  socketRequestMaxBytes: 100 * MIB,
  connectionsMaxIdleMs: 600_000,
  maxInflightRequests: 64,
  queuedMaxRequestBytes: 256 * MIB,
  maxConnections: 10_000,
  maxConnectionsPerIp: 10_000,
  flushLingerMs: 2,
  flushMaxBytes: 8 * MIB,
  flushMaxInflight: 4,
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

function parseIntegerString(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value.trim());
  return value;
}

function integer(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.preprocess(
    parseIntegerString,
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function boolean() {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return value;
  }, z.boolean({ error: 'must be true or false (also accepted: 1/0, yes/no, on/off)' }));
}

function text() {
  return z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' });
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). Returns a message on failure. */
export function parseHostPort(value: string, minPort: number): HostPort | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (match === null) return 'must be host:port (e.g. 0.0.0.0:9092, [::1]:9092 or :9092)';
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? '0.0.0.0' : match[2]);
  if (match[1] !== undefined && isIP(match[1]) !== 6) return `"${match[1]}" in brackets is not an IPv6 address`;
  const port = Number(match[3]);
  if (port < minPort || port > 65535) return `port must be from ${minPort} to 65535`;
  return { host, port };
}

function listenAddress() {
  return z.string({ error: 'must be host:port' }).transform((value, ctx): HostPort => {
    const parsed = parseHostPort(value, 0);
    if (typeof parsed === 'string') {
      ctx.issues.push({ code: 'custom', message: parsed, input: value });
      return z.NEVER;
    }
    return parsed;
  });
}

/** etcd endpoints: a comma list (environment, flags) or an array (file); a missing scheme means http. */
function endpointList() {
  return z
    .preprocess(
      (value) =>
        typeof value === 'string'
          ? value
              .split(',')
              .map((part) => part.trim())
              .filter((part) => part !== '')
          : value,
      z.array(z.string({ error: 'must be a list of URLs' }), { error: 'must be a comma-separated list of URLs' }),
    )
    .transform((endpoints, ctx) => {
      const normalized: string[] = [];
      for (const endpoint of endpoints) {
        const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
        const url = URL.parse(withScheme);
        if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
          ctx.issues.push({ code: 'custom', message: `"${endpoint}" is not an http(s) URL or host:port`, input: endpoint });
          continue;
        }
        normalized.push(`${url.protocol}//${url.host}`);
      }
      if (normalized.length === 0 && endpoints.length === 0) {
        ctx.issues.push({ code: 'custom', message: 'must name at least one endpoint', input: endpoints });
      }
      return normalized;
    });
}

export const AUTHORIZERS = ['none', 'acl'] as const;

/** Kafka's `super.users`: principals separated by ';' (an array in a file), each `Type:name`. */
/** KIP-848 server-side assignors kafscale has (group.consumer.assignors); the first one is the default. */
const CONSUMER_ASSIGNORS = ['uniform', 'range'] as const;

function assignorList() {
  return z
    .preprocess(
      (value) => (typeof value === 'string' ? value.split(',').map((part) => part.trim()).filter((part) => part !== '') : value),
      z.array(z.string(), { error: "must be assignor names separated by ',', e.g. uniform,range" }),
    )
    .transform((names, ctx) => {
      if (names.length === 0) ctx.issues.push({ code: 'custom', message: `must name at least one of ${CONSUMER_ASSIGNORS.join(', ')}`, input: names });
      for (const name of names) {
        if (!(CONSUMER_ASSIGNORS as readonly string[]).includes(name)) ctx.issues.push({ code: 'custom', message: `"${name}" is not an assignor kafscale has (${CONSUMER_ASSIGNORS.join(', ')})`, input: name });
      }
      return [...new Set(names)];
    });
}

function principalList() {
  return z
    .preprocess(
      (value) => (typeof value === 'string' ? value.split(';').map((part) => part.trim()).filter((part) => part !== '') : value),
      z.array(z.string({ error: 'must be a list of principals' }), { error: "must be principals separated by ';', e.g. User:admin;User:ops" }),
    )
    .transform((principals, ctx) => {
      for (const principal of principals) {
        if (!/^[^:;\s]+:[^;]+$/.test(principal)) ctx.issues.push({ code: 'custom', message: `"${principal}" is not a principal of the form Type:name (e.g. User:admin)`, input: principal });
      }
      return principals;
    });
}

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export const TLS_CLIENT_AUTH = ['none', 'requested', 'required'] as const;
export const SASL_MECHANISM_NAMES = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export interface ListenerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

const LISTENER_NAME = /^[A-Z][A-Z0-9_]*$/;

/** Kafka's `NAME://host:port,NAME://host:port` (listeners, advertised.listeners); names are upper-cased. */
function listenerList(what: string) {
  return z.string({ error: 'must be NAME://host:port[,NAME://host:port…]' }).transform((value, ctx): ListenerAddress[] => {
    const listeners: ListenerAddress[] = [];
    for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const match = /^([A-Za-z][A-Za-z0-9_]*):\/\/(.*)$/.exec(part);
      if (match === null) {
        ctx.issues.push({ code: 'custom', message: `"${part}" is not NAME://host:port (e.g. SASL_SSL://0.0.0.0:9094)`, input: value });
        continue;
      }
      const name = (match[1] as string).toUpperCase();
      const address = parseHostPort(match[2] as string, 0);
      if (typeof address === 'string') {
        ctx.issues.push({ code: 'custom', message: `${name}: ${address}`, input: value });
        continue;
      }
      if (listeners.some((l) => l.name === name)) ctx.issues.push({ code: 'custom', message: `names ${name} twice; every ${what.replace(/s$/, '')} needs its own name`, input: value });
      listeners.push({ name, host: address.host, port: address.port });
    }
    if (listeners.length === 0) ctx.issues.push({ code: 'custom', message: 'must name at least one listener, e.g. PLAINTEXT://0.0.0.0:9092', input: value });
    return listeners;
  });
}

/** One of Kafka's security protocols, in any case (librdkafka's properties write them lower-case). */
function securityProtocolName() {
  return z
    .string({ error: `must be one of ${SECURITY_PROTOCOLS.join(', ')}` })
    .transform((value) => value.trim().toUpperCase())
    .pipe(z.enum(SECURITY_PROTOCOLS, { error: `must be one of ${SECURITY_PROTOCOLS.join(', ')}` }));
}

/** Kafka's listener.security.protocol.map: `NAME:PROTOCOL,…`. */
function protocolMap() {
  return z.string({ error: 'must be NAME:PROTOCOL[,NAME:PROTOCOL…]' }).transform((value, ctx): Record<string, SecurityProtocol> => {
    const map: Record<string, SecurityProtocol> = {};
    for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const [name, protocol] = part.split(':').map((p) => p.trim().toUpperCase());
      if (name === undefined || protocol === undefined || !LISTENER_NAME.test(name) || !(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) {
        ctx.issues.push({ code: 'custom', message: `"${part}" is not NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`, input: value });
        continue;
      }
      map[name] = protocol as SecurityProtocol;
    }
    return map;
  });
}

function mechanismList() {
  return z.string({ error: `must be a comma-separated list of ${SASL_MECHANISM_NAMES.join(', ')}` }).transform((value, ctx): string[] => {
    const mechanisms = [...new Set(value.split(',').map((p) => p.trim().toUpperCase()).filter((p) => p !== ''))];
    for (const mechanism of mechanisms) {
      if (!(SASL_MECHANISM_NAMES as readonly string[]).includes(mechanism)) ctx.issues.push({ code: 'custom', message: `"${mechanism}" is not supported; use ${SASL_MECHANISM_NAMES.join(', ')}`, input: value });
    }
    if (mechanisms.length === 0) ctx.issues.push({ code: 'custom', message: 'must name at least one mechanism', input: value });
    return mechanisms;
  });
}

/** `host:port` list (comma-separated from the environment or flags; an array in a file), e.g. broker addresses. */
function hostPortList() {
  return z
    .preprocess(
      (value) => (typeof value === 'string' ? value.split(',').map((part) => part.trim()).filter((part) => part !== '') : value),
      z.array(z.string({ error: 'must be a list of host:port' }), { error: 'must be a comma-separated list of host:port' }),
    )
    .transform((entries, ctx): HostPort[] => {
      const parsed: HostPort[] = [];
      for (const entry of entries) {
        const hostPort = parseHostPort(entry, 1);
        if (typeof hostPort === 'string') ctx.issues.push({ code: 'custom', message: `"${entry}": ${hostPort}`, input: entry });
        else parsed.push(hostPort);
      }
      if (entries.length === 0) ctx.issues.push({ code: 'custom', message: 'must name at least one host:port', input: entries });
      return parsed;
    });
}

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
  flushLingerMs: integer(0, 60_000),
  flushMaxBytes: integer(1024, 2_147_483_647),
  flushMaxInflight: integer(1, 1_024),
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

/** Settings that only make sense with another one set; naming both lets the error say what to fix. */
const REQUIRES: ReadonlyArray<readonly [dependent: SettingKey, required: SettingKey]> = [
  ['s3Endpoint', 's3Bucket'],
  ['s3AccessKey', 's3Bucket'],
  ['s3SecretKey', 's3Bucket'],
  ['s3SseKmsKeyId', 's3Bucket'],
  ['s3AccessKey', 's3SecretKey'],
  ['s3SecretKey', 's3AccessKey'],
  ['etcdUsername', 'etcdEndpoints'],
  ['etcdPassword', 'etcdEndpoints'],
  ['etcdCaFile', 'etcdEndpoints'],
  ['etcdCertFile', 'etcdEndpoints'],
  ['etcdKeyFile', 'etcdEndpoints'],
  ['etcdUsername', 'etcdPassword'],
  ['etcdPassword', 'etcdUsername'],
  ['etcdCertFile', 'etcdKeyFile'],
  ['etcdKeyFile', 'etcdCertFile'],
  ['tlsCertFile', 'tlsKeyFile'],
  ['tlsKeyFile', 'tlsCertFile'],
  ['tlsCaFile', 'tlsCertFile'],
  ['advertisedListeners', 'listeners'],
  ['listenerSecurityProtocolMap', 'listeners'],
  ['proxyUpstreamTlsCertFile', 'proxyUpstreamTlsKeyFile'],
  ['proxyUpstreamTlsKeyFile', 'proxyUpstreamTlsCertFile'],
];

/**
 * Presence rules run even when other settings failed (`when`), so they are reported together with
 * per-setting errors; zod skips ordinary refinements of an object whose fields failed. Issues carry the path of the setting to change;
 * `{key}` in a message is replaced by the name the user knows it by.
 */
function checkPresence(input: unknown, ctx: z.RefinementCtx): void {
  if (typeof input !== 'object' || input === null) return;
  const record = input as Readonly<Record<string, unknown>>;
  for (const [dependent, required] of REQUIRES) {
    if (record[dependent] !== undefined && record[required] === undefined) {
      ctx.addIssue({ code: 'custom', path: [dependent], message: `is set, but only works together with {${required}}; set it too or unset this one` });
    }
  }
}

/** Rules across valid values. */
function checkCombinations(settings: Settings, ctx: z.RefinementCtx): void {
  if (settings.groupMinSessionTimeoutMs > settings.groupMaxSessionTimeoutMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['groupMinSessionTimeoutMs'],
      message: `must not exceed {groupMaxSessionTimeoutMs} (${settings.groupMaxSessionTimeoutMs})`,
    });
  }
  const host = settings.brokerHost;
  if (host === '0.0.0.0' || host === '::' || host === '[::]') {
    ctx.addIssue({ code: 'custom', path: ['brokerHost'], message: 'is the advertised host clients connect to; a wildcard address cannot be dialled. Set a reachable host name or IP' });
  }
  const proxyHost = settings.proxyAdvertisedHost;
  if (proxyHost === '0.0.0.0' || proxyHost === '::' || proxyHost === '[::]') {
    ctx.addIssue({ code: 'custom', path: ['proxyAdvertisedHost'], message: 'is the host clients connect to; a wildcard address cannot be dialled. Set the Service name or a reachable IP' });
  }
  checkProxyPorts(settings, ctx);
  const ops = settings.metricsAddr;
  for (const kafka of settings.listeners ?? [settings.brokerAddr]) {
    if (kafka.port !== 0 && kafka.port === ops.port && (kafka.host === ops.host || kafka.host === '0.0.0.0' || ops.host === '0.0.0.0')) {
      ctx.addIssue({ code: 'custom', path: ['metricsAddr'], message: `uses port ${ops.port}, which ${settings.listeners === undefined ? '{brokerAddr}' : '{listeners}'} already listens on; choose another port` });
    }
  }
  checkListeners(settings, ctx);
  checkProxySecurity(settings, ctx);
  checkConsole(settings, ctx);
}

/**
 * The console can act (create and delete topics, move offsets): without SASL it is unauthenticated, so it
 * may only listen on loopback unless the operator says otherwise (docs/design/console.md).
 */
function checkConsole(settings: Settings, ctx: z.RefinementCtx): void {
  if (!settings.console || settings.consoleAllowUnauthenticated) return;
  const sasl = listenersOf(settings).some((l) => l.securityProtocol.startsWith('SASL'));
  const host = settings.metricsAddr.host;
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (!sasl && !loopback) {
    ctx.addIssue({
      code: 'custom',
      path: ['console'],
      message: `is on, but no listener uses SASL, so the console would be unauthenticated on {metricsAddr} ${host}:${settings.metricsAddr.port}: bind {metricsAddr} to 127.0.0.1, turn on a SASL listener ({listeners}), or set {consoleAllowUnauthenticated}=true`,
    });
  }
}

/** The proxy's client side needs TLS material for SSL; SASL at the proxy is checked by a broker, so upstream must be SASL too. */
function checkProxySecurity(settings: Settings, ctx: z.RefinementCtx): void {
  const client = settings.proxySecurityProtocol;
  const upstream = settings.proxyUpstreamSecurityProtocol;
  if ((client === 'SSL' || client === 'SASL_SSL') && settings.tlsCertFile === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsCertFile'], message: `is required: {proxySecurityProtocol} is ${client}; set {tlsCertFile} and {tlsKeyFile} to the proxy's PEM files` });
  }
  if (client.startsWith('SASL') && !upstream.startsWith('SASL')) {
    ctx.addIssue({ code: 'custom', path: ['proxyUpstreamSecurityProtocol'], message: `is ${upstream}, but {proxySecurityProtocol} ${client} has brokers check the clients' SASL logins: connect to a SASL_PLAINTEXT or SASL_SSL broker listener` });
  }
  if (upstream.startsWith('SASL') && (settings.proxyUpstreamSaslUsername === undefined || settings.proxyUpstreamSaslPasswordFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['proxyUpstreamSaslUsername'], message: `and {proxyUpstreamSaslPasswordFile} are required: {proxyUpstreamSecurityProtocol} is ${upstream}, so the proxy logs in to brokers as its own user` });
  }
}

/** The proxy's virtual brokers take consecutive ports from its listen and advertised ports. */
function checkProxyPorts(settings: Settings, ctx: z.RefinementCtx): void {
  const last = settings.proxyVirtualBrokers - 1;
  if (last === 0) return;
  if (settings.proxyAddr.port !== 0 && settings.proxyAddr.port + last > 65535) {
    ctx.addIssue({ code: 'custom', path: ['proxyAddr'], message: `port ${settings.proxyAddr.port} leaves no room for {proxyVirtualBrokers} (${settings.proxyVirtualBrokers}) consecutive ports; choose a lower port` });
  }
  const advertised = settings.proxyAdvertisedPort;
  if (advertised !== undefined && advertised + last > 65535) {
    ctx.addIssue({ code: 'custom', path: ['proxyAdvertisedPort'], message: `port ${advertised} leaves no room for {proxyVirtualBrokers} (${settings.proxyVirtualBrokers}) consecutive ports; choose a lower port` });
  }
  const { host, port } = settings.proxyAddr;
  const ops = settings.metricsAddr;
  if (port !== 0 && ops.port >= port && ops.port <= port + last && (ops.host === host || ops.host === '0.0.0.0' || host === '0.0.0.0')) {
    ctx.addIssue({ code: 'custom', path: ['metricsAddr'], message: `uses port ${ops.port}, which the proxy's ${settings.proxyVirtualBrokers} virtual brokers (ports ${port}-${port + last}, {proxyVirtualBrokers}) listen on; choose another port` });
  }
}

/** Every listener has a protocol, a free port, TLS material when it needs it; advertised names exist. */
function checkListeners(settings: Settings, ctx: z.RefinementCtx): void {
  const listeners = settings.listeners;
  if (listeners === undefined) return;
  const ports = new Set<number>();
  for (const listener of listeners) {
    const protocol = securityProtocolOf(listener.name, settings.listenerSecurityProtocolMap);
    if (protocol === undefined) {
      ctx.addIssue({ code: 'custom', path: ['listeners'], message: `listener ${listener.name} has no security protocol; name it PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, or map it in {listenerSecurityProtocolMap} (e.g. ${listener.name}:SASL_SSL)` });
    } else if ((protocol === 'SSL' || protocol === 'SASL_SSL') && settings.tlsCertFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tlsCertFile'], message: `is required: listener ${listener.name} uses ${protocol}; set {tlsCertFile} and {tlsKeyFile} to PEM files` });
    }
    if (listener.port !== 0 && ports.has(listener.port)) ctx.addIssue({ code: 'custom', path: ['listeners'], message: `port ${listener.port} is used by two listeners; give each its own port` });
    ports.add(listener.port);
  }
  for (const advertised of settings.advertisedListeners ?? []) {
    if (!listeners.some((l) => l.name === advertised.name)) ctx.addIssue({ code: 'custom', path: ['advertisedListeners'], message: `names ${advertised.name}, which {listeners} does not define` });
    if (advertised.port === 0 || advertised.host === '0.0.0.0' || advertised.host === '::') ctx.addIssue({ code: 'custom', path: ['advertisedListeners'], message: `${advertised.name}: an advertised address must be dialable (a real host and port), not ${advertised.host}:${advertised.port}` });
  }
  if (settings.tlsClientAuth !== 'none' && settings.tlsCaFile === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tlsClientAuth'], message: `is ${settings.tlsClientAuth}, which verifies client certificates: set {tlsCaFile} to the CA bundle they chain to` });
  }
  if (settings.opsTls && settings.tlsCertFile === undefined) ctx.addIssue({ code: 'custom', path: ['opsTls'], message: 'serves the ops listener with the broker certificate: set {tlsCertFile} and {tlsKeyFile}' });
}

function securityProtocolOf(name: string, map: Readonly<Record<string, SecurityProtocol>> | undefined): SecurityProtocol | undefined {
  return map?.[name] ?? (SECURITY_PROTOCOLS as readonly string[]).find((p) => p === name) as SecurityProtocol | undefined;
}

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
    cache: { maxBytes: s.cacheBytes },
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
    flush: { lingerMs: s.flushLingerMs, maxBytes: s.flushMaxBytes, maxInflight: s.flushMaxInflight },
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
