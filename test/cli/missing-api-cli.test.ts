/**
 * The CLI against a stand-in broker whose ApiVersions lists only ApiVersions and Metadata (or that never
 * answers): commands needing other APIs fail with one line naming the API; a silent listener is
 * "cannot connect" (exit 3) once --timeout passes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeRequestHeader, encodeResponse } from '../../src/protocol/codec/index.ts';
import { FrameDecoder, sizePrefix } from '../../src/protocol/frame.ts';
import { kafscale } from './cli-runner.ts';

const sockets = new Set<Socket>();

function listen(answer: boolean): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
        const header = decodeRequestHeader(frame);
        if (!answer || header.apiKey !== 18) continue;
        const chunks = encodeResponse(18, header.apiVersion, header.correlationId, {
          errorCode: 0,
          apiKeys: [{ apiKey: 3, minVersion: 0, maxVersion: 12 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }],
          throttleTimeMs: 0,
          supportedFeatures: [],
          finalizedFeaturesEpoch: -1n,
          finalizedFeatures: [],
          zkMigrationReady: false,
        });
        socket.write(Buffer.concat([sizePrefix(chunks), ...chunks]));
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

let limited: { server: Server; port: number };
let silent: { server: Server; port: number };

before(async () => {
  limited = await listen(true);
  silent = await listen(false);
});
after(() => {
  for (const socket of sockets) socket.destroy();
  limited.server.close();
  silent.server.close();
});

test('commands whose API the broker lacks fail with one line naming it (exit 1)', async () => {
  const bootstrap = `127.0.0.1:${limited.port}`;
  const cases: [string[], string][] = [
    [['consume', 'orders'], 'ListOffsets'],
    [['groups', 'list'], 'ListGroups'],
    [['groups', 'describe', 'g'], 'FindCoordinator'],
    [['topics', 'create', 'orders'], 'CreateTopics'],
  ];
  for (const [args, api] of cases) {
    const result = await kafscale(['--bootstrap', bootstrap, ...args]);
    assert.equal(result.code, 1, args.join(' '));
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^kafscale: the broker at 127\\.0\\.0\\.1:${limited.port} does not serve ${api} yet\\nhint: .+\\n$`));
  }
});

test('a listener that never answers ApiVersions is exit 3 after --timeout', async () => {
  const started = Date.now();
  const result = await kafscale(['--bootstrap', `127.0.0.1:${silent.port}`, '--timeout', '500', 'topics', 'list']);
  assert.equal(result.code, 3);
  assert.match(result.stderr, new RegExp(`^kafscale: no ApiVersions response from 127\\.0\\.0\\.1:${silent.port} within 500 ms\\nhint: .+\\n$`));
  assert.ok(Date.now() - started < 10_000);
});
