import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEtcdServer, type EtcdServer } from '../../../test/helpers/etcd-server.ts';
import { EtcdMetadataStore } from '../../storage/meta/etcd-metadata-store.ts';
import type { Lease } from '../../storage/meta/metadata-store.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { allocateBrokerId, brokerIdOfKey } from './broker-id-allocator.ts';
import { BrokerRegistry } from './broker-registry.ts';
import { MetaKeys } from './meta-keys.ts';

const log = silentLogger();
const address = (port: number) => ({ host: '127.0.0.1', port, rack: null, startedMs: Date.now() });

describe('broker id allocation on a real etcd', () => {
  let server: EtcdServer;
  let namespaceCount = 0;
  const stores: EtcdMetadataStore[] = [];

  before(async () => {
    server = await startEtcdServer();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await server.close();
  });

  /** A fresh key namespace per test: every test sees an empty cluster. */
  async function open(namespace: string): Promise<EtcdMetadataStore> {
    const store = await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace, requestTimeoutMs: 2_000 });
    stores.push(store);
    return store;
  }
  const freshNamespace = () => `/alloc-${process.pid}-${namespaceCount++}/`;

  it('gives concurrent brokers (one store client each) distinct ids 0..n-1', async () => {
    const namespace = freshNamespace();
    const clients = await Promise.all(Array.from({ length: 8 }, () => open(namespace)));
    const leases = await Promise.all(clients.map((store) => store.grantLease(10_000)));
    const ids = await Promise.all(clients.map((store, i) => allocateBrokerId(store, address(9000 + i), leases[i] as Lease, log)));
    assert.deepEqual([...ids].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
    const registered = (await clients[0]!.range(MetaKeys.brokersPrefix)).kvs;
    assert.equal(registered.length, 8);
    for (const kv of registered) {
      const id = brokerIdOfKey(kv.key);
      const holder = ids.indexOf(id ?? -1);
      assert.notEqual(holder, -1, kv.key);
      assert.equal(kv.lease, leases[holder]?.id, `${kv.key} is held under its broker's lease`);
      assert.equal(JSON.parse(kv.value.toString('utf8')).port, 9000 + holder);
    }
  });

  it('reuses an id once its lease ends, lowest free first, and skips configured ids', async () => {
    const store = await open(freshNamespace());
    // A broker with a configured id 1 (not allocated) is registered the classic way.
    const configuredLease = await store.grantLease(10_000);
    await BrokerRegistry.register(store, { brokerId: 1, ...address(8001) }, configuredLease, log).then((r) => r.close());
    const leases = await Promise.all([0, 1, 2].map(() => store.grantLease(10_000)));
    const ids: number[] = [];
    for (const [i, lease] of leases.entries()) ids.push(await allocateBrokerId(store, address(9100 + i), lease, log));
    assert.deepEqual(ids, [0, 2, 3]);
    await leases[0]!.revoke();
    await leases[2]!.revoke();
    const next = await store.grantLease(10_000);
    assert.equal(await allocateBrokerId(store, address(9200), next, log), 0, 'the lowest id whose lease ended');
    const after = await store.grantLease(10_000);
    assert.equal(await allocateBrokerId(store, address(9201), after, log), 3);
  });

  it('an expired lease (a crashed broker) frees its id without anyone revoking it', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    // The crashed broker's own client: closing it stops its keep-alives, as kill -9 would.
    const crashed = await open(namespace);
    const short = await crashed.grantLease(1_000);
    assert.equal(await allocateBrokerId(crashed, address(9300), short, log), 0);
    const other = await store.grantLease(10_000);
    assert.equal(await allocateBrokerId(store, address(9301), other, log), 1);
    await crashed.close();
    const deadline = Date.now() + 10_000;
    while ((await store.get(MetaKeys.broker(0))) !== null) {
      assert.ok(Date.now() < deadline, 'the crashed broker\'s registration outlived its lease');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const replacement = await store.grantLease(10_000);
    assert.equal(await allocateBrokerId(store, address(9302), replacement, log), 0);
  });

  it('re-claims an allocated id under a new lease after a lost session, and refuses one taken meanwhile', async () => {
    const store = await open(freshNamespace());
    const first = await store.grantLease(10_000);
    const registry = await BrokerRegistry.allocate(store, address(9400), first, log);
    assert.equal(registry.self.brokerId, 0);
    assert.equal(registry.allocated, true);
    // The session is lost (lease gone) and recovered: the id is still free, so the registry takes it again.
    await first.revoke();
    const second = await store.grantLease(10_000);
    await registry.renew(second);
    assert.equal((await store.get(MetaKeys.broker(0)))?.lease, second.id);
    // Lost again, and this time a new broker takes id 0 before the recovery.
    await second.revoke();
    const newcomerLease = await store.grantLease(10_000);
    assert.equal(await allocateBrokerId(store, address(9401), newcomerLease, log), 0);
    const third = await store.grantLease(10_000);
    await assert.rejects(registry.renew(third), (error: unknown) => isKafscaleError(error, 'KSC_BROKER_ID_TAKEN') && /broker id 0/.test(error.message));
    const holder = await store.get(MetaKeys.broker(0));
    assert.equal(holder?.lease, newcomerLease.id, "the newcomer's registration is untouched");
    assert.equal(JSON.parse(holder?.value.toString('utf8') ?? '{}').port, 9401);
    await registry.close();
  });
});
