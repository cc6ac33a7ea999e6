/**
 * Listeners, TLS and SASL on a real broker process, driven with the wire client: PLAINTEXT, SSL,
 * SASL_PLAINTEXT and SASL_SSL listeners side by side; users created with `kafscale users set` before
 * the broker starts (written to its metadata store directly). Each negative case ends in a clean error
 * and a closed connection while another, authenticated connection keeps working.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ScramClientExchange, saltPassword, SCRAM_MECHANISM_IDS } from '../../src/services/security/scram.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { createTestPki, createUser, runKafscale, scramLogin, type TestPki } from '../helpers/security.ts';
import { ConnectionClosedError, rawRequest, WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const HOST = '127.0.0.1';
const FAILURE_DELAY_MS = 300;
const OPS_TOKEN = 'ops-token-0123456789abcdef';

let dir: string;
let pki: TestPki;
let broker: BrokerProcess;
let reauthBroker: BrokerProcess | undefined;
let dataDir: string;
const sockets: WireClient[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kafscale-security-'));
  pki = await createTestPki(dir);
  dataDir = join(dir, 'data');
  await createUser({ KAFSCALE_DATA_DIR: dataDir }, 'alice', 'alice-secret', 'SCRAM-SHA-512');
  await createUser({ KAFSCALE_DATA_DIR: dataDir }, 'bob', 'bob-secret', 'SCRAM-SHA-256');
  writeFileSync(join(dir, 'ops-token'), `${OPS_TOKEN}\n`);
  broker = await startBroker({
    dataDir,
    extraListeners: ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL'],
    env: {
      KAFSCALE_TLS_CERT_FILE: pki.serverCertFile,
      KAFSCALE_TLS_KEY_FILE: pki.serverKeyFile,
      KAFSCALE_SASL_MECHANISMS: 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      KAFSCALE_AUTH_FAILURE_DELAY_MS: String(FAILURE_DELAY_MS),
      KAFSCALE_OPS_TLS: 'true',
      KAFSCALE_OPS_TOKEN_FILE: join(dir, 'ops-token'),
    },
  });
});

after(async () => {
  for (const socket of sockets) socket.close();
  await broker?.stop();
  await reauthBroker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(listener: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL', target: BrokerProcess = broker): Promise<WireClient> {
  const port = target.listenerPorts[listener] as number;
  const client = listener === 'SSL' || listener === 'SASL_SSL' ? await WireClient.connectTls(HOST, port, { ca: pki.ca }) : await WireClient.connect(HOST, port);
  sockets.push(client);
  return client;
}

async function authenticated(listener: 'SASL_PLAINTEXT' | 'SASL_SSL' = 'SASL_PLAINTEXT'): Promise<WireClient> {
  const client = await connect(listener);
  const result = await scramLogin(client, 'SCRAM-SHA-512', 'alice', 'alice-secret');
  assert.equal(result.errorCode, ErrorCode.NONE);
  return client;
}

async function stillServes(client: WireClient): Promise<void> {
  const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
  assert.ok(metadata.brokers.length >= 1);
}

/** GET on the main broker's ops listener (HTTPS, bearer token). */
function opsGet(path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: HOST, port: broker.opsPort, path, ca: pki.ca, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function closedWith(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, ConnectionClosedError);
}

test('Metadata answers with the addresses of the listener the client connected to', async () => {
  for (const listener of ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const) {
    const client = listener.startsWith('SASL') ? await authenticated(listener as 'SASL_PLAINTEXT' | 'SASL_SSL') : await connect(listener);
    const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
    assert.deepEqual(metadata.brokers.map((b) => `${b.host}:${b.port}`), [`${HOST}:${broker.listenerPorts[listener]}`], listener);
    const coordinator = await client.send(10, 3, { key: 'g', keyType: 0 });
    assert.equal(coordinator.port, broker.listenerPorts[listener], `FindCoordinator on ${listener}`);
    client.close();
  }
});

test('SCRAM-SHA-512 and SCRAM-SHA-256 log in over SASL_PLAINTEXT and SASL_SSL; the server signature is verified', async () => {
  for (const listener of ['SASL_PLAINTEXT', 'SASL_SSL'] as const) {
    const a = await connect(listener);
    assert.equal((await scramLogin(a, 'SCRAM-SHA-512', 'alice', 'alice-secret')).errorCode, ErrorCode.NONE);
    await stillServes(a);
    const b = await connect(listener);
    const result = await scramLogin(b, 'SCRAM-SHA-256', 'bob', 'bob-secret');
    assert.equal(result.errorCode, ErrorCode.NONE);
    assert.equal(result.sessionLifetimeMs, 0n, 'connections.max.reauth.ms is off by default');
    await stillServes(b);
  }
});

test('before authentication only ApiVersions and SASL are allowed; anything else closes the connection', async () => {
  const other = await authenticated();
  const client = await connect('SASL_PLAINTEXT');
  const versions = await client.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  assert.equal(versions.errorCode, ErrorCode.NONE);
  assert.ok(versions.apiKeys.some((k) => k.apiKey === 17 && k.maxVersion === 1));
  assert.ok(versions.apiKeys.some((k) => k.apiKey === 36 && k.maxVersion === 2));
  await closedWith(client.send(3, 12, { topics: null, allowAutoTopicCreation: false }));
  // Also after a handshake, before the exchange finished.
  const half = await connect('SASL_SSL');
  assert.equal((await half.send(17, 1, { mechanism: 'SCRAM-SHA-512' })).errorCode, ErrorCode.NONE);
  await closedWith(half.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [] }));
  await stillServes(other);
});

test('a wrong password and an unknown user get the same SASL_AUTHENTICATION_FAILED after the configured delay, then the connection closes', async () => {
  const other = await authenticated();
  const messages: Array<string | null> = [];
  for (const [user, password] of [['alice', 'wrong'], ['mallory', 'whatever']] as const) {
    const client = await connect('SASL_PLAINTEXT');
    const started = performance.now();
    const result = await scramLogin(client, 'SCRAM-SHA-512', user, password);
    const elapsedMs = performance.now() - started;
    assert.equal(result.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    assert.ok(elapsedMs >= FAILURE_DELAY_MS - 20, `answered after ${elapsedMs} ms`);
    assert.equal(await client.waitForClose(5_000), true);
    messages.push(result.errorMessage);
  }
  assert.equal(messages[0], messages[1], 'the message must not tell an unknown user from a wrong password');
  const metrics = await opsGet('/metrics', OPS_TOKEN);
  assert.match(metrics.body, /kafscale_sasl_authentications_total\{[^}]*mechanism="SCRAM-SHA-512"[^}]*outcome="failure"[^}]*\} [1-9]/);
  assert.doesNotMatch(metrics.body, /mallory|alice/);
  assert.doesNotMatch(messages[0] ?? '', /alice|mallory|wrong|exist/i);
  await stillServes(other);
});

test('an unknown user gets a plausible SCRAM challenge (salt and iterations), stable across attempts', async () => {
  const challenges: string[] = [];
  for (let i = 0; i < 2; i++) {
    const client = await connect('SASL_PLAINTEXT');
    await client.send(17, 1, { mechanism: 'SCRAM-SHA-512' });
    const first = await client.send(36, 2, { authBytes: new ScramClientExchange('SCRAM-SHA-512', 'nobody', 'x', `nonce${i}`).first() });
    assert.equal(first.errorCode, ErrorCode.NONE);
    challenges.push(first.authBytes.toString('utf8').replace(/^r=[^,]*,/, ''));
    client.close();
  }
  assert.match(challenges[0] ?? '', /^s=[A-Za-z0-9+/=]{40,},i=\d{4,5}$/);
  assert.equal(challenges[0], challenges[1]);
});

test('SCRAM with a wrong nonce or a wrong proof fails cleanly and closes the connection', async () => {
  const other = await authenticated();
  for (const tamper of [{ nonce: 'not-the-servers-nonce' }, { proof: Buffer.alloc(64, 7) }]) {
    const client = await connect('SASL_PLAINTEXT');
    await client.send(17, 1, { mechanism: 'SCRAM-SHA-512' });
    const scram = new ScramClientExchange('SCRAM-SHA-512', 'alice', 'alice-secret');
    const first = await client.send(36, 2, { authBytes: scram.first() });
    const final = await client.send(36, 2, { authBytes: scram.final(first.authBytes, tamper) });
    assert.equal(final.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    assert.equal(await client.waitForClose(5_000), true);
  }
  await stillServes(other);
});

test('before authentication a frame over 512 KiB (sasl.server.max.receive.size) closes the connection unbuffered', async () => {
  const other = await authenticated();
  const client = await connect('SASL_PLAINTEXT');
  const header = Buffer.alloc(4);
  header.writeInt32BE(50 * 1024 * 1024, 0);
  client.sendRaw(Buffer.concat([header, Buffer.alloc(1024)]));
  assert.equal(await client.waitForClose(5_000), true);
  await stillServes(other);
});

test('a truncated SaslAuthenticate frame closes the connection; others are unaffected', async () => {
  const other = await authenticated();
  const client = await connect('SASL_PLAINTEXT');
  await client.send(17, 1, { mechanism: 'SCRAM-SHA-512' });
  // v1 body: bytes with length 100 but only 5 bytes present.
  const body = Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.from('n,,n=')]);
  client.sendRaw(rawRequest(36, 1, 99, body));
  assert.equal(await client.waitForClose(5_000), true);
  await stillServes(other);
});

test('PLAIN: the right password logs in; embedded NULs, an empty password or a wrong one fail and close', async () => {
  const other = await authenticated();
  const good = await connect('SASL_SSL');
  assert.equal((await good.send(17, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
  assert.equal((await good.send(36, 2, { authBytes: Buffer.from('\0alice\0alice-secret') })).errorCode, ErrorCode.NONE);
  await stillServes(good);
  for (const token of ['\0alice\0alice\0secret', '\0alice\0', 'bob\0alice\0alice-secret', '\0alice\0wrong', '\0mallory\0x']) {
    const client = await connect('SASL_PLAINTEXT');
    assert.equal((await client.send(17, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
    const result = await client.send(36, 2, { authBytes: Buffer.from(token) });
    assert.equal(result.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED, JSON.stringify(token));
    assert.equal(await client.waitForClose(5_000), true);
  }
  await stillServes(other);
});

test('an unsupported mechanism gets UNSUPPORTED_SASL_MECHANISM with the offered list, then the connection closes', async () => {
  const client = await connect('SASL_PLAINTEXT');
  const handshake = await client.send(17, 1, { mechanism: 'GSSAPI' });
  assert.equal(handshake.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  assert.deepEqual(handshake.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
  assert.equal(await client.waitForClose(5_000), true);
  // A PLAINTEXT listener has no SASL: ILLEGAL_SASL_STATE.
  const plain = await connect('PLAINTEXT');
  assert.equal((await plain.send(17, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.ILLEGAL_SASL_STATE);
});

test('SaslHandshake v0: raw SASL tokens without Kafka headers (PLAIN), then ordinary requests', async () => {
  const client = await connect('SASL_PLAINTEXT');
  assert.equal((await client.send(17, 0, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
  const token = Buffer.from('\0alice\0alice-secret');
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(token.length, 0);
  client.sendRaw(Buffer.concat([prefix, token]));
  assert.equal((await client.nextFrame()).length, 0, 'PLAIN success is an empty token');
  await stillServes(client);
});

test('AlterUserScramCredentials creates and deletes users; a deleted user can no longer connect', async () => {
  const admin = await authenticated();
  const salt = Buffer.from('carol-salt-0123456789');
  const upsert = await admin.send(51, 0, {
    deletions: [],
    upsertions: [{ name: 'carol', mechanism: SCRAM_MECHANISM_IDS['SCRAM-SHA-512'], iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'carol-secret', salt, 4096) }],
  });
  assert.deepEqual(upsert.results.map((r) => [r.user, r.errorCode]), [['carol', ErrorCode.NONE]]);
  const described = await admin.send(50, 0, { users: [{ name: 'carol' }, { name: 'nobody' }] });
  assert.deepEqual(described.results.map((r) => [r.user, r.errorCode, r.credentialInfos.map((c) => [c.mechanism, c.iterations])]), [
    ['carol', ErrorCode.NONE, [[2, 4096]]],
    ['nobody', ErrorCode.RESOURCE_NOT_FOUND, []],
  ]);
  const carol = await connect('SASL_SSL');
  assert.equal((await scramLogin(carol, 'SCRAM-SHA-512', 'carol', 'carol-secret')).errorCode, ErrorCode.NONE);
  const bad = await admin.send(51, 0, {
    deletions: [{ name: 'carol', mechanism: 1 }],
    upsertions: [{ name: 'dave', mechanism: 2, iterations: 100, salt, saltedPassword: Buffer.alloc(64) }],
  });
  assert.deepEqual(bad.results.map((r) => [r.user, r.errorCode]), [['carol', ErrorCode.RESOURCE_NOT_FOUND], ['dave', ErrorCode.UNACCEPTABLE_CREDENTIAL]]);
  const deleted = await admin.send(51, 0, { deletions: [{ name: 'carol', mechanism: 2 }], upsertions: [] });
  assert.equal(deleted.results[0]?.errorCode, ErrorCode.NONE);
  const again = await connect('SASL_SSL');
  assert.equal((await scramLogin(again, 'SCRAM-SHA-512', 'carol', 'carol-secret')).errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  await stillServes(carol);
});

test('the kafscale CLI reaches SSL and SASL_SSL listeners with --command-config; a wrong password exits 1', async () => {
  const config = (name: string, lines: string[]): string => {
    const file = join(dir, `${name}.properties`);
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    return file;
  };
  const ssl = config('cli-ssl', ['security.protocol=SSL', `ssl.ca.location=${pki.caFile}`]);
  const scram = config('cli-scram', ['security.protocol=SASL_SSL', 'sasl.mechanism=SCRAM-SHA-512', 'sasl.username=alice', 'sasl.password=alice-secret', `ssl.ca.location=${pki.caFile}`]);
  const plain = config('cli-plain', ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', 'sasl.username=alice', 'sasl.password=alice-secret']);
  const wrong = config('cli-wrong', ['security.protocol=SASL_SSL', 'sasl.mechanism=SCRAM-SHA-512', 'sasl.username=alice', 'sasl.password=nope', `ssl.ca.location=${pki.caFile}`]);
  for (const [file, listener] of [[ssl, 'SSL'], [scram, 'SASL_SSL'], [plain, 'SASL_PLAINTEXT']] as const) {
    const result = await runKafscale(['cluster', '--json', '--bootstrap', `${HOST}:${broker.listenerPorts[listener]}`, '--command-config', file], {});
    assert.equal(result.code, 0, `${listener}: ${result.stderr}`);
    const cluster = JSON.parse(result.stdout) as { brokers: Array<{ port: number }> };
    assert.deepEqual(cluster.brokers.map((b) => b.port), [broker.listenerPorts[listener]], listener);
  }
  const refused = await runKafscale(['cluster', '--bootstrap', `${HOST}:${broker.listenerPorts['SASL_SSL']}`, '--command-config', wrong], {});
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refused SASL SCRAM-SHA-512 authentication: Authentication failed/);
  assert.doesNotMatch(refused.stderr, /nope/);
});

test('kafscale users list shows users and mechanisms, never a secret; the broker log never holds a password', async () => {
  await broker.stop();
  const listed = await runKafscale(['users', 'list', '--json'], { KAFSCALE_DATA_DIR: dataDir });
  assert.equal(listed.code, 0, listed.stderr);
  const users = JSON.parse(listed.stdout) as Array<{ user: string; mechanisms: Array<{ mechanism: string }> }>;
  assert.deepEqual(users.map((u) => [u.user, u.mechanisms.map((m) => m.mechanism)]), [['alice', ['SCRAM-SHA-512']], ['bob', ['SCRAM-SHA-256']]]);
  assert.doesNotMatch(listed.stdout, /secret/);
  assert.doesNotMatch(broker.logs(), /alice-secret|bob-secret|carol-secret/);
  const refused = await runKafscale(['users', 'set', 'eve'], { KAFSCALE_DATA_DIR: dataDir });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--password-stdin or --password-file/);
  const removed = await runKafscale(['users', 'delete', 'bob'], { KAFSCALE_DATA_DIR: dataDir });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await runKafscale(['users', 'delete', 'bob'], { KAFSCALE_DATA_DIR: dataDir })).code, 1);
});

test('ops listener: HTTPS, /healthz open, everything else needs the bearer token', async () => {
  // Runs after the main broker stopped: start one with ops TLS and a token of its own.
  const opsDir = mkdtempSync(join(tmpdir(), 'kafscale-ops-'));
  writeFileSync(join(opsDir, 'token'), `${OPS_TOKEN}\n`);
  const ops = await startBroker({
    env: { KAFSCALE_TLS_CERT_FILE: pki.serverCertFile, KAFSCALE_TLS_KEY_FILE: pki.serverKeyFile, KAFSCALE_OPS_TLS: 'true', KAFSCALE_OPS_TOKEN_FILE: join(opsDir, 'token') },
  });
  try {
    const get = (path: string, token?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: HOST, port: ops.opsPort, path, ca: pki.ca, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await get('/healthz'), 200);
    assert.equal(await get('/metrics'), 401);
    assert.equal(await get('/readyz', 'wrong-token-0123456789'), 401);
    assert.equal(await get('/metrics', OPS_TOKEN), 200);
  } finally {
    await ops.stop();
    rmSync(opsDir, { recursive: true, force: true });
  }
});

test('KIP-368: SaslAuthenticate reports the session lifetime; after it expires only re-authentication is accepted', async () => {
  reauthBroker = await startBroker({
    extraListeners: ['SASL_PLAINTEXT'],
    env: { KAFSCALE_CONNECTIONS_MAX_REAUTH_MS: '1500', KAFSCALE_AUTH_FAILURE_DELAY_MS: '0' },
  });
  const created = await (async () => {
    const plain = await WireClient.connect(HOST, reauthBroker!.port);
    sockets.push(plain);
    const salt = Buffer.from('reauth-salt');
    return plain.send(51, 0, { deletions: [], upsertions: [{ name: 'erin', mechanism: 2, iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'erin-secret', salt, 4096) }] });
  })();
  assert.equal(created.results[0]?.errorCode, ErrorCode.NONE);
  const reauthing = await connect('SASL_PLAINTEXT', reauthBroker);
  const login = await scramLogin(reauthing, 'SCRAM-SHA-512', 'erin', 'erin-secret');
  assert.equal(login.sessionLifetimeMs, 1500n);
  const lazy = await connect('SASL_PLAINTEXT', reauthBroker);
  assert.equal((await scramLogin(lazy, 'SCRAM-SHA-512', 'erin', 'erin-secret')).errorCode, ErrorCode.NONE);
  await sleep(1_000);
  assert.equal((await scramLogin(reauthing, 'SCRAM-SHA-512', 'erin', 'erin-secret')).errorCode, ErrorCode.NONE, 're-authentication');
  await sleep(800);
  await stillServes(reauthing);
  await closedWith(lazy.send(3, 12, { topics: null, allowAutoTopicCreation: false }));
});

/** The CN of the certificate a TLS server on `port` presents now. */
async function servedCn(port: number): Promise<string> {
  const socket = tlsConnect({ host: HOST, port, ca: pki.ca, checkServerIdentity: () => undefined });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return String(socket.getPeerCertificate().subject.CN);
  } finally {
    socket.destroy();
  }
}

test('a running broker serves rotated certificate files on its SSL listener and its ops listener, without a restart', async () => {
  const live = mkdtempSync(join(dir, 'live-'));
  const certFile = join(live, 'tls.crt');
  const keyFile = join(live, 'tls.key');
  copyFileSync(pki.serverCertFile, certFile);
  copyFileSync(pki.serverKeyFile, keyFile);
  const rotating = await startBroker({
    extraListeners: ['SSL'],
    env: { KAFSCALE_TLS_CERT_FILE: certFile, KAFSCALE_TLS_KEY_FILE: keyFile, KAFSCALE_TLS_RELOAD_INTERVAL_MS: '200', KAFSCALE_OPS_TLS: 'true' },
  });
  try {
    const ssl = rotating.listenerPorts['SSL'] as number;
    assert.equal(await servedCn(ssl), '127.0.0.1');
    assert.equal(await servedCn(rotating.opsPort), '127.0.0.1');
    const rotated = await pki.issue('rotated-broker', '/O=kafscale-test/CN=rotated', 'server');
    copyFileSync(rotated.keyFile, keyFile);
    copyFileSync(rotated.certFile, certFile);
    await waitFor('the rotated certificate served', async () => (await servedCn(ssl)) === 'rotated', 10_000);
    assert.equal(await servedCn(rotating.opsPort), 'rotated');
    assert.match(rotating.logs(), /TLS certificate reloaded/);
    // Clients keep working over the new certificate.
    const client = await WireClient.connectTls(HOST, ssl, { ca: pki.ca, checkServerIdentity: () => undefined });
    sockets.push(client);
    await stillServes(client);
  } finally {
    await rotating.stop();
  }
});
