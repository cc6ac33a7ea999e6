import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdServer } from '../../../test/helpers/etcd-server.ts';
import type { EtcdServer } from '../../../test/helpers/etcd-server.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { EtcdMetadataStore } from './etcd-metadata-store.ts';
import { reconnectingFixture, runMetadataStoreContract } from './metadata-store-contract.ts';
import type { WatchEvent } from './metadata-store.ts';

let server: EtcdServer;
before(async () => {
  server = await startEtcdServer();
});
after(() => server.close());

let namespaces = 0;
async function connect(namespace: string, requestTimeoutMs = 2000): Promise<EtcdMetadataStore> {
  return await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace, requestTimeoutMs });
}

runMetadataStoreContract('etcd', () => {
  // A fresh namespace per test keeps tests apart on one etcd; revisions stay store-wide.
  const namespace = `/test-${process.pid}-${namespaces++}/`;
  return reconnectingFixture(() => connect(namespace));
});

const b = (text: string): Buffer => Buffer.from(text, 'utf8');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function assertRetriableMetaError(error: unknown): boolean {
  assert.ok(isKafscaleError(error), `expected a KafscaleError, got ${String(error)}`);
  assert.ok(error.code === 'KSC_META_UNAVAILABLE' || error.code === 'KSC_META_TIMEOUT', `unexpected code ${error.code}: ${error.message}`);
  assert.equal(error.retriable, true);
  return true;
}

test('etcd: connect to an endpoint where nothing listens fails fast with a retriable error', async () => {
  const started = Date.now();
  await assert.rejects(EtcdMetadataStore.connect({ endpoints: ['http://127.0.0.1:1'], requestTimeoutMs: 800 }), assertRetriableMetaError);
  assert.ok(Date.now() - started < 800 + 700, `took ${Date.now() - started} ms`);
});

test('etcd: watching from a compacted revision reports KSC_META_COMPACTED', async (t) => {
  const store = await connect(`/compact-${process.pid}/`);
  t.after(() => store.close());
  const first = await store.put('c/a', b('1'));
  await store.put('c/a', b('2'));
  const latest = await store.put('c/a', b('3'));
  // Compaction is an operator action, not part of the port: use the raw client.
  const { Etcd3 } = await import('etcd3');
  const admin = new Etcd3({ hosts: server.endpoint });
  t.after(() => admin.close());
  await admin.kv.compact({ revision: latest, physical: true });
  const errors: Error[] = [];
  const events: WatchEvent[] = [];
  await store.watch('c/', { fromRevision: first }, { onEvents: (e) => events.push(...e), onError: (e) => errors.push(e) });
  await sleep(100);
  assert.equal(errors.length, 1);
  assert.ok(isKafscaleError(errors[0], 'KSC_META_COMPACTED'), String(errors[0]));
  assert.equal(events.length, 0);
  // At the compaction revision itself history is still there.
  const ok: WatchEvent[] = [];
  const watch = await store.watch('c/', { fromRevision: latest }, { onEvents: (e) => ok.push(...e), onError: (e) => errors.push(e) });
  t.after(() => watch.close());
  for (let i = 0; i < 100 && ok.length === 0; i++) await sleep(20);
  assert.deepEqual(ok.map((e) => e.kv.value.toString()), ['3']);
});

// Before the outage tests below: they kill the shared etcd.
test('etcd: rangePages halves its pages when large values would pass the client\'s 4 MiB receive limit', async (t) => {
  const store = await connect(`/bigpages-${process.pid}/`, 10_000);
  t.after(() => store.close());
  const value = Buffer.alloc(1_300_000, 0x61);
  for (let i = 0; i < 5; i++) await store.put(`big/${i}`, value);
  await assert.rejects(store.range('big/'), /larger than max|too large/i);
  const keys: string[] = [];
  const sizes: number[] = [];
  for await (const page of store.rangePages('big/', { pageSize: 100 })) {
    keys.push(...page.kvs.map((kv) => kv.key));
    sizes.push(page.kvs.length);
    for (const kv of page.kvs) assert.equal(kv.value.length, value.length);
  }
  assert.deepEqual(keys, ['big/0', 'big/1', 'big/2', 'big/3', 'big/4']);
  assert.ok(Math.max(...sizes) <= 3, `pages of ${sizes.join(', ')}`);
});

test('etcd: outage gives typed retriable errors quickly; after restart the same store, watch and lease work again', async (t) => {
  const requestTimeoutMs = 1000;
  const store = await connect(`/outage-${process.pid}/`, requestTimeoutMs);
  t.after(() => store.close());
  t.after(async () => {
    // whatever happens, leave etcd running for the other tests
    await server.restart().catch(() => undefined);
  });
  const lease = await store.grantLease(5000);
  let leaseLost = false;
  void lease.lost.then(() => { leaseLost = true; });
  await store.put('o/session', b('me'), { lease: lease.id });
  const seen: WatchEvent[] = [];
  const watchErrors: Error[] = [];
  const watch = await store.watch('o/', {}, { onEvents: (e) => seen.push(...e), onError: (e) => watchErrors.push(e) });
  t.after(() => watch.close());

  await server.kill();
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['get', () => store.get('o/session')],
    ['put', () => store.put('o/x', b('x'))],
    ['range', () => store.range('o/')],
    ['txn', () => store.txn({ compare: [], success: [{ type: 'delete', key: 'o/x' }] })],
    ['revision', () => store.revision()],
    ['grantLease', () => store.grantLease(2000)],
  ];
  for (const [name, call] of calls) {
    const started = Date.now();
    await assert.rejects(call(), assertRetriableMetaError, `${name} during the outage`);
    const elapsed = Date.now() - started;
    assert.ok(elapsed <= requestTimeoutMs + 500, `${name} took ${elapsed} ms with etcd down`);
  }

  await server.restart();
  let recovered = false;
  for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
    try {
      await store.put('o/after', b('back'));
      recovered = true;
    } catch (error) {
      assertRetriableMetaError(error);
      await sleep(200);
    }
  }
  assert.ok(recovered, 'the store did not recover within 10 s of etcd coming back');
  assert.deepEqual((await store.get('o/after'))?.value, b('back'));

  // The watch either resumed (sees the write) or said so (caller re-syncs); never silent.
  for (let i = 0; i < 250 && watchErrors.length === 0 && !seen.some((e) => e.key === 'o/after'); i++) await sleep(20);
  assert.ok(seen.some((e) => e.key === 'o/after') || watchErrors.length === 1, 'the watch neither resumed nor reported an error');

  // The lease was either kept alive through the outage (its key is still there) or reported lost.
  await sleep(1500);
  if (leaseLost) {
    assert.equal(lease.isAlive(), false);
  } else {
    assert.equal(lease.isAlive(), true);
    assert.equal((await store.get('o/session'))?.lease, lease.id);
  }
});

test('etcd: a lease whose keep-alive cannot reach etcd for a whole TTL resolves lost', async (t) => {
  const store = await connect(`/outage-lease-${process.pid}/`, 500);
  t.after(() => store.close());
  t.after(async () => {
    await server.restart().catch(() => undefined);
  });
  const lease = await store.grantLease(1000);
  let lostAt = 0;
  void lease.lost.then(() => { lostAt = Date.now(); });
  await server.kill();
  const killedAt = Date.now();
  for (let i = 0; i < 150 && lostAt === 0; i++) await sleep(20);
  assert.ok(lostAt > 0, 'lease.lost did not resolve within 3 s of etcd going away');
  assert.ok(lostAt - killedAt <= 1000 + 500, `lost resolved ${lostAt - killedAt} ms after the outage began`);
  assert.equal(lease.isAlive(), false);
});
