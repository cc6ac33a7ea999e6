/**
 * A fault during acquisition must not leave the partition unwritable until the session ends (issue 10,
 * item 2): an owner key carrying this session's lease is taken over; a failed step after the acquire
 * releases the key; the partition is writable again as soon as the fault clears.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { FaultyMetadataStore, InvariantRecorder, batchOf, embeddedStore, isAcquire, silentLog, type TxnFaultRule } from '../../../test/helpers/log-faults.ts';
import { LogService, type TopicRef } from './log-service.ts';
import { decodeJson, type OwnerRecord } from './log-entry.ts';

async function setup(t: TestContext): Promise<{ inner: MetadataStore; faulty: FaultyMetadataStore; service: LogService; tp: TopicRef; invariants: InvariantRecorder }> {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const invariants = new InvariantRecorder();
  const service = await LogService.open({
    store: faulty.store, objects: new MemoryObjectStore(), log: silentLog, brokerId: 1, lease: await faulty.store.grantLease(10_000),
    namespace: 'ns', merge: false, flush: { lingerMs: 0 }, invariantHook: invariants.hook,
  });
  t.after(() => service.close());
  return { inner, faulty, service, tp: { id: randomUUID(), configs: {} }, invariants };
}

/** The rule fails the first txn it matches, once. */
function once(match: (txn: Parameters<TxnFaultRule>[0]) => boolean, fault: ReturnType<TxnFaultRule>): TxnFaultRule {
  let fired = false;
  return (txn) => {
    if (fired || !match(txn)) return null;
    fired = true;
    return fault;
  };
}

async function ownerOf(store: MetadataStore, tp: TopicRef): Promise<OwnerRecord | null> {
  const kv = await store.get(MetaKeys.partitionOwner(tp.id, 0));
  return kv === null ? null : decodeJson<OwnerRecord>(kv.value);
}

test('an acquire txn that applied but timed out: the next acquire takes the own key over (epoch + 1) and the partition is writable', async (t) => {
  const { inner, faulty, service, tp, invariants } = await setup(t);
  faulty.rule = once(isAcquire, 'applied-then-timeout');
  await assert.rejects(service.acquire(tp.id, 0), /timeout/);
  assert.equal((await ownerOf(inner, tp))?.epoch, 1, 'the key was written under our lease');
  const again = await service.acquire(tp.id, 0);
  assert.equal(again.errorCode, ErrorCode.NONE, 'our own key does not block us');
  const log = service.owned(tp.id, 0)!;
  assert.equal(log.epoch, 2);
  assert.equal((await ownerOf(inner, tp))?.epoch, 2);
  const appended = await service.append(tp, 0, [batchOf('a', 2)]);
  assert.equal(appended.errorCode, ErrorCode.NONE);
  assert.equal(appended.baseOffset, 0);
  assert.deepEqual(invariants.violations, []);
});

test('the load after the acquire fails: the key is released, the partition is acquired again as soon as the store answers', async (t) => {
  const { inner, faulty, service, tp } = await setup(t);
  faulty.failRanges = true;
  await assert.rejects(service.acquire(tp.id, 0), /timeout/);
  assert.equal(await ownerOf(inner, tp), null, 'a failed acquire leaves no owner key behind');
  faulty.failRanges = false;
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [batchOf('a', 1)])).errorCode, ErrorCode.NONE);
});

test('recordEpochStart applied then timed out, and the release failed too: writable within a second of the fault clearing', async (t) => {
  const { inner, faulty, service, tp, invariants } = await setup(t);
  let storeDown = false;
  const epochStart = once((txn) => txn.success.some((op) => op.type === 'put' && op.key.endsWith('/epochs')), 'applied-then-timeout');
  faulty.rule = (txn) => {
    const fault = epochStart(txn);
    if (fault !== null) {
      storeDown = true; // the store goes away right after: the release after the failed step fails too
      return fault;
    }
    return storeDown ? 'lost' : null;
  };
  await assert.rejects(service.acquire(tp.id, 0), /timeout/);
  assert.equal((await ownerOf(inner, tp))?.brokerId, 1, 'the key is still there, under our lease');
  // Produce retries (ensureOwned) every 100 ms, as a client's retry.backoff.ms would.
  const faultClearedAt = Date.now() + 300;
  setTimeout(() => {
    storeDown = false;
  }, 300).unref();
  let writableAt = 0;
  while (writableAt === 0) {
    const outcome = await service.acquire(tp.id, 0).catch(() => null);
    if (outcome?.errorCode === ErrorCode.NONE && (await service.append(tp, 0, [batchOf('x', 1)])).errorCode === ErrorCode.NONE) writableAt = Date.now();
    else await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(Date.now() - faultClearedAt < 5_000, 'the partition must become writable');
  }
  assert.ok(writableAt - faultClearedAt < 1_000, `writable ${writableAt - faultClearedAt} ms after the fault cleared`);
  const log = service.owned(tp.id, 0)!;
  assert.equal(log.epoch, 2);
  assert.deepEqual(log.state.epochs.map((e) => e.epoch), [1, 2]);
  assert.deepEqual(invariants.violations, []);
});

test('another broker\'s live key is never taken over', async (t) => {
  const { inner, service, tp } = await setup(t);
  const otherLease = await inner.grantLease(10_000);
  await inner.txn({ compare: [], success: [{ type: 'put', key: MetaKeys.partitionOwner(tp.id, 0), value: Buffer.from(JSON.stringify({ brokerId: 7, epoch: 1, acquiredMs: 0 })), lease: otherLease.id }] });
  const refused = await service.acquire(tp.id, 0);
  assert.equal(refused.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal('owner' in refused ? refused.owner?.brokerId : undefined, 7);
  assert.equal((await ownerOf(inner, tp))?.brokerId, 7);
});
