import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TXN_BYTES, MAX_TXN_OPS, type Compare, type TxnOp } from './metadata-store.ts';
import { assertTxnWithinLimits, txnBytes } from './txn-limits.ts';
import { packOps, packTxns } from './txn-packer.ts';

const put = (key: string, bytes = 1): TxnOp => ({ type: 'put', key, value: Buffer.alloc(bytes) });
const del = (key: string): TxnOp => ({ type: 'delete', key });
const guard: Compare = { key: 'owner', target: 'modRevision', op: '==', value: 7 };
const flat = <T>(groups: readonly (readonly T[])[]): T[] => groups.flat();

test('exactly MAX_TXN_OPS ops fit one transaction; one more starts a second', () => {
  const ops = Array.from({ length: MAX_TXN_OPS }, (_, i) => del(`k/${i}`));
  assert.deepEqual(packOps(ops).map((g) => g.length), [MAX_TXN_OPS]);
  const more = [...ops, del('k/last')];
  const groups = packOps(more);
  assert.deepEqual(groups.map((g) => g.length), [MAX_TXN_OPS, 1]);
  assert.deepEqual(flat(groups), more);
});

test('shared parts count in every transaction, per list', () => {
  // One shared success op leaves MAX_TXN_OPS - 1 for the items.
  const ops = Array.from({ length: 2 * MAX_TXN_OPS }, (_, i) => del(`k/${i}`));
  const groups = packOps(ops, { shared: { compare: [guard], success: [put('first')] } });
  assert.deepEqual(groups.map((g) => g.length), [MAX_TXN_OPS - 1, MAX_TXN_OPS - 1, 2]);
  // Items with a compare each: the compare list fills first (1 shared + 127).
  const items = Array.from({ length: 200 }, (_, i) => i);
  const byCompare = packTxns(items, (i) => ({ compare: [{ ...guard, key: `e/${i}` }], success: [del(`e/${i}`)] }), { shared: { compare: [guard] } });
  assert.deepEqual(byCompare.map((g) => g.length), [MAX_TXN_OPS - 1, 200 - (MAX_TXN_OPS - 1)]);
});

test('the byte limit splits transactions at exactly MAX_TXN_BYTES as txnBytes measures it', () => {
  const key = 'v/0';
  const valueBytes = MAX_TXN_BYTES / 4 - Buffer.byteLength(key);
  const ops = Array.from({ length: 9 }, () => put(key, valueBytes));
  const groups = packOps(ops);
  assert.deepEqual(groups.map((g) => g.length), [4, 4, 1]);
  for (const success of groups) {
    const txn = { compare: [], success };
    assert.ok(txnBytes(txn) <= MAX_TXN_BYTES);
    assertTxnWithinLimits(txn);
  }
  assert.equal(txnBytes({ compare: [], success: groups[0]! }), MAX_TXN_BYTES);
  // The shared guard's bytes count too: now only 3 fit.
  assert.deepEqual(packOps(ops, { shared: { compare: [guard] } }).map((g) => g.length), [3, 3, 3]);
});

test('one op bigger than the limit travels alone (the store refuses it), nothing is dropped or reordered', () => {
  const huge = put('huge', MAX_TXN_BYTES + 1);
  const ops = [del('a'), huge, del('b')];
  const groups = packOps(ops);
  assert.deepEqual(groups, [[del('a')], [huge], [del('b')]]);
  assert.throws(() => assertTxnWithinLimits({ compare: [], success: groups[1]! }), { code: 'KSC_META_TXN_TOO_LARGE' });
});

test('lower caps bound a transaction below the store limits, never above them', () => {
  const ops = Array.from({ length: 250 }, (_, i) => del(`k/${i}`));
  assert.deepEqual(packOps(ops, { maxOps: 100 }).map((g) => g.length), [100, 100, 50]);
  assert.deepEqual(packOps(ops, { maxOps: 10_000 }).map((g) => g.length), [MAX_TXN_OPS, 250 - MAX_TXN_OPS]);
  assert.deepEqual(packOps([put('a', 10), put('b', 10)], { maxBytes: 15 }).map((g) => g.length), [1, 1]);
  assert.deepEqual(packOps(ops, { maxItems: 30, maxOps: 100 }).map((g) => g.length), [30, 30, 30, 30, 30, 30, 30, 30, 10]);
  assert.deepEqual(packOps([]), []);
});

test('random work always packs into transactions the store accepts', () => {
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 20; round++) {
    const items = Array.from({ length: 1 + random(600) }, (_, i) => ({ i, bytes: random(5) === 0 ? random(300_000) : random(200) }));
    const groups = packTxns(items, (item) => ({ compare: [{ ...guard, key: `c/${item.i}` }], success: [put(`p/${item.i}`, item.bytes)] }), { shared: { compare: [guard], failure: [{ type: 'get', key: 'owner' }] } });
    assert.deepEqual(flat(groups), items);
    for (const group of groups) {
      assertTxnWithinLimits({
        compare: [guard, ...group.map((item) => ({ ...guard, key: `c/${item.i}` }))],
        success: group.map((item) => put(`p/${item.i}`, item.bytes)),
        failure: [{ type: 'get', key: 'owner' }],
      });
    }
  }
});
