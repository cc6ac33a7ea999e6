/**
 * The value types of the settings: each parses what the environment, flags or a config file give
 * (strings, or JSON values) and says, when it fails, what it expects. config-schema.ts names the settings.
 */
import { isIP } from 'node:net';
import * as z from 'zod';

function parseIntegerString(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value.trim());
  return value;
}

export function integer(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.preprocess(
    parseIntegerString,
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function boolean() {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return value;
  }, z.boolean({ error: 'must be true or false (also accepted: 1/0, yes/no, on/off)' }));
}

export function text() {
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

export function listenAddress() {
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
export function endpointList() {
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

/** KIP-848 server-side assignors kafscale has (group.consumer.assignors); the first one is the default. */
const CONSUMER_ASSIGNORS = ['uniform', 'range'] as const;

export function assignorList() {
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

/** Kafka's `super.users`: principals separated by ';' (an array in a file), each `Type:name`. */
export function principalList() {
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
export function listenerList(what: string) {
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
export function securityProtocolName() {
  return z
    .string({ error: `must be one of ${SECURITY_PROTOCOLS.join(', ')}` })
    .transform((value) => value.trim().toUpperCase())
    .pipe(z.enum(SECURITY_PROTOCOLS, { error: `must be one of ${SECURITY_PROTOCOLS.join(', ')}` }));
}

/** Kafka's listener.security.protocol.map: `NAME:PROTOCOL,…`. */
export function protocolMap() {
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

export function mechanismList() {
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
export function hostPortList() {
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

/** A listener's security protocol: mapped by listenerSecurityProtocolMap, else its name if that is a protocol. */
export function securityProtocolOf(name: string, map: Readonly<Record<string, SecurityProtocol>> | undefined): SecurityProtocol | undefined {
  return map?.[name] ?? (SECURITY_PROTOCOLS as readonly string[]).find((p) => p === name) as SecurityProtocol | undefined;
}
