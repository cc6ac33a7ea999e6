/**
 * probeTls answers "does this endpoint speak TLS?" from the server itself: a real plain-text etcd and a
 * real TLS etcd (client certificate required), and small servers for the edge cases.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { startEtcdServer, type EtcdServer } from '../../../test/helpers/etcd-server.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { EtcdMetadataStore } from './etcd-metadata-store.ts';
import { probeTls } from './tls-probe.ts';

const TIMEOUT_MS = 2_000;

let plain: EtcdServer;
let secure: EtcdServer;

before(async () => {
  plain = await startEtcdServer({});
  secure = await startEtcdServer({ tls: true });
});

after(async () => {
  await plain?.close();
  await secure?.close();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('a plain-text etcd does not speak TLS, whichever scheme the endpoint names', async () => {
  assert.equal(await probeTls(plain.endpoint, TIMEOUT_MS), 'plain');
  assert.equal(await probeTls(plain.endpoint.replace('http://', 'https://'), TIMEOUT_MS), 'plain');
});

test('a TLS etcd that requires a client certificate speaks TLS', async () => {
  assert.equal(await probeTls(secure.endpoint, TIMEOUT_MS), 'tls');
  assert.equal(await probeTls(secure.endpoint.replace('https://', 'http://'), TIMEOUT_MS), 'tls');
});

test('a TLS server that refuses the handshake with an alert still speaks TLS', async (t) => {
  const pki = secure.pki;
  assert.ok(pki !== null);
  // Only TLS 1.2, so the missing client certificate fails the handshake itself with an alert.
  const server = createTlsServer({ key: readFileSync(pki.serverKeyFile), cert: readFileSync(pki.serverCertFile), ca: pki.ca, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' });
  server.on('tlsClientError', () => {});
  const port = await listen(server);
  t.after(() => closed(server));
  assert.equal(await probeTls(`https://127.0.0.1:${port}`, TIMEOUT_MS), 'tls');
});

test('a server that answers the ClientHello with plain text, or hangs up on it, does not speak TLS', async (t) => {
  const http = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const hangUp = createServer((socket) => socket.once('data', () => socket.destroy()));
  const httpPort = await listen(http);
  const hangUpPort = await listen(hangUp);
  t.after(() => Promise.all([closed(http), closed(hangUp)]));
  assert.equal(await probeTls(`https://127.0.0.1:${httpPort}`, TIMEOUT_MS), 'plain');
  assert.equal(await probeTls(`https://127.0.0.1:${hangUpPort}`, TIMEOUT_MS), 'plain');
});

test('nothing listening, a silent server or a bad endpoint: unknown', async (t) => {
  const gone = createServer();
  const gonePort = await listen(gone);
  await closed(gone);
  assert.equal(await probeTls(`https://127.0.0.1:${gonePort}`, TIMEOUT_MS), 'unknown');

  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer((socket) => void sockets.add(socket));
  const silentPort = await listen(silent);
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return closed(silent);
  });
  const started = Date.now();
  assert.equal(await probeTls(`https://127.0.0.1:${silentPort}`, 300), 'unknown');
  assert.ok(Date.now() - started < 2_000, 'bounded by the timeout');

  assert.equal(await probeTls('not a url', TIMEOUT_MS), 'unknown');
});

test('the etcd adapter\'s http/https hint follows the probe, not the wording of the gRPC error', async (t) => {
  // A loaded plain-text etcd may reset connections instead of answering: the error is then a plain
  // ECONNRESET, and the hint must still say that etcd does not serve TLS.
  const resetting = createServer((socket) => socket.destroy());
  const port = await listen(resetting);
  t.after(() => closed(resetting));
  const connectTo = (endpoint: string): Promise<EtcdMetadataStore> => EtcdMetadataStore.connect({ endpoints: [endpoint], requestTimeoutMs: TIMEOUT_MS });
  await assert.rejects(connectTo(`https://127.0.0.1:${port}`), (error: unknown) => {
    assert.ok(isKafscaleError(error), String(error));
    assert.match(error.message, /if etcd does not serve TLS, use http:\/\/ endpoints/);
    assert.equal(error.retriable, true);
    return true;
  });
  // The same server behind an http:// endpoint does not speak TLS either: no https hint.
  await assert.rejects(EtcdMetadataStore.connect({ endpoints: [`http://127.0.0.1:${port}`], requestTimeoutMs: TIMEOUT_MS }), (error: unknown) => {
    assert.ok(isKafscaleError(error), String(error));
    assert.doesNotMatch(error.message, /use https:\/\//);
    return true;
  });
});
