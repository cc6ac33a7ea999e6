import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { FaultProxy } from '../../../test/helpers/s3-fault-proxy.ts';
import { startS3Server, type S3TestServer } from '../../../test/helpers/s3-server.ts';
import { runObjectStoreContract } from './object-store-contract.ts';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts';
import { joinInSlices, sha256InSlices } from './sliced-body.ts';

let server: S3TestServer;
before(async () => {
  server = await startS3Server();
});
after(() => server.stop());

function options(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  return {
    bucket: server.bucket,
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

let counter = 0;
// Each test gets its own namespace in the shared bucket, so the stores start empty.
runObjectStoreContract('s3 (s3rver)', async () => new S3ObjectStore(options({ namespace: `contract-${++counter}` })));

describe('S3 adapter specifics', () => {
  it('namespaces keep stores apart in one bucket and list strips the namespace', async (t) => {
    const a = new S3ObjectStore(options({ namespace: 'ns-a' }));
    const b = new S3ObjectStore(options({ namespace: 'ns-b/nested' }));
    const root = new S3ObjectStore(options());
    t.after(() => Promise.all([a.close(), b.close(), root.close()]));
    await a.put('k', Buffer.from('a'));
    await b.put('k', Buffer.from('b'));
    assert.equal((await a.get('k')).toString(), 'a');
    assert.equal((await b.get('k')).toString(), 'b');
    const keys = [];
    for await (const info of b.list('')) keys.push(info.key);
    assert.deepEqual(keys, ['k']);
    assert.equal((await root.get('ns-b/nested/k')).toString(), 'b');
  });

  it('ensureBucket creates a missing bucket and is idempotent', async (t) => {
    const store = new S3ObjectStore(options({ bucket: 'created-by-ensure' }));
    t.after(() => store.close());
    await assert.rejects(store.put('x', Buffer.from('x')), (err: Error & { code?: string; retriable?: boolean }) =>
      err.code === 'KSC_OBJECT_UNAVAILABLE' && err.retriable === false && /NoSuchBucket/.test(err.message));
    await store.ensureBucket();
    await store.ensureBucket();
    await store.put('x', Buffer.from('x'));
    assert.equal((await store.get('x')).toString(), 'x');
  });

  it('rejects an invalid namespace at construction', () => {
    assert.throws(() => new S3ObjectStore(options({ namespace: '../up' })), (err: Error & { code?: string }) => err.code === 'KSC_OBJECT_INVALID_KEY');
  });
});

describe('S3 adapter: background puts', () => {
  it('a background put of parts is joined and hashed in slices: the signed payload hash is the body\'s, the object reads back whole', async (t) => {
    const proxy = await new FaultProxy(Number(new URL(server.endpoint).port)).start();
    t.after(() => proxy.close());
    const store = new S3ObjectStore(options({ endpoint: proxy.endpoint, namespace: 'background-put' }));
    t.after(() => store.close());
    // 3 MiB + a bit, in uneven parts: the slices (1 MiB) cross part boundaries.
    const parts = [randomBytes(700_000), randomBytes(1_500_000), randomBytes(3), randomBytes(1_000_001)];
    const whole = Buffer.concat(parts);
    await store.put('segment', parts, { background: true });
    await store.put('flush', parts);
    const puts = proxy.forwarded.filter((r) => r.method === 'PUT');
    assert.equal(puts.length, 2);
    const expected = createHash('sha256').update(whole).digest('hex');
    for (const put of puts) assert.deepEqual([put.payloadHashHeader, put.bodySha256], [expected, expected], put.url);
    assert.ok((await store.get('segment')).equals(whole));
    assert.ok((await store.get('flush')).equals(whole));
  });

  it('joinInSlices and sha256InSlices equal concat and a one-go hash at any slice size', async () => {
    const parts = [Buffer.from('abc'), Buffer.alloc(0), randomBytes(10), Buffer.from('z')];
    const whole = Buffer.concat(parts);
    for (const slice of [1, 2, 3, 7, 64]) {
      assert.ok((await joinInSlices(parts, slice)).equals(whole), `slice ${slice}`);
      assert.equal(await sha256InSlices(whole, slice), createHash('sha256').update(whole).digest('hex'));
    }
    assert.equal(await sha256InSlices(Buffer.alloc(0)), createHash('sha256').digest('hex'));
    const one = Buffer.from('one');
    assert.equal(await joinInSlices(one), one);
    assert.equal(await joinInSlices([one]), one);
  });
});
