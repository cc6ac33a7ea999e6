/**
 * The shared contract every MetadataStore adapter must pass. Each adapter's test file calls
 * runMetadataStoreContract with a factory that yields a fresh, empty store (a new directory, or a
 * new etcd namespace). Revisions are store-wide, so assertions on them are relative, never absolute.
 */
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import type { KafscaleErrorCode } from '../../telemetry/kafscale-error.ts';
import { MAX_TXN_BYTES, MAX_TXN_OPS } from './metadata-store.ts';
import type { KeyValue, MetadataStore, TxnOp, WatchEvent, WatchHandler } from './metadata-store.ts';

export interface ContractFixture {
  readonly store: MetadataStore;
  /** Closes every store the fixture opened and removes its data. */
  cleanup(): Promise<void>;
  /**
   * Opens a second store on the same data after `store` was closed (same directory, same etcd
   * namespace). Used to check that leases of a dead process expire.
   */
  reopen?(): Promise<MetadataStore>;
}

export type ContractFactory = () => Promise<ContractFixture>;

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

async function sleep(ms: number): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Polls a condition with a hard deadline; every loop in a test is bounded. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(25);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function assertRejectsWith(promise: Promise<unknown>, code: KafscaleErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isKafscaleError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  });
}

/** Blocks the event loop, as a long GC pause or a stuck synchronous task would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy wait on purpose: timers (and keep-alives) must not run
  }
}

class Collector implements WatchHandler {
  readonly batches: WatchEvent[][] = [];
  readonly errors: Error[] = [];
  onEvents(events: readonly WatchEvent[]): void {
    this.batches.push([...events]);
  }
  onError(error: Error): void {
    this.errors.push(error);
  }
  get events(): WatchEvent[] {
    return this.batches.flat();
  }
}

function summary(events: readonly WatchEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.key}=${e.kv.value.toString()}`);
}

export function runMetadataStoreContract(name: string, factory: ContractFactory): void {
  /** Runs a test body against a fresh fixture that is always cleaned up. */
  function it(title: string, body: (fx: ContractFixture) => Promise<void>): void {
    test(`${name}: ${title}`, async (t) => {
      const fx = await factory();
      t.after(() => fx.cleanup());
      await body(fx);
    });
  }

  it('get of a missing key is null; put then get returns the record', async ({ store }) => {
    assert.equal(await store.get('k/missing'), null);
    const rev = await store.put('k/a', b('one'));
    const kv = await store.get('k/a');
    assert.ok(kv);
    assert.equal(kv.key, 'k/a');
    assert.deepEqual(kv.value, b('one'));
    assert.equal(kv.createRevision, rev);
    assert.equal(kv.modRevision, rev);
    assert.equal(kv.version, 1);
    assert.equal(kv.lease, null);
    assert.equal(await store.revision(), rev);
  });

  it('revisions are store-wide and rise by one per write transaction', async ({ store }) => {
    const r0 = await store.revision();
    const r1 = await store.put('r/a', b('1'));
    assert.equal(r1, r0 + 1);
    const r2 = await store.put('r/a', b('2'));
    assert.equal(r2, r1 + 1);
    const kv = await store.get('r/a');
    assert.ok(kv);
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [r1, r2, 2]);
    const multi = await store.txn({
      compare: [],
      success: [
        { type: 'put', key: 'r/b', value: b('b') },
        { type: 'put', key: 'r/c', value: b('c') },
        { type: 'delete', key: 'r/a' },
      ],
    });
    assert.ok(multi.succeeded);
    assert.equal(multi.revision, r2 + 1);
    const bkv = await store.get('r/b');
    const ckv = await store.get('r/c');
    assert.equal(bkv?.modRevision, r2 + 1);
    assert.equal(ckv?.modRevision, r2 + 1);
    // A write that changes nothing does not advance the revision.
    assert.equal(await store.delete('r/nothing'), 0);
    assert.equal(await store.deletePrefix('r/nothing/'), 0);
    assert.equal(await store.revision(), r2 + 1);
    // Re-creating a deleted key starts a new life: new createRevision, version 1.
    const r4 = await store.put('r/a', b('again'));
    const again = await store.get('r/a');
    assert.deepEqual([again?.createRevision, again?.modRevision, again?.version], [r4, r4, 1]);
  });

  it('delete and deletePrefix return the number of keys removed', async ({ store }) => {
    await store.put('d/x/1', b('1'));
    await store.put('d/x/2', b('2'));
    await store.put('d/x2', b('sibling'));
    await store.put('d/y', b('y'));
    assert.equal(await store.delete('d/y'), 1);
    assert.equal(await store.delete('d/y'), 0);
    assert.equal(await store.deletePrefix('d/x/'), 2);
    assert.equal(await store.get('d/x/1'), null);
    assert.deepEqual((await store.get('d/x2'))?.value, b('sibling'));
  });

  it('range by prefix is sorted by key bytes, honours limit and reports the revision', async ({ store }) => {
    const keys = ['p/b', 'p/a', 'p/ä', 'p/B', 'p/a/1', 'p/z'];
    for (const key of keys) await store.put(key, b(key));
    await store.put('p', b('exact prefix without slash is outside p/'));
    await store.put('q/a', b('other'));
    const all = await store.range('p/');
    const expected = [...keys].sort((x, y) => Buffer.compare(b(x), b(y)));
    assert.deepEqual(all.kvs.map((kv) => kv.key), expected);
    assert.deepEqual(all.kvs.map((kv) => kv.value.toString()), expected);
    assert.equal(all.revision, await store.revision());
    const limited = await store.range('p/', { limit: 2 });
    assert.deepEqual(limited.kvs.map((kv) => kv.key), expected.slice(0, 2));
    assert.deepEqual((await store.range('none/')).kvs, []);
  });

  it('rangePages reads every key in pages at one revision, whatever is written between pages', async ({ store }) => {
    const keys = Array.from({ length: 25 }, (_, i) => `pg/${i.toString().padStart(3, '0')}`);
    for (let i = 0; i < keys.length; i += 10) {
      await store.txn({ compare: [], success: keys.slice(i, i + 10).map((key): TxnOp => ({ type: 'put', key, value: b(`v1-${key}`) })) });
    }
    await store.put('pg', b('outside'));
    await store.put('ph/0', b('outside'));
    const before = await store.revision();
    const seen: KeyValue[] = [];
    const revisions = new Set<number>();
    let pages = 0;
    for await (const page of store.rangePages('pg/', { pageSize: 10 })) {
      pages++;
      assert.ok(page.kvs.length <= 10);
      revisions.add(page.revision);
      seen.push(...page.kvs);
      if (pages === 1) {
        // After the first page: change a key not read yet, delete one, add one; none of it may show.
        await store.put('pg/015', b('changed'));
        await store.delete('pg/020');
        await store.put('pg/0125', b('new'));
      }
    }
    assert.equal(pages, 3);
    assert.deepEqual([...revisions], [before]);
    assert.deepEqual(seen.map((kv) => kv.key), keys);
    assert.deepEqual(seen.map((kv) => kv.value.toString()), keys.map((key) => `v1-${key}`));
    // A fresh iteration sees the writes; an empty prefix gives one empty page; stopping early is fine.
    const now: string[] = [];
    for await (const page of store.rangePages('pg/', { pageSize: 100 })) now.push(...page.kvs.map((kv) => kv.key));
    assert.equal(now.length, 25);
    assert.ok(now.includes('pg/0125') && !now.includes('pg/020'));
    const empty = [];
    for await (const page of store.rangePages('none/', { pageSize: 10 })) empty.push(page.kvs.length);
    assert.deepEqual(empty, [0]);
    for await (const page of store.rangePages('pg/', { pageSize: 1 })) {
      assert.equal(page.kvs.length, 1);
      break;
    }
    await store.put('pg/after-break', b('writes still work'));
  });

  it('txn compares against a missing key use zero values; value never matches', async ({ store }) => {
    const check = async (compare: Parameters<MetadataStore['txn']>[0]['compare'][number]): Promise<boolean> =>
      (await store.txn({ compare: [compare], success: [] })).succeeded;
    const key = 'c/missing';
    assert.equal(await check({ key, target: 'version', op: '==', value: 0 }), true);
    assert.equal(await check({ key, target: 'version', op: '>', value: 0 }), false);
    assert.equal(await check({ key, target: 'createRevision', op: '==', value: 0 }), true);
    assert.equal(await check({ key, target: 'modRevision', op: '<', value: 1 }), true);
    assert.equal(await check({ key, target: 'modRevision', op: '!=', value: 0 }), false);
    assert.equal(await check({ key, target: 'lease', op: '==', value: null }), true);
    assert.equal(await check({ key, target: 'lease', op: '==', value: '' }), true);
    assert.equal(await check({ key, target: 'value', op: '==', value: b('') }), false);
    assert.equal(await check({ key, target: 'value', op: '!=', value: b('x') }), false);
  });

  it('txn compares against a present key on every target with every operator', async ({ store }) => {
    const rev1 = await store.put('c/k', b('m'));
    const rev2 = await store.put('c/k', b('m'));
    const check = async (target: 'value' | 'version' | 'createRevision' | 'modRevision', op: '==' | '!=' | '<' | '>', value: Buffer | number): Promise<boolean> =>
      (await store.txn({ compare: [{ key: 'c/k', target, op, value }], success: [] })).succeeded;
    // value compares bytewise
    assert.equal(await check('value', '==', b('m')), true);
    assert.equal(await check('value', '!=', b('m')), false);
    assert.equal(await check('value', '<', b('n')), true);
    assert.equal(await check('value', '<', b('l')), false);
    assert.equal(await check('value', '>', b('l')), true);
    assert.equal(await check('value', '>', b('m')), false);
    // version is 2 after two puts
    assert.equal(await check('version', '==', 2), true);
    assert.equal(await check('version', '!=', 2), false);
    assert.equal(await check('version', '<', 3), true);
    assert.equal(await check('version', '>', 1), true);
    assert.equal(await check('version', '>', 2), false);
    assert.equal(await check('createRevision', '==', rev1), true);
    assert.equal(await check('createRevision', '!=', rev1), false);
    assert.equal(await check('createRevision', '<', rev2), true);
    assert.equal(await check('createRevision', '>', rev1 - 1), true);
    assert.equal(await check('modRevision', '==', rev2), true);
    assert.equal(await check('modRevision', '!=', rev1), true);
    assert.equal(await check('modRevision', '<', rev2), false);
    assert.equal(await check('modRevision', '>', rev1), true);
    // lease: no lease attached compares equal to null
    const leaseCheck = async (op: '==' | '!=', value: string | null): Promise<boolean> =>
      (await store.txn({ compare: [{ key: 'c/k', target: 'lease', op, value }], success: [] })).succeeded;
    assert.equal(await leaseCheck('==', null), true);
    assert.equal(await leaseCheck('!=', null), false);
    const lease = await store.grantLease(5000);
    await store.put('c/k', b('m'), { lease: lease.id });
    assert.equal(await leaseCheck('==', lease.id), true);
    assert.equal(await leaseCheck('!=', lease.id), false);
    assert.equal(await leaseCheck('==', null), false);
    await lease.revoke();
  });

  it('txn runs the success or failure branch and returns one result per op', async ({ store }) => {
    await store.put('t/a', b('A'));
    await store.put('t/list/1', b('1'));
    await store.put('t/list/2', b('2'));
    await store.put('t/gone/1', b('g'));
    const ops: TxnOp[] = [
      { type: 'get', key: 't/a' },
      { type: 'get', key: 't/none' },
      { type: 'range', prefix: 't/list/' },
      { type: 'put', key: 't/new', value: b('N') },
      { type: 'delete', key: 't/a' },
      { type: 'deletePrefix', prefix: 't/gone/' },
    ];
    const before = await store.revision();
    const ok = await store.txn({ compare: [{ key: 't/a', target: 'version', op: '==', value: 1 }], success: ops, failure: [] });
    assert.equal(ok.succeeded, true);
    assert.equal(ok.revision, before + 1);
    assert.equal(ok.results.length, 6);
    assert.deepEqual((ok.results[0] as KeyValue).value, b('A'));
    assert.equal(ok.results[1], null);
    assert.deepEqual((ok.results[2] as KeyValue[]).map((kv) => kv.key), ['t/list/1', 't/list/2']);
    assert.equal(ok.results[3], 1);
    assert.equal(ok.results[4], 1);
    assert.equal(ok.results[5], 1);
    assert.deepEqual((await store.get('t/new'))?.value, b('N'));
    assert.equal(await store.get('t/a'), null);

    const failed = await store.txn({
      compare: [{ key: 't/a', target: 'version', op: '>', value: 0 }],
      success: [{ type: 'put', key: 't/never', value: b('x') }],
      failure: [{ type: 'get', key: 't/new' }, { type: 'put', key: 't/else', value: b('E') }],
    });
    assert.equal(failed.succeeded, false);
    assert.equal(failed.revision, before + 2);
    assert.equal(failed.results.length, 2);
    assert.deepEqual((failed.results[0] as KeyValue).value, b('N'));
    assert.equal(failed.results[1], 1);
    assert.equal(await store.get('t/never'), null);
    assert.deepEqual((await store.get('t/else'))?.value, b('E'));

    const noFailureBranch = await store.txn({ compare: [{ key: 't/a', target: 'version', op: '>', value: 0 }], success: [{ type: 'put', key: 't/never', value: b('x') }] });
    assert.equal(noFailureBranch.succeeded, false);
    assert.deepEqual(noFailureBranch.results, []);
    assert.equal(noFailureBranch.revision, before + 2);
  });

  it('a txn is atomic: all compares must hold, a failing one changes nothing', async ({ store }) => {
    await store.put('a/x', b('1'));
    await store.put('a/y', b('1'));
    const before = await store.revision();
    const result = await store.txn({
      compare: [
        { key: 'a/x', target: 'value', op: '==', value: b('1') },
        { key: 'a/y', target: 'value', op: '==', value: b('2') },
      ],
      success: [
        { type: 'put', key: 'a/x', value: b('changed') },
        { type: 'delete', key: 'a/y' },
        { type: 'put', key: 'a/z', value: b('new') },
      ],
    });
    assert.equal(result.succeeded, false);
    assert.equal(await store.revision(), before);
    assert.deepEqual((await store.get('a/x'))?.value, b('1'));
    assert.deepEqual((await store.get('a/y'))?.value, b('1'));
    assert.equal(await store.get('a/z'), null);
  });

  it('transactions over MAX_TXN_OPS or MAX_TXN_BYTES are refused before anything is written', async ({ store }) => {
    const before = await store.revision();
    const tooMany: TxnOp[] = Array.from({ length: MAX_TXN_OPS + 1 }, (_, i) => ({ type: 'put', key: `l/${i}`, value: b('v') }));
    await assertRejectsWith(store.txn({ compare: [], success: tooMany }), 'KSC_META_TXN_TOO_LARGE');
    await assertRejectsWith(store.txn({ compare: [], success: [], failure: tooMany }), 'KSC_META_TXN_TOO_LARGE');
    const big = Buffer.alloc(Math.ceil(MAX_TXN_BYTES / 2) + 1, 1);
    await assertRejectsWith(
      store.txn({ compare: [], success: [{ type: 'put', key: 'l/big1', value: big }, { type: 'put', key: 'l/big2', value: big }] }),
      'KSC_META_TXN_TOO_LARGE',
    );
    await assertRejectsWith(store.put('l/huge', Buffer.alloc(MAX_TXN_BYTES + 1)), 'KSC_META_TXN_TOO_LARGE');
    assert.equal(await store.revision(), before);
    assert.deepEqual((await store.range('l/')).kvs, []);
    // exactly at the op limit is fine
    const atLimit = tooMany.slice(0, MAX_TXN_OPS);
    assert.equal((await store.txn({ compare: [], success: atLimit })).succeeded, true);
    assert.equal((await store.range('l/')).kvs.length, MAX_TXN_OPS);
  });

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
