/**
 * The Kafka listener over real TLS (certificates made with openssl in the test): TLS 1.2 minimum,
 * client certificates (none / requested / required) mapped to principals, and certificate rotation
 * picked up from the files without a restart.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ConnectionContext, RequestDispatcher } from '../broker/dispatch.ts';
import { sizePrefix } from '../protocol/frame.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createTestPki, type TestPki } from '../../test/helpers/security.ts';
import { CertificatePrincipalMapper } from './certificate-principal.ts';
import { KafkaServer } from './kafka-server.ts';
import { TlsCertificates } from './tls-certificates.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';

/** Answers every request with the connection's principal and listener name. */
class PrincipalEcho implements RequestDispatcher {
  async handle(_frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[]> {
    return [Buffer.from(`${connection.principal}|${connection.listenerName}`)];
  }

  newProduceOrder(): ProduceOrder {
    return new ProduceOrder();
  }
}

let dir: string;
let pki: TestPki;
let alice: { cert: Buffer; key: Buffer };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kafscale-tls-'));
  pki = await createTestPki(dir);
  alice = await pki.issue('alice', '/O=Example/OU=eng/CN=alice', 'client');
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function startServer(clientAuth: 'none' | 'requested' | 'required', certificates?: TlsCertificates): Promise<KafkaServer> {
  const server = new KafkaServer({
    dispatcher: new PrincipalEcho(),
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: 1024 * 1024,
    maxInflightPerConnection: 4,
    idleTimeoutMs: 10_000,
    logger: silentLogger(),
    listenerName: 'CLIENTS',
    tls: {
      certificates: certificates ?? new TlsCertificates({ certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, caFile: pki.caFile }, silentLogger(), 100),
      clientAuth,
      principalMapper: new CertificatePrincipalMapper('RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT'),
    },
  });
  await server.start();
  return server;
}

/** One request over TLS; resolves with the answer and the server certificate's subject CN. */
async function ask(port: number, options: ConnectionOptions = {}): Promise<{ answer: string; serverCn: string }> {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: pki.ca, ...options });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });
  const serverCn = String(socket.getPeerCertificate().subject.CN);
  const body = Buffer.from([0, 18, 0, 0, 0, 0, 0, 1]);
  socket.write(Buffer.concat([sizePrefix([body]), body]));
  const answer = await new Promise<string>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) resolve(buffered.subarray(4, 4 + buffered.readInt32BE(0)).toString());
    });
    socket.once('close', () => reject(new Error('closed before an answer')));
  });
  socket.destroy();
  return { answer, serverCn };
}

describe('TLS listener', () => {
  test('without a client certificate the principal is User:ANONYMOUS; the listener name is reported', async () => {
    const server = await startServer('requested');
    try {
      assert.equal((await ask(server.port)).answer, 'User:ANONYMOUS|CLIENTS');
    } finally {
      await server.close({ drainMs: 100 });
    }
  });

  test('a verified client certificate maps to a principal by the rules (CN, lower-cased)', async () => {
    const server = await startServer('requested');
    try {
      assert.equal((await ask(server.port, { cert: alice.cert, key: alice.key })).answer, 'User:alice|CLIENTS');
      // DEFAULT: a certificate the rule does not match gets its whole distinguished name.
      const ops = await pki.issue('ops', '/O=Example/OU=ops/CN=Robot', 'client');
      assert.equal((await ask(server.port, { cert: ops.cert, key: ops.key })).answer, 'User:CN=Robot,OU=ops,O=Example|CLIENTS');
    } finally {
      await server.close({ drainMs: 100 });
    }
  });

  test('clientAuth=required refuses a client without a certificate; TLS 1.1 is refused', async () => {
    const server = await startServer('required');
    try {
      await assert.rejects(ask(server.port));
      assert.equal((await ask(server.port, { cert: alice.cert, key: alice.key })).answer, 'User:alice|CLIENTS');
      await assert.rejects(ask(server.port, { cert: alice.cert, key: alice.key, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
    } finally {
      await server.close({ drainMs: 100 });
    }
  });

  test('a rotated certificate is served to new connections without a restart; a broken file keeps the old one', async () => {
    const live = mkdtempSync(join(dir, 'live-'));
    const certFile = join(live, 'tls.crt');
    const keyFile = join(live, 'tls.key');
    copyFileSync(pki.serverCertFile, certFile);
    copyFileSync(pki.serverKeyFile, keyFile);
    const certificates = new TlsCertificates({ certFile, keyFile, caFile: pki.caFile }, silentLogger(), 100);
    certificates.start();
    const server = await startServer('none', certificates);
    try {
      assert.equal((await ask(server.port)).serverCn, '127.0.0.1');
      const rotated = await pki.issue('rotated', '/O=kafscale-test/CN=rotated', 'server');
      copyFileSync(rotated.keyFile, keyFile);
      copyFileSync(rotated.certFile, certFile);
      const deadline = Date.now() + 5_000;
      while (certificates.reloads === 0 && Date.now() < deadline) await sleep(50);
      assert.ok(certificates.reloads >= 1, 'the change was noticed');
      assert.equal((await ask(server.port, { checkServerIdentity: () => undefined })).serverCn, 'rotated');
      // A certificate that does not load (garbage) is ignored: the rotated one stays in use.
      const reloads = certificates.reloads;
      writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
      await sleep(500);
      assert.equal(certificates.reloads, reloads);
      assert.equal((await ask(server.port, { checkServerIdentity: () => undefined })).serverCn, 'rotated');
    } finally {
      await server.close({ drainMs: 100 });
      await certificates.close();
    }
  });
});

describe('CertificatePrincipalMapper', () => {
  test('rules apply in order; L/U change case; DEFAULT is the whole name; no match is null', () => {
    const mapper = new CertificatePrincipalMapper('RULE:^CN=([^,]+),OU=svc,.*$/svc-$1/U, RULE:^CN=([^,]+),.*$/$1/');
    assert.equal(mapper.principalOfName('CN=Kafka,OU=svc,O=X'), 'User:SVC-KAFKA');
    assert.equal(mapper.principalOfName('CN=Bob,O=X'), 'User:Bob');
    assert.equal(mapper.principalOfName('O=X'), null);
    assert.equal(new CertificatePrincipalMapper('DEFAULT').principalOfName('CN=a,O=b'), 'User:CN=a,O=b');
    assert.throws(() => new CertificatePrincipalMapper('RULE:broken'), /invalid principal mapping rule/);
  });
});
