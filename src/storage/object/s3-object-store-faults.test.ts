/**
 * Fault behaviour of the S3 adapter against a real s3rver: a stopped server, a server that never
 * answers, a body that stalls, and a proxy that injects throttling / 5xx / 4xx / resets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { FaultProxy } from '../../../test/helpers/s3-fault-proxy.ts';
import { startS3Server, type S3TestServer } from '../../../test/helpers/s3-server.ts';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts';

let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
});
after(() => s3.stop());

function storeFor(endpoint: string, overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    bucket: s3.bucket,
    region: s3.region,
    endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    requestTimeoutMs: 2_000,
    maxAttempts: 4,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    ...overrides,
  });
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

async function closeServer(server: Server | ReturnType<typeof createTcpServer>, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('S3 adapter under faults', () => {
  it('a stopped server fails put/get/head/list with retriable KSC_OBJECT_UNAVAILABLE, promptly', async (t) => {
    const own = await startS3Server({ bucket: 'doomed' });
    t.after(() => own.stop());
    const store = new S3ObjectStore({
      bucket: own.bucket, region: own.region, endpoint: own.endpoint, forcePathStyle: true,
      accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey,
      requestTimeoutMs: 1_000, maxAttempts: 3, retryBaseDelayMs: 20, retryMaxDelayMs: 100,
    });
    t.after(() => store.close());
    await store.put('k', Buffer.from('before the crash'));
    await own.stop();
    const operations: [string, () => Promise<unknown>][] = [
      ['put', () => store.put('k2', Buffer.from('x'))],
      ['get', () => store.get('k')],
      ['head', () => store.head('k')],
      ['list', async () => { for await (const _ of store.list('')) { /* drain */ } }],
      ['delete', () => store.delete(['k'])],
    ];
    for (const [name, operation] of operations) {
      const started = Date.now();
      await assert.rejects(operation(), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE') && err.retriable, name);
      // bound: 3 attempts × 1 s timeout + backoff; a refused connection is much faster than that
      assert.ok(Date.now() - started < 3_500, `${name} took ${Date.now() - started} ms`);
    }
  });

  it('a server that accepts but never answers times out per attempt (no hang)', async (t) => {
    const sockets = new Set<Socket>();
    const blackHole = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.resume(); // read the request, never answer
    });
    const port = await listen(blackHole);
    t.after(() => closeServer(blackHole, sockets));
    const store = storeFor(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300, maxAttempts: 2 });
    t.after(() => store.close());
    const started = Date.now();
    await assert.rejects(store.get('k'), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE') && err.retriable && /failed after 2 attempts/.test(err.message));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 500 && elapsed < 2_000, `took ${elapsed} ms`);
  });

  it('a response body that stalls midway times out too', async (t) => {
    const sockets = new Set<Socket>();
    const stalling = createHttpServer((req, res) => {
      res.writeHead(200, { 'content-length': '100', 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(10)); // then nothing
    });
    stalling.on('connection', (s) => sockets.add(s));
    const port = await listen(stalling);
    t.after(() => closeServer(stalling, sockets));
    const store = storeFor(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300, maxAttempts: 2 });
    t.after(() => store.close());
    const started = Date.now();
    await assert.rejects(store.get('k'), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE') && err.retriable);
    assert.ok(Date.now() - started < 2_000);
  });

  it('a body cut short (connection closed before Content-Length) is retried, and the retry returns every byte', async (t) => {
    const sockets = new Set<Socket>();
    const full = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    let requests = 0;
    const cutting = createHttpServer((req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': String(full.length), 'content-type': 'application/octet-stream' });
      if (requests === 1) {
        res.write(full.subarray(0, 10));
        setImmediate(() => res.socket?.destroy()); // then the connection drops
      } else {
        res.end(full);
      }
    });
    cutting.on('connection', (s) => sockets.add(s));
    const port = await listen(cutting);
    t.after(() => closeServer(cutting, sockets));
    const store = storeFor(`http://127.0.0.1:${port}`, { maxAttempts: 2 });
    t.after(() => store.close());
    assert.deepEqual(await store.get('k'), full);
    assert.equal(requests, 2);
  });

  describe('through a fault-injecting proxy', () => {
    let proxy: FaultProxy;
    before(async () => {
      proxy = await new FaultProxy(s3.port).start();
    });
    after(() => proxy.close());

    function reset(): void {
      proxy.faults.length = 0;
      proxy.persistent = undefined;
      proxy.delayMs = 0;
      proxy.requests = 0;
      proxy.maxInFlight = 0;
    }

    it('SlowDown (503) is retried and succeeds once the throttling clears', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint);
      t.after(() => store.close());
      proxy.faults.push({ status: 503, code: 'SlowDown' }, { status: 503, code: 'SlowDown' });
      await store.put('retry/put', Buffer.from('made it'));
      assert.equal(proxy.requests, 3);
      proxy.faults.push({ status: 503, code: 'SlowDown' });
      assert.equal((await store.get('retry/put')).toString(), 'made it');
      assert.equal(proxy.requests, 5);
    });

    it('5xx InternalError and connection resets are retried', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint);
      t.after(() => store.close());
      await store.put('retry/5xx', Buffer.from('v'));
      proxy.requests = 0;
      proxy.faults.push({ status: 500, code: 'InternalError' }, 'reset', { status: 502, code: 'BadGateway' });
      assert.equal((await store.get('retry/5xx')).toString(), 'v');
      assert.equal(proxy.requests, 4);
    });

    it('throttling that never clears ends as retriable KSC_OBJECT_THROTTLED after maxAttempts', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint, { maxAttempts: 3 });
      t.after(() => store.close());
      proxy.persistent = { status: 503, code: 'SlowDown' };
      await assert.rejects(store.put('retry/never', Buffer.from('x')), (err) => isKafscaleError(err, 'KSC_OBJECT_THROTTLED') && err.retriable);
      assert.equal(proxy.requests, 3);
    });

    it('AccessDenied is not retried and is not retriable', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint);
      t.after(() => store.close());
      proxy.faults.push({ status: 403, code: 'AccessDenied' });
      await assert.rejects(store.put('retry/denied', Buffer.from('x')), (err) =>
        isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE') && !err.retriable && /AccessDenied/.test(err.message) && /credentials/.test(err.message));
      assert.equal(proxy.requests, 1);
    });

    it('a caller abort during backoff stops the retries with the caller reason', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint, { maxAttempts: 10, retryBaseDelayMs: 200, retryMaxDelayMs: 200 });
      t.after(() => store.close());
      proxy.persistent = { status: 503, code: 'SlowDown' };
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('produce request timed out')), 150);
      const started = Date.now();
      await assert.rejects(store.put('retry/abort', Buffer.from('x'), { signal: controller.signal }), /produce request timed out/);
      assert.ok(Date.now() - started < 1_000);
      assert.ok(proxy.requests < 10);
    });

    it('maxConcurrency bounds requests in flight', async (t) => {
      reset();
      const store = storeFor(proxy.endpoint, { maxConcurrency: 3 });
      t.after(() => store.close());
      proxy.delayMs = 30;
      await Promise.all(Array.from({ length: 15 }, (_, i) => store.put(`conc/${i}`, Buffer.from(String(i)))));
      assert.equal(proxy.requests, 15);
      assert.equal(proxy.maxInFlight, 3);
    });
  });
});
