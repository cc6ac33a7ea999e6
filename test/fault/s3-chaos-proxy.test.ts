/**
 * The chaos suite's S3 proxy does what the suite's figures claim: with a 503 share of 1 every PUT is
 * answered 503 SlowDown with S3's XML body (the adapter classifies it as throttling), quiet it
 * forwards byte for byte, a delay delays, and resets drop connections either before the request
 * reaches s3rver (nothing stored) or after s3rver applied it (stored, but the client saw a reset).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKafscaleError } from '../../src/telemetry/kafscale-error.ts';
import { S3ObjectStore } from '../../src/storage/object/s3-object-store.ts';
import { S3ChaosProxy } from '../helpers/s3-chaos-proxy.ts';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.ts';

let s3: S3TestServer;
let proxy: S3ChaosProxy;
let viaProxy: S3ObjectStore;
let direct: S3ObjectStore;

function store(endpoint: string): S3ObjectStore {
  return new S3ObjectStore({
    bucket: s3.bucket, region: s3.region, endpoint, forcePathStyle: true,
    accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey,
    requestTimeoutMs: 5_000, maxAttempts: 1,
  });
}

before(async () => {
  s3 = await startS3Server();
  proxy = await new S3ChaosProxy(s3.port, 7).start();
  viaProxy = store(proxy.endpoint);
  direct = store(s3.endpoint);
});

after(async () => {
  await viaProxy?.close();
  await direct?.close();
  await proxy?.close();
  await s3?.stop();
});

test('quiet: PUT and GET pass through unchanged', async () => {
  proxy.quiet();
  const body = Buffer.from('x'.repeat(100_000));
  await viaProxy.put('quiet/a', body);
  assert.deepEqual(await direct.get('quiet/a'), body);
  assert.deepEqual(await viaProxy.get('quiet/a', { range: { start: 10, end: 20 } }), body.subarray(10, 20));
});

test('put503Share 1: every PUT is answered 503 SlowDown, nothing reaches s3rver', async () => {
  proxy.set({ put503Share: 1 });
  const before503 = proxy.counters.put503;
  await assert.rejects(viaProxy.put('slow/a', Buffer.from('v')), (error) => isKafscaleError(error, 'KSC_OBJECT_THROTTLED'));
  assert.equal(proxy.counters.put503, before503 + 1);
  proxy.quiet();
  await assert.rejects(direct.head('slow/a'));
});

test('delay: a request takes at least the configured delay', async () => {
  proxy.set({ delayMs: [300, 300] });
  const began = Date.now();
  await viaProxy.put('delay/a', Buffer.from('v'));
  assert.ok(Date.now() - began >= 290, `took ${Date.now() - began} ms`);
  proxy.quiet();
});

test('resets: before the request reaches s3rver (not stored) and after it applied (stored)', async () => {
  proxy.set({ resetShare: 1 });
  const outcomes: boolean[] = [];
  for (let i = 0; i < 12; i++) {
    const key = `reset/${i}`;
    await assert.rejects(viaProxy.put(key, Buffer.from(`v${i}`)));
    outcomes.push(await direct.head(key).then(() => true, () => false));
  }
  proxy.quiet();
  assert.ok(outcomes.includes(true) && outcomes.includes(false), `both kinds happened: ${JSON.stringify(outcomes)}`);
  assert.equal(proxy.counters.resetMidRequest + proxy.counters.resetAfterApplied, 12);
  assert.equal(outcomes.filter(Boolean).length, proxy.counters.resetAfterApplied, 'exactly the after-applied resets stored their object');
});
