/**
 * Checks across settings, after each one is valid on its own: what needs what (presence), and
 * combinations that cannot work (ports twice, TLS without material, wildcard advertised hosts).
 * Issues carry the path of the setting to change; `{key}` in a message becomes the name the user knows it by.
 */
import type * as z from 'zod';
import type { Settings, SettingKey } from './config-schema.ts';
import { FLUSH_PROFILES } from './flush-profiles.ts';
import { securityProtocolOf } from './setting-types.ts';

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
export function checkPresence(input: unknown, ctx: z.RefinementCtx): void {
  if (typeof input !== 'object' || input === null) return;
  const record = input as Readonly<Record<string, unknown>>;
  for (const [dependent, required] of REQUIRES) {
    if (record[dependent] !== undefined && record[required] === undefined) {
      ctx.addIssue({ code: 'custom', path: [dependent], message: `is set, but only works together with {${required}}; set it too or unset this one` });
    }
  }
}

/** Rules across valid values. */
export function checkCombinations(settings: Settings, ctx: z.RefinementCtx): void {
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
  checkFlushBudget(settings, ctx);
}

/**
 * A flush takes only bytes the pending-bytes budget admitted, so a budget below one object would cap every
 * object below flushMaxBytes (and the cost profile's PUT count with it): refuse it rather than surprise.
 */
function checkFlushBudget(settings: Settings, ctx: z.RefinementCtx): void {
  const maxBytes = settings.flushMaxBytes ?? FLUSH_PROFILES[settings.flushProfile].flushMaxBytes;
  if (settings.flushMaxPendingBytes >= maxBytes) return;
  ctx.addIssue({
    code: 'custom',
    path: ['flushMaxPendingBytes'],
    message: `is smaller than {flushMaxBytes} (${maxBytes}, {flushProfile} ${settings.flushProfile}): a flush holds at most the pending bytes, so no object could reach its size. Raise {flushMaxPendingBytes} or lower {flushMaxBytes}`,
  });
}

/**
 * The console can act (create and delete topics, move offsets): without SASL (or the ops token as its
 * password) it is unauthenticated, so it may only listen on loopback unless the operator says otherwise
 * (docs/design/console.md).
 */
function checkConsole(settings: Settings, ctx: z.RefinementCtx): void {
  if (!settings.console || settings.consoleAllowUnauthenticated || settings.opsTokenFile !== undefined) return;
  const listeners = settings.listeners ?? [];
  const sasl = listeners.some((l) => securityProtocolOf(l.name, settings.listenerSecurityProtocolMap)?.startsWith('SASL') === true);
  const host = settings.metricsAddr.host;
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (!sasl && !loopback) {
    ctx.addIssue({
      code: 'custom',
      path: ['console'],
      message: `is on, but no listener uses SASL, so the console would be unauthenticated on {metricsAddr} ${host}:${settings.metricsAddr.port}: bind {metricsAddr} to 127.0.0.1, turn on a SASL listener ({listeners}), set {opsTokenFile}, or set {consoleAllowUnauthenticated}=true`,
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
