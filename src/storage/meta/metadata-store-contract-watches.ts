/**
 * MetadataStore contract, part 3: watches, and what closing the store does to them and to every call.
 */
import assert from 'node:assert/strict';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { assertRejectsWith, b, Collector, sleep, summary, waitFor, type ContractTest } from './metadata-store-contract-support.ts';

export function watchContract(it: ContractTest): void {
  it('watch delivers events in revision order, one batch per txn, filtered by prefix', async ({ store }) => {
    const watcher = new Collector();
    const watch = await store.watch('w/', {}, watcher);
    const r1 = await store.put('w/a', b('1'));
    await store.put('other/a', b('x'));
    const r3 = (await store.txn({ compare: [], success: [{ type: 'put', key: 'w/b', value: b('2') }, { type: 'put', key: 'w/c', value: b('3') }] })).revision;
    const r4 = await store.put('w/a', b('4'));
    await store.delete('w/b');
    const r5 = await store.revision();
    await waitFor('five events', () => watcher.events.length >= 5);
    await sleep(100);
    assert.deepEqual(summary(watcher.events), ['put w/a=1', 'put w/b=2', 'put w/c=3', 'put w/a=4', 'delete w/b=']);
    assert.deepEqual(watcher.batches.map((batch) => batch.length), [1, 2, 1, 1]);
    assert.deepEqual(watcher.events.map((e) => e.revision), [r1, r3, r3, r4, r5]);
    const putA = watcher.events[3];
    assert.deepEqual([putA?.kv.createRevision, putA?.kv.modRevision, putA?.kv.version], [r1, r4, 2]);
    const del = watcher.events[4];
    assert.equal(del?.kv.modRevision, r5);
    assert.equal(del?.kv.value.length, 0);
    assert.deepEqual(watcher.errors, []);
    await watch.close();
  });

  it('watch fromRevision replays history, including deletes, then continues live', async ({ store }) => {
    const r1 = await store.put('h/a', b('1'));
    await store.put('h/b', b('2'));
    await store.delete('h/a');
    await store.put('x/ignored', b('x'));
    const watcher = new Collector();
    const watch = await store.watch('h/', { fromRevision: r1 + 1 }, watcher);
    await waitFor('replayed history', () => watcher.events.length >= 2);
    await store.put('h/c', b('3'));
    await waitFor('live event', () => watcher.events.length >= 3);
    await sleep(100);
    assert.deepEqual(summary(watcher.events), ['put h/b=2', 'delete h/a=', 'put h/c=3']);
    const full = new Collector();
    const fullWatch = await store.watch('h/', { fromRevision: r1 }, full);
    await waitFor('full history', () => full.events.length >= 4);
    assert.deepEqual(summary(full.events), ['put h/a=1', 'put h/b=2', 'delete h/a=', 'put h/c=3']);
    await watch.close();
    await fullWatch.close();
  });

  it('watch close stops delivery and is idempotent', async ({ store }) => {
    const watcher = new Collector();
    const watch = await store.watch('wc/', {}, watcher);
    await store.put('wc/a', b('1'));
    await waitFor('first event', () => watcher.events.length === 1);
    await watch.close();
    await watch.close();
    await store.put('wc/b', b('2'));
    await sleep(200);
    assert.equal(watcher.events.length, 1);
    assert.deepEqual(watcher.errors, []);
  });

  it('many concurrent watchers each see every event once, in order', async ({ store }) => {
    const watchers = Array.from({ length: 25 }, () => new Collector());
    const watches = await Promise.all(watchers.map((w) => store.watch('mw/', {}, w)));
    const writes = 20;
    for (let i = 0; i < writes; i++) await store.put(`mw/${String(i).padStart(2, '0')}`, b(String(i)));
    await waitFor('all watchers to see all events', () => watchers.every((w) => w.events.length >= writes));
    await sleep(100);
    for (const w of watchers) {
      assert.equal(w.events.length, writes);
      const revisions = w.events.map((e) => e.revision);
      assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
    }
    await Promise.all(watches.map((w) => w.close()));
  });

  it('a closed store refuses every call with KSC_META_CLOSED and ends its watches', async ({ store }) => {
    const watcher = new Collector();
    await store.watch('cl/', {}, watcher);
    await store.close();
    await store.close(); // idempotent
    await waitFor('the watch error', () => watcher.errors.length === 1);
    assert.ok(isKafscaleError(watcher.errors[0], 'KSC_META_CLOSED'));
    await assertRejectsWith(store.get('cl/a'), 'KSC_META_CLOSED');
    await assertRejectsWith(store.put('cl/a', b('a')), 'KSC_META_CLOSED');
    await assertRejectsWith(store.range('cl/'), 'KSC_META_CLOSED');
    await assertRejectsWith(store.delete('cl/a'), 'KSC_META_CLOSED');
    await assertRejectsWith(store.deletePrefix('cl/'), 'KSC_META_CLOSED');
    await assertRejectsWith(store.txn({ compare: [], success: [] }), 'KSC_META_CLOSED');
    await assertRejectsWith(store.grantLease(1000), 'KSC_META_CLOSED');
    await assertRejectsWith(store.revision(), 'KSC_META_CLOSED');
    await assertRejectsWith(store.watch('cl/', {}, new Collector()), 'KSC_META_CLOSED');
    await sleep(50);
    assert.equal(watcher.errors.length, 1);
  });
}
