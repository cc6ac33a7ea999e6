import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startS3Server, type S3TestServer } from '../../../test/helpers/s3-server.ts';
import { runObjectStoreContract } from './object-store-contract.ts';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts';

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
