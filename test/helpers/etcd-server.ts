/**
 * A real etcd for tests: one member on 127.0.0.1 with OS-chosen free client and peer ports and a
 * temporary data directory. stop()/kill()/restart() keep the ports and data so outage tests can
 * take etcd away and bring the same cluster back.
 *
 * Options for the auth/TLS tests: `tls: true` serves clients over https only and requires a client
 * certificate signed by a throwaway CA generated with openssl at start (in a temp directory removed
 * by close(); no key material is committed). `auth` creates the users and roles and turns etcd
 * authentication on before the server is handed out.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './free-port.ts';

export const ETCD_BINARY = '/usr/bin/etcd';
export const OPENSSL_BINARY = '/usr/bin/openssl';

/** PEM files (and their bytes) of a test PKI: one CA, a server certificate for 127.0.0.1, a client certificate. */
export interface EtcdTestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

/** The users a server started with `auth` has: root (for admin calls) and the application user. */
export interface EtcdTestAuth {
  readonly username: string;
  readonly password: string;
  readonly rootPassword: string;
}

export interface StartEtcdServerOptions {
  readonly binary?: string;
  readonly startTimeoutMs?: number;
  /** Serve clients over https only and require a client certificate signed by a fresh test CA. */
  readonly tls?: boolean;
  /**
   * Enable etcd authentication: user root (random password, role root) and this user with role
   * `<username>-readwrite` granting readwrite on the whole key space.
   */
  readonly auth?: { readonly username: string; readonly password: string };
}

export interface EtcdServer {
  /** http://127.0.0.1:<clientPort> (https:// with `tls`) */
  readonly endpoint: string;
  /** The test PKI when started with `tls`, else null. */
  readonly pki: EtcdTestPki | null;
  /** The users when started with `auth`, else null. */
  readonly auth: EtcdTestAuth | null;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data directory and waits until it is healthy. */
  restart(): Promise<void>;
  /** Kills etcd (if running) and deletes the data directory; idempotent. */
  close(): Promise<void>;
}

function assertEtcdInstalled(binary: string): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`etcd is not installed at ${binary}; install the Debian package etcd-server (apt-get install etcd-server) to run the etcd metadata store tests`);
  }
}

const run = promisify(execFile);

/**
 * Generates a CA, a server certificate (SAN IP 127.0.0.1, serverAuth + clientAuth: etcd's own gRPC
 * gateway dials the client port with it) and a client certificate (CN kafscale-test-client, which
 * names no etcd user, so the certificate alone grants nothing once auth is on). EC P-256 keys keep
 * generation to a few tens of milliseconds.
 */
export async function generateEtcdTestPki(dir: string): Promise<EtcdTestPki> {
  try {
    accessSync(OPENSSL_BINARY, constants.X_OK);
  } catch {
    throw new Error(`openssl is not installed at ${OPENSSL_BINARY}; install the Debian package openssl to run the etcd TLS tests`);
  }
  const path = (name: string): string => join(dir, name);
  const openssl = async (...args: string[]): Promise<void> => {
    await run(OPENSSL_BINARY, args, { cwd: dir, timeout: 15_000 });
  };
  const days = ['-days', '2'];
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path('ca-key.pem'), '-out', path('ca.pem'), '-subj', '/CN=kafscale-test-ca', ...days);
  const issue = async (name: string, subject: string, extensions: string): Promise<void> => {
    writeFileSync(path(`${name}.ext`), extensions);
    await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path(`${name}-key.pem`), '-out', path(`${name}.csr`), '-subj', subject);
    await openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca-key.pem'), '-CAcreateserial', '-out', path(`${name}.pem`), '-extfile', path(`${name}.ext`), ...days);
  };
  await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  await issue('client', '/CN=kafscale-test-client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  return {
    dir,
    caFile: path('ca.pem'),
    serverCertFile: path('server.pem'),
    serverKeyFile: path('server-key.pem'),
    clientCertFile: path('client.pem'),
    clientKeyFile: path('client-key.pem'),
    ca: readFileSync(path('ca.pem')),
    clientCert: readFileSync(path('client.pem')),
    clientKey: readFileSync(path('client-key.pem')),
  };
}

/** GET /health over https with the test client certificate (the server requires one). */
async function httpsHealth(url: string, pki: EtcdTestPki): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('health check timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Users and roles as the brief of an etcd operator would set them up, then `auth enable`. */
async function enableAuth(endpoint: string, pki: EtcdTestPki | null, user: { readonly username: string; readonly password: string }): Promise<EtcdTestAuth> {
  const { Etcd3, Range } = await import('etcd3');
  const admin = new Etcd3({
    hosts: endpoint,
    ...(pki === null ? {} : { credentials: { rootCertificate: pki.ca, certChain: pki.clientCert, privateKey: pki.clientKey } }),
  });
  const rootPassword = randomBytes(12).toString('hex');
  try {
    await admin.role('root').create();
    await admin.user('root').create(rootPassword);
    await admin.user('root').addRole('root');
    const role = admin.role(`${user.username}-readwrite`);
    await role.create();
    await role.grant({ permission: 'Readwrite', range: Range.prefix('') });
    await admin.user(user.username).create(user.password);
    await admin.user(user.username).addRole(role);
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
  return { username: user.username, password: user.password, rootPassword };
}

export async function startEtcdServer(options: StartEtcdServerOptions = {}): Promise<EtcdServer> {
  const binary = options.binary ?? ETCD_BINARY;
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  assertEtcdInstalled(binary);
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  const dataDir = mkdtempSync(join(tmpdir(), 'kafscale-etcd-'));
  let pki: EtcdTestPki | null = null;
  if (options.tls === true) {
    const pkiDir = mkdtempSync(join(tmpdir(), 'kafscale-etcd-pki-'));
    try {
      pki = await generateEtcdTestPki(pkiDir);
    } catch (error) {
      rmSync(pkiDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }
  const client = `${pki === null ? 'http' : 'https'}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'kafscale-test',
    '--data-dir', dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `kafscale-test=${peer}`,
    '--initial-cluster-state', 'new',
    // Short ticks let tests use 1 s leases (etcd's minimum TTL is 1.5 election timeouts, rounded up).
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
    '--log-level', 'error',
    ...(pki === null ? [] : ['--cert-file', pki.serverCertFile, '--key-file', pki.serverKeyFile, '--client-cert-auth', '--trusted-ca-file', pki.caFile]),
  ];
  const removeFiles = (): void => {
    rmSync(dataDir, { recursive: true, force: true });
    if (pki !== null) rmSync(pki.dir, { recursive: true, force: true });
  };
  let child: ChildProcess | null = null;
  let stderrTail = '';

  const waitForExit = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const launch = async (): Promise<void> => {
    stderrTail = '';
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    // If the test process dies without running its after() hooks, do not leave etcd behind.
    const killOnExit = (): void => {
      proc.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    proc.once('exit', () => process.removeListener('exit', killOnExit));
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    let exitedEarly = false;
    proc.once('exit', () => {
      exitedEarly = true;
    });
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitedEarly) throw new Error(`etcd exited during start (${binary} ${args.join(' ')}):\n${stderrTail}`);
      try {
        const text = pki === null
          ? await (await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) })).text()
          : await httpsHealth(`${client}/health`, pki);
        const body = JSON.parse(text) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitForExit('SIGKILL');
    throw new Error(`etcd did not become healthy within ${startTimeoutMs} ms:\n${stderrTail}`);
  };

  let auth: EtcdTestAuth | null = null;
  try {
    await launch();
    if (options.auth !== undefined) auth = await enableAuth(client, pki, options.auth);
  } catch (error) {
    await waitForExit('SIGKILL');
    removeFiles();
    throw error;
  }
  let closed = false;
  return {
    endpoint: client,
    pki,
    auth,
    clientPort,
    peerPort,
    dataDir,
    stop: () => waitForExit('SIGTERM'),
    kill: () => waitForExit('SIGKILL'),
    restart: async () => {
      await waitForExit('SIGTERM');
      await launch();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await waitForExit('SIGKILL');
      removeFiles();
    },
  };
}
