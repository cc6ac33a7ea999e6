/**
 * Security test fixtures: a throwaway PKI made with openssl in a temp directory (CA, server
 * certificate for 127.0.0.1/localhost, client certificates with chosen subjects), SCRAM users created
 * with the `kafscale users` CLI against a broker's data directory, and a SASL login over the wire client.
 */
import { after, before } from 'node:test';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ScramClientExchange, type ScramMechanism } from '../../src/services/security/scram.ts';
import type { WireClient } from './wire-client.ts';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KAFSCALE_ENTRY = join(repoRoot, 'src', 'bin', 'kafscale.ts');

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** Issues a certificate signed by the CA; returns its PEM file paths. */
  issue(name: string, subject: string, usage: 'server' | 'client'): Promise<{ certFile: string; keyFile: string; cert: Buffer; key: Buffer }>;
}

export async function createTestPki(dir: string): Promise<TestPki> {
  try {
    accessSync(OPENSSL, constants.X_OK);
  } catch {
    throw new Error(`openssl is not installed at ${OPENSSL}; install the Debian package openssl to run the TLS tests`);
  }
  const path = (name: string): string => join(dir, name);
  const openssl = async (...args: string[]): Promise<void> => {
    await run(OPENSSL, args, { cwd: dir, timeout: 15_000 });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', path('ca-key.pem'), '-out', path('ca.pem'), '-subj', '/CN=kafscale-test-ca', '-days', '2');
  const issue: TestPki['issue'] = async (name, subject, usage) => {
    const extensions = usage === 'server'
      ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n'
      : 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';
    writeFileSync(path(`${name}.ext`), extensions);
    await openssl('req', ...ec, '-keyout', path(`${name}-key.pem`), '-out', path(`${name}.csr`), '-subj', subject);
    await openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca-key.pem'), '-CAcreateserial', '-out', path(`${name}.pem`), '-extfile', path(`${name}.ext`), '-days', '2');
    return { certFile: path(`${name}.pem`), keyFile: path(`${name}-key.pem`), cert: readFileSync(path(`${name}.pem`)), key: readFileSync(path(`${name}-key.pem`)) };
  };
  const server = await issue('server', '/O=kafscale-test/CN=127.0.0.1', 'server');
  return { dir, caFile: path('ca.pem'), ca: readFileSync(path('ca.pem')), serverCertFile: server.certFile, serverKeyFile: server.keyFile, issue };
}

/** Runs `kafscale <args>` with `env` (e.g. the broker's KAFSCALE_DATA_DIR) and `stdin`; resolves with the exit code and output. */
export async function runKafscale(args: readonly string[], env: Readonly<Record<string, string>>, stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('KAFSCALE_')) delete childEnv[name];
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [KAFSCALE_ENTRY, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(stdin);
  const code = await new Promise<number>((resolveExit) => child.once('exit', (exitCode) => resolveExit(exitCode ?? 1)));
  return { code, stdout, stderr };
}

/** `kafscale users set NAME --mechanism M --password-stdin` against a data directory; throws on failure. */
export async function createUser(env: Readonly<Record<string, string>>, user: string, password: string, mechanism: ScramMechanism = 'SCRAM-SHA-512'): Promise<void> {
  const result = await runKafscale(['users', 'set', user, '--mechanism', mechanism, '--password-stdin'], env, `${password}\n`);
  if (result.code !== 0) throw new Error(`kafscale users set ${user} failed (${result.code}): ${result.stderr}`);
}

/** SaslHandshake v1 + SaslAuthenticate v2 SCRAM exchange over the wire client; returns the last response. */
export async function scramLogin(client: WireClient, mechanism: ScramMechanism, user: string, password: string): Promise<{ errorCode: number; errorMessage: string | null; sessionLifetimeMs: bigint }> {
  const handshake = await client.send(17, 1, { mechanism });
  if (handshake.errorCode !== 0) return { errorCode: handshake.errorCode, errorMessage: null, sessionLifetimeMs: 0n };
  const scram = new ScramClientExchange(mechanism, user, password);
  const first = await client.send(36, 2, { authBytes: scram.first() });
  if (first.errorCode !== 0) return first;
  const final = await client.send(36, 2, { authBytes: scram.final(first.authBytes) });
  if (final.errorCode === 0 && !scram.verifyServerFinal(final.authBytes)) throw new Error('the broker sent a wrong SCRAM server signature');
  return final;
}

export interface SecureBroker {
  readonly broker: import('./broker-process.ts').BrokerProcess;
  readonly pki: TestPki;
  readonly dir: string;
  /** A SCRAM-SHA-512 user (PLAIN checks the same credential). */
  readonly user: string;
  readonly password: string;
  /** `127.0.0.1:<port>` of a listener. */
  bootstrap(listener: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'): string;
  /** Creates a topic through the PLAINTEXT listener. */
  createTopic(name: string, partitions?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The listeners a secure broker has besides PLAINTEXT. */
export type SecureListener = 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export interface SecureBrokerFixture {
  /** The broker (started in `before`). */
  readonly secure: SecureBroker;
}

/**
 * A default secure broker for the calling file's tests: started in a node:test `before` hook, stopped in
 * `after`. `enabled: false` (the suite's client is missing, its tests skip) starts nothing.
 */
export function useSecureBroker(options: { readonly enabled?: boolean } = {}): SecureBrokerFixture {
  let secure: SecureBroker | undefined;
  before(async () => {
    if (options.enabled === false) return;
    secure = await startSecureBroker();
  });
  after(async () => {
    await secure?.stop();
  });
  return {
    get secure(): SecureBroker {
      if (secure === undefined) throw new Error('the secure broker is not started (use it inside a test)');
      return secure;
    },
  };
}

/**
 * A broker with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners (PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512 offered) and one user (plus `options.users`) created with `kafscale users set` before it
 * started; `options.env` adds broker settings (e.g. the ACL authorizer).
 */
export async function startSecureBroker(options: { env?: Readonly<Record<string, string>>; users?: ReadonlyArray<readonly [user: string, password: string]> } = {}): Promise<SecureBroker> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { startBroker } = await import('./broker-process.ts');
  const { WireClient } = await import('./wire-client.ts');
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-secure-'));
  const pki = await createTestPki(dir);
  const dataDir = join(dir, 'data');
  const user = 'alice';
  const password = 'alice-Secret-1';
  await createUser({ KAFSCALE_DATA_DIR: dataDir }, user, password, 'SCRAM-SHA-512');
  for (const [name, secret] of options.users ?? []) await createUser({ KAFSCALE_DATA_DIR: dataDir }, name, secret, 'SCRAM-SHA-512');
  const broker = await startBroker({
    dataDir,
    extraListeners: ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL'],
    logLevel: 'warn',
    env: {
      KAFSCALE_TLS_CERT_FILE: pki.serverCertFile,
      KAFSCALE_TLS_KEY_FILE: pki.serverKeyFile,
      KAFSCALE_SASL_MECHANISMS: 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFSCALE_AUTH_FAILURE_DELAY_MS: '50',
      ...options.env,
    },
  });
  return {
    broker,
    pki,
    dir,
    user,
    password,
    bootstrap: (listener) => `127.0.0.1:${broker.listenerPorts[listener] as number}`,
    async createTopic(name, partitions = 1) {
      const client = await WireClient.connect('127.0.0.1', broker.port);
      try {
        const result = await client.send(19, 5, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
        if (result.topics[0]?.errorCode !== 0) throw new Error(`CreateTopics ${name}: error ${result.topics[0]?.errorCode}`);
      } finally {
        client.close();
      }
    },
    async stop() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates (password given) or deletes (null) a SCRAM-SHA-512 user through the broker's PLAINTEXT
 * listener with AlterUserScramCredentials, as an admin client would on a running cluster.
 */
export async function alterUser(secure: SecureBroker, user: string, password: string | null): Promise<void> {
  const { WireClient } = await import('./wire-client.ts');
  const { saltPassword, SCRAM_MECHANISM_IDS } = await import('../../src/services/security/scram.ts');
  const client = await WireClient.connect('127.0.0.1', secure.broker.port);
  try {
    const mechanism = SCRAM_MECHANISM_IDS['SCRAM-SHA-512'];
    const salt = Buffer.from(`${user}-salt-0123456789`);
    const result = await client.send(51, 0, password === null
      ? { deletions: [{ name: user, mechanism }], upsertions: [] }
      : { deletions: [], upsertions: [{ name: user, mechanism, iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', password, salt, 4096) }] });
    if (result.results[0]?.errorCode !== 0) throw new Error(`AlterUserScramCredentials ${user}: error ${result.results[0]?.errorCode}`);
  } finally {
    client.close();
  }
}
