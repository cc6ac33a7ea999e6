/**
 * MetadataStore contract, part 1: keys, ranges, revisions and transactions.
 */
import assert from 'node:assert/strict';
import { MAX_TXN_BYTES, MAX_TXN_OPS } from './metadata-store.ts';
import type { KeyValue, MetadataStore, TxnOp } from './metadata-store.ts';
import { assertRejectsWith, b, type ContractTest } from './metadata-store-contract-support.ts';

export function kvContract(it: ContractTest): void {
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
}
