import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { silentLogger } from '../telemetry/logger.ts';
import { createTestPki } from '../../test/helpers/security.ts';
import { TlsCertificates } from './tls-certificates.ts';

test('a client with OpenSSL\'s default preference (AES-256 first) gets TLS 1.3 AES-128-GCM: the server\'s order wins', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-tls-cipher-'));
  const pki = await createTestPki(dir);
  const certificates = new TlsCertificates({ certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, caFile: null }, silentLogger(), 60_000);
  const server = createServer(certificates.options, (socket) => socket.end());
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const socket = connect({ host: '127.0.0.1', port, ca: pki.ca });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const cipher = socket.getCipher();
    socket.destroy();
    assert.equal(socket.getProtocol?.() ?? cipher.version, 'TLSv1.3');
    assert.equal(cipher.standardName, 'TLS_AES_128_GCM_SHA256');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
