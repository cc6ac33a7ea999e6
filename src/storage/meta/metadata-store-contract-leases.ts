/**
 * MetadataStore contract, part 2: leases (keep-alive, expiry on the monotonic clock, revocation).
 */
import { mock } from 'node:test';
import assert from 'node:assert/strict';
import { assertRejectsWith, b, blockEventLoop, Collector, sleep, waitFor, type ContractTest } from './metadata-store-contract-support.ts';

export function leaseContract(it: ContractTest): void {
  it('revoking a lease deletes its keys, resolves lost, fails lease compares and notifies watchers', async ({ store }) => {
    const lease = await store.grantLease(2000);
    assert.equal(typeof lease.id, 'string');
    assert.equal(lease.isAlive(), true);
    await store.put('ls/a', b('a'), { lease: lease.id });
    await store.txn({ compare: [], success: [{ type: 'put', key: 'ls/b', value: b('b'), lease: lease.id }] });
    await store.put('ls/free', b('free'));
    assert.equal((await store.get('ls/a'))?.lease, lease.id);
    const watcher = new Collector();
    const watch = await store.watch('ls/', {}, watcher);
    await lease.revoke();
    await lease.lost;
    await lease.revoke(); // idempotent
    assert.equal(lease.isAlive(), false);
    assert.equal(await store.get('ls/a'), null);
    assert.equal(await store.get('ls/b'), null);
    assert.ok(await store.get('ls/free'));
    await waitFor('delete events for the lease keys', () => watcher.events.length >= 2);
    assert.deepEqual(watcher.events.map((e) => `${e.type} ${e.key}`).sort(), ['delete ls/a', 'delete ls/b']);
    const guarded = await store.txn({
      compare: [{ key: 'ls/a', target: 'lease', op: '==', value: lease.id }],
      success: [{ type: 'put', key: 'ls/fenced', value: b('x') }],
    });
    assert.equal(guarded.succeeded, false);
    assert.equal(await store.get('ls/fenced'), null);
    await watch.close();
  });

  it('put with an unknown or dead lease is rejected with KSC_META_LEASE_LOST', async ({ store }) => {
    const before = await store.revision();
    await assertRejectsWith(store.put('lu/a', b('a'), { lease: '123456789' }), 'KSC_META_LEASE_LOST');
    const lease = await store.grantLease(2000);
    await lease.revoke();
    await assertRejectsWith(store.put('lu/a', b('a'), { lease: lease.id }), 'KSC_META_LEASE_LOST');
    await assertRejectsWith(
      store.txn({ compare: [], success: [{ type: 'put', key: 'lu/b', value: b('b'), lease: lease.id }] }),
      'KSC_META_LEASE_LOST',
    );
    assert.equal(await store.get('lu/a'), null);
    assert.equal(await store.revision(), before);
  });

  it('keep-alive keeps a lease and its keys alive well beyond the TTL', async ({ store }) => {
    const lease = await store.grantLease(1000);
    await store.put('ka/a', b('a'), { lease: lease.id });
    await sleep(2600);
    assert.equal(lease.isAlive(), true);
    assert.equal((await store.get('ka/a'))?.lease, lease.id);
    let lost = false;
    void lease.lost.then(() => { lost = true; });
    await sleep(0);
    assert.equal(lost, false);
    await lease.revoke();
  });

  it('lease expiry follows the monotonic clock: wall-clock steps forward and back change nothing', async ({ store }) => {
    const lease = await store.grantLease(1000);
    await store.put('wc/a', b('a'), { lease: lease.id });
    const realNow = Date.now();
    // Only Date is faked (timers stay real): an NTP step or an operator setting the date.
    mock.timers.enable({ apis: ['Date'], now: realNow });
    try {
      mock.timers.setTime(realNow + 3_600_000);
      assert.equal(lease.isAlive(), true, 'an hour forward does not expire a live lease');
      await sleep(1500);
      mock.timers.setTime(realNow - 3_600_000);
      assert.equal(lease.isAlive(), true, 'an hour back');
      await sleep(1500);
      assert.equal(lease.isAlive(), true, 'kept alive across both steps');
    } finally {
      mock.timers.reset();
    }
    assert.equal((await store.get('wc/a'))?.lease, lease.id);
    await lease.revoke();
  });

  it('a lease whose keep-alive is starved beyond its TTL is lost and its keys vanish', async ({ store }) => {
    const lease = await store.grantLease(1000);
    await store.put('ex/a', b('a'), { lease: lease.id });
    const watcher = new Collector();
    const watch = await store.watch('ex/', {}, watcher);
    blockEventLoop(2600);
    let lost = false;
    void lease.lost.then(() => { lost = true; });
    await waitFor('lease.lost to resolve', () => lost, 5000);
    assert.equal(lease.isAlive(), false);
    await waitFor('the leased key to be deleted', async () => (await store.get('ex/a')) === null, 5000);
    await waitFor('the delete event', () => watcher.events.some((e) => e.type === 'delete' && e.key === 'ex/a'), 5000);
    await assertRejectsWith(store.put('ex/b', b('b'), { lease: lease.id }), 'KSC_META_LEASE_LOST');
    await watch.close();
  });

  it('leases of a closed store expire after their TTL and their keys are deleted', async (fx) => {
    if (!fx.reopen) return assert.fail('the fixture must provide reopen() for this adapter');
    const lease = await fx.store.grantLease(1000);
    await fx.store.put('dead/a', b('a'), { lease: lease.id });
    await fx.store.put('dead/keep', b('keep'));
    // Watch from before the expiry: under load the lease can expire while the store reopens, and a watch
    // from the reopened store's revision would then never see the delete (issue 15, item 8).
    const fromRevision = (await fx.store.revision()) + 1;
    await fx.store.close();
    const store = await fx.reopen();
    const watcher = new Collector();
    const watch = await store.watch('dead/', { fromRevision }, watcher);
    await waitFor('the dead lease key to be deleted', async () => (await store.get('dead/a')) === null, 6000);
    await waitFor('the delete event', () => watcher.events.some((e) => e.type === 'delete' && e.key === 'dead/a'), 3000);
    assert.ok(await store.get('dead/keep'));
    await assertRejectsWith(store.put('dead/b', b('b'), { lease: lease.id }), 'KSC_META_LEASE_LOST');
    await watch.close();
  });
}
