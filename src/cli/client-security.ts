/**
 * How the CLI reaches a secured listener: `--command-config <file>` (as Kafka's tools take it), a
 * properties file with librdkafka's names —
 *
 *   security.protocol=SASL_SSL            PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
 *   sasl.mechanism=SCRAM-SHA-512          PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (also sasl.mechanisms)
 *   sasl.username=admin
 *   sasl.password=…                       kept in the file (mode 600), never on the command line
 *   ssl.ca.location=/etc/kafscale/ca.pem  CA bundle for the broker certificate (default: system CAs)
 *   ssl.certificate.location=…  ssl.key.location=…   a client certificate (mTLS)
 *
 * and the client side of SASL: SaslHandshake v1 + SaslAuthenticate with PLAIN or SCRAM (RFC 5802).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SaslCredentials } from '../protocol/sasl-client.ts';
import { usageError } from './cli-error.ts';

export interface ClientSecurity {
  /** Passed to tls.connect; checkServerIdentity only for tests that connect by an address the certificate does not name. */
  readonly tls: { readonly ca?: Buffer | string; readonly cert?: Buffer | string; readonly key?: Buffer | string; readonly checkServerIdentity?: TlsConnectionOptions['checkServerIdentity'] } | null;
  readonly sasl: SaslCredentials | null;
}

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export function loadCommandConfig(file: string): ClientSecurity {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read --command-config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const props = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq < 1) throw usageError(`--command-config ${file}: "${trimmed.split('=')[0]}" is not key=value`);
    props.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  const protocol = (props.get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!PROTOCOLS.includes(protocol)) throw usageError(`--command-config ${file}: security.protocol must be one of ${PROTOCOLS.join(', ')}`);
  const read = (key: string): Buffer | undefined => {
    const path = props.get(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw usageError(`--command-config ${file}: cannot read ${key} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const tls = protocol.endsWith('SSL')
    ? { ...optional('ca', read('ssl.ca.location')), ...optional('cert', read('ssl.certificate.location')), ...optional('key', read('ssl.key.location')) }
    : null;
  if (!protocol.startsWith('SASL')) return { tls, sasl: null };
  const mechanism = (props.get('sasl.mechanism') ?? props.get('sasl.mechanisms') ?? 'SCRAM-SHA-512').toUpperCase();
  const username = props.get('sasl.username');
  const password = props.get('sasl.password');
  if (!(MECHANISMS as readonly string[]).includes(mechanism)) throw usageError(`--command-config ${file}: sasl.mechanism must be one of ${MECHANISMS.join(', ')}`);
  if (username === undefined || password === undefined) throw usageError(`--command-config ${file}: ${protocol} needs sasl.username and sasl.password`);
  return { tls, sasl: { mechanism: mechanism as (typeof MECHANISMS)[number], username, password } };
}

function optional<K extends string>(key: K, value: Buffer | undefined): Partial<Record<K, Buffer>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, Buffer>);
}
