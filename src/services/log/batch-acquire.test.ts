/**
 * Batched acquisition (LogService.acquireMany → PartitionOwnership.acquireMany / recordEpochStarts): a
 * fresh topic's partitions are claimed in a few packed txns instead of a few txns each, with the same
 * claims, fencing and fault handling as one-partition acquires.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { FaultyMetadataStore, InvariantRecorder, batchOf, embeddedStore, isAcquire, silentLog } from '../../../test/helpers/log-faults.ts';
import { LogService, type AcquireResult, type TopicRef } from './log-service.ts';
import { decodeJson, encodeJson, encodeLogEntry, type EpochStart, type LogEntry, type OwnerRecord } from './log-entry.ts';

const objects = new MemoryObjectStore();

async function openService(t: TestContext, store: MetadataStore, brokerId: number, invariants?: InvariantRecorder): Promise<LogService> {
  const service = await LogService.open({
    store, objects, log: silentLog, brokerId, lease: await store.grantLease(10_000), namespace: 'ns', merge: false, flush: { lingerMs: 0 },
    ...(invariants === undefined ? {} : { invariantHook: invariants.hook }),
  });
  t.after(() => service.close());
  return service;
}

function refs(topicId: string, count: number, from = 0): Array<{ topicId: string; partition: number }> {
  return Array.from({ length: count }, (_, i) => ({ topicId, partition: from + i }));
}

async function ownerOf(store: MetadataStore, topicId: string, partition: number): Promise<OwnerRecord | null> {
  const kv = await store.get(MetaKeys.partitionOwner(topicId, partition));
  return kv === null ? null : decodeJson<OwnerRecord>(kv.value);
}

/** A txn that records epoch starts of claims made before (not a claim that records its own). */
function isEpochStart(txn: Parameters<typeof isAcquire>[0]): boolean {
  return txn.success.some((op) => op.type === 'put' && op.key.endsWith('/epochs')) && !isAcquire(txn);
}

/** Partitions 0..count-1 of a new topic, owned once by another broker that then shut down: not fresh. */
async function ownedBefore(t: TestContext, store: MetadataStore, count: number): Promise<string> {
  const topicId = randomUUID();
  const earlier = await LogService.open({ store, objects, log: silentLog, brokerId: 7, lease: await store.grantLease(10_000), namespace: 'ns', merge: false, flush: { lingerMs: 0 } });
  t.after(() => earlier.close());
  const acquired = await Promise.all(earlier.acquireMany(refs(topicId, count)));
  assert.ok(acquired.every((r) => r.errorCode === ErrorCode.NONE));
  await earlier.append({ id: topicId, configs: {} }, 0, [batchOf('earlier', 3)]);
  await earlier.close();
  return topicId;
}

test('100 never-owned partitions are acquired in a few txns: every one owned at epoch 1, its epoch start recorded, writable', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const invariants = new InvariantRecorder();
  const service = await openService(t, faulty.store, 1, invariants);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  const results = await Promise.all(service.acquireMany(refs(tp.id, 100)));
  assert.deepEqual(results.map((r) => r.errorCode), new Array(100).fill(ErrorCode.NONE));
  // A never-owned partition's claim reads it and records its epoch start in the same txn: 4 compares
  // and 4 ops each, so 128-op txns hold 32 — four txns, sent together (one commit on this store).
  assert.equal(faulty.txns.filter(isAcquire).length, 4, 'claims packed into four txns');
  assert.equal(faulty.txns.filter(isEpochStart).length, 0, 'no separate epoch-start txn');
  for (let p = 0; p < 100; p++) {
    const log = service.owned(tp.id, p);
    assert.equal(log?.status, 'active');
    assert.equal(log.epoch, 1);
    assert.equal((await ownerOf(inner, tp.id, p))?.brokerId, 1);
    const epochs = decodeJson<EpochStart[]>((await inner.get(MetaKeys.partitionEpochHistory(tp.id, p)))!.value);
    assert.deepEqual(epochs, [{ epoch: 1, startOffset: 0 }]);
  }
  const appended = await Promise.all([0, 42, 99].map((p) => service.append(tp, p, [batchOf(`p${p}`, 3)])));
  assert.deepEqual(appended.map((a) => [a.errorCode, a.baseOffset]), [[0, 0], [0, 0], [0, 0]]);
  // Idempotent: a second batch over owned partitions claims nothing.
  const before = faulty.txns.length;
  const again = await Promise.all(service.acquireMany(refs(tp.id, 100)));
  assert.ok(again.every((r) => r.errorCode === ErrorCode.NONE && 'log' in r && r.log === service.owned(tp.id, (r.log).partition)));
  assert.equal(faulty.txns.length, before);
  assert.deepEqual(invariants.violations, []);
});

test('100 partitions owned before are taken over in a few claims and one epoch-start txn, each from its committed end', async (t) => {
  const inner = await embeddedStore(t);
  const topicId = await ownedBefore(t, inner, 100);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  const results = await Promise.all(service.acquireMany(refs(topicId, 100)));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE));
  // 2 compares and 2 puts per claim (64 per txn), 1 compare and 1 put per epoch start (128 per txn).
  assert.equal(faulty.txns.filter(isAcquire).length, 2);
  assert.equal(faulty.txns.filter(isEpochStart).length, 1);
  assert.equal(service.owned(topicId, 0)?.epoch, 2);
  const epochs = (p: number): readonly EpochStart[] | undefined => service.owned(topicId, p)?.state.epochs;
  assert.deepEqual(epochs(0), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 3 }]);
  assert.deepEqual(decodeJson<EpochStart[]>((await inner.get(MetaKeys.partitionEpochHistory(topicId, 0)))!.value), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 3 }]);
  assert.deepEqual(epochs(50), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 0 }]);
  const next = await service.append({ id: topicId, configs: {} }, 0, [batchOf('next', 1)]);
  assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 3]);
});

test('a never-owned partition that shows committed state after all gets its epoch start recorded from that state', async (t) => {
  const store = await embeddedStore(t);
  const service = await openService(t, store, 1);
  const topicId = randomUUID();
  // Impossible through the broker (every commit needs a claim, and a claim writes the epoch key): planted.
  const entry: LogEntry = { baseOffset: 0, lastOffset: 4, objectKey: 'ns/wal/planted', byteStart: 0, byteEnd: 10, maxTimestamp: 1, batchCount: 1, epoch: 1 };
  await store.put(MetaKeys.partitionLogEntry(topicId, 1, 0), encodeLogEntry(entry));
  const results = await Promise.all(service.acquireMany(refs(topicId, 3)));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE));
  assert.equal(service.owned(topicId, 1)?.state.highWatermark, 5);
  assert.deepEqual(decodeJson<EpochStart[]>((await store.get(MetaKeys.partitionEpochHistory(topicId, 1)))!.value), [{ epoch: 1, startOffset: 5 }]);
  assert.deepEqual(service.owned(topicId, 1)?.state.epochs, [{ epoch: 1, startOffset: 5 }]);
  assert.deepEqual(service.owned(topicId, 2)?.state.epochs, [{ epoch: 1, startOffset: 0 }]);
});

test('partitions held by another broker are refused with their owner; the rest of the batch is acquired', async (t) => {
  const store = await embeddedStore(t);
  const a = await openService(t, store, 1);
  const b = await openService(t, store, 2);
  const topicId = randomUUID();
  assert.equal((await a.acquire(topicId, 3)).errorCode, ErrorCode.NONE);
  assert.equal((await a.acquire(topicId, 7)).errorCode, ErrorCode.NONE);
  const results = await Promise.all(b.acquireMany(refs(topicId, 10)));
  for (const [p, result] of results.entries()) {
    if (p === 3 || p === 7) {
      assert.equal(result.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      assert.equal((result as Extract<AcquireResult, { owner: unknown }>).owner?.brokerId, 1);
      assert.equal(b.owned(topicId, p), undefined);
    } else {
      assert.equal(result.errorCode, ErrorCode.NONE, `partition ${p}`);
    }
  }
  assert.equal((await ownerOf(store, topicId, 3))?.brokerId, 1, 'the other broker keeps its partitions');
});

test('a race lost between the read and the packed claim: the batch is decided one by one on fresh reads', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const a = await openService(t, faulty.store, 1);
  const otherLease = await inner.grantLease(10_000);
  const topicId = randomUUID();
  let raced = false;
  faulty.rule = (txn) => {
    if (!raced && isAcquire(txn) && txn.success.length > 2) {
      raced = true;
      // Another broker claims partition 5 after our read, before our packed claim applies.
      void inner.txn({
        compare: [],
        success: [
          { type: 'put', key: MetaKeys.partitionOwner(topicId, 5), value: encodeJson({ brokerId: 9, epoch: 1, acquiredMs: 0 } satisfies OwnerRecord), lease: otherLease.id },
          { type: 'put', key: MetaKeys.partitionEpoch(topicId, 5), value: encodeJson({ epoch: 1 }) },
        ],
      });
    }
    return null;
  };
  const results = await Promise.all(a.acquireMany(refs(topicId, 8)));
  assert.ok(raced);
  assert.deepEqual(results.map((r) => r.errorCode), [0, 0, 0, 0, 0, ErrorCode.NOT_LEADER_OR_FOLLOWER, 0, 0]);
  assert.equal((await ownerOf(inner, topicId, 5))?.brokerId, 9);
  for (const p of [0, 1, 2, 3, 4, 6, 7]) assert.equal(a.owned(topicId, p)?.epoch, 1);
});

test('fencing: a batch-acquired broker replaced by another batch acquire cannot commit; the new owner continues at epoch 2', async (t) => {
  const store = await embeddedStore(t);
  const a = await openService(t, store, 1);
  const topicId = randomUUID();
  const tp: TopicRef = { id: topicId, configs: {} };
  await Promise.all(a.acquireMany(refs(topicId, 4)));
  assert.equal((await a.append(tp, 2, [batchOf('a', 2)])).errorCode, ErrorCode.NONE);
  const oldLog = a.owned(topicId, 2)!;
  // Broker 1's session ends (its owner keys vanish); broker 2 takes every partition over in one batch.
  await oldLog.claim.lease.revoke();
  const b = await openService(t, store, 2);
  const taken = await Promise.all(b.acquireMany(refs(topicId, 4)));
  assert.ok(taken.every((r) => r.errorCode === ErrorCode.NONE));
  const newLog = b.owned(topicId, 2)!;
  assert.equal(newLog.epoch, 2);
  assert.equal(newLog.state.highWatermark, 2, 'the new owner loaded what the old one committed');
  const epochs = decodeJson<EpochStart[]>((await store.get(MetaKeys.partitionEpochHistory(topicId, 2)))!.value);
  assert.deepEqual(epochs, [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 2 }]);
  const late = await a.append(tp, 2, [batchOf('late', 1)]);
  assert.notEqual(late.errorCode, ErrorCode.NONE, 'the replaced broker cannot append');
  const next = await b.append(tp, 2, [batchOf('b', 1)]);
  assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 2]);
});

test('the store is down at the packed claim: every partition fails cleanly, nothing is owned, and the next batch acquires all', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  const topicId = randomUUID();
  faulty.rule = (txn) => (isAcquire(txn) ? 'lost' : null);
  const failed = await Promise.allSettled(service.acquireMany(refs(topicId, 50)));
  assert.ok(failed.every((r) => r.status === 'rejected' && /timeout/.test(String(r.reason))));
  assert.equal(service.ownedLogs().length, 0);
  for (let p = 0; p < 50; p++) assert.equal(await ownerOf(inner, topicId, p), null);
  faulty.rule = () => null;
  const results = await Promise.all(service.acquireMany(refs(topicId, 50)));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE));
  assert.equal(service.ownedLogs().length, 50);
});

test('a packed claim that applied but timed out: the next batch takes our own keys over at epoch 2', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  const topicId = randomUUID();
  let fired = false;
  faulty.rule = (txn) => {
    if (fired || !isAcquire(txn)) return null;
    fired = true;
    return 'applied-then-timeout';
  };
  const first = await Promise.allSettled(service.acquireMany(refs(topicId, 10)));
  assert.ok(first.every((r) => r.status === 'rejected'), 'the whole batch was in the one txn that timed out');
  assert.equal((await ownerOf(inner, topicId, 0))?.epoch, 1, 'the claims were written under our lease');
  const again = await Promise.all(service.acquireMany(refs(topicId, 10)));
  assert.ok(again.every((r) => r.errorCode === ErrorCode.NONE));
  for (let p = 0; p < 10; p++) assert.equal(service.owned(topicId, p)?.epoch, 2);
});

test('loads fail after the claim: the claims are released, and the partitions are acquired once reads work again', async (t) => {
  const inner = await embeddedStore(t);
  const topicId = await ownedBefore(t, inner, 20);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  faulty.failRanges = true;
  const failed = await Promise.allSettled(service.acquireMany(refs(topicId, 20)));
  assert.ok(failed.every((r) => r.status === 'rejected'));
  for (let p = 0; p < 20; p++) assert.equal(await ownerOf(inner, topicId, p), null, 'a failed acquire leaves no owner key behind');
  faulty.failRanges = false;
  assert.ok((await Promise.all(service.acquireMany(refs(topicId, 20)))).every((r) => r.errorCode === ErrorCode.NONE));
});

test('the batched epoch-start record times out: claims are released, no partition is owned; refused: decided one by one', async (t) => {
  const inner = await embeddedStore(t);
  const topicId = await ownedBefore(t, inner, 6);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  faulty.rule = (txn) => (isEpochStart(txn) ? 'lost' : null);
  const failed = await Promise.allSettled(service.acquireMany(refs(topicId, 6)));
  assert.ok(failed.every((r) => r.status === 'rejected'));
  assert.equal(service.ownedLogs().length, 0);
  for (let p = 0; p < 6; p++) assert.equal(await ownerOf(inner, topicId, p), null);
  // Refused: one claim is fenced (its owner key deleted) between the claim and the epoch-start txn.
  let fenced = false;
  faulty.rule = (txn) => {
    if (!fenced && isEpochStart(txn) && txn.compare.length > 1) {
      fenced = true;
      void inner.delete(MetaKeys.partitionOwner(topicId, 4));
    }
    return null;
  };
  const results = await Promise.all(service.acquireMany(refs(topicId, 6)));
  assert.ok(fenced);
  assert.deepEqual(results.map((r) => r.errorCode), [0, 0, 0, 0, ErrorCode.NOT_LEADER_OR_FOLLOWER, 0]);
  assert.equal(service.owned(topicId, 4), undefined);
  assert.equal(service.owned(topicId, 5)?.status, 'active');
});

test('a one-partition acquire during a batch shares the batch; a batch over a partition being acquired shares that acquire', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const service = await openService(t, faulty.store, 1);
  const topicId = randomUUID();
  const batch = service.acquireMany(refs(topicId, 10));
  const single = service.acquire(topicId, 3);
  assert.equal(single, batch[3]);
  const lone = service.acquire(topicId, 20);
  const overlapping = service.acquireMany(refs(topicId, 3, 19));
  assert.equal(overlapping[1], lone);
  await Promise.all([...batch, ...overlapping]);
  assert.equal(faulty.txns.filter(isAcquire).length, 3, 'one packed claim per batch plus the lone one');
  assert.equal(faulty.txns.filter(isEpochStart).length, 1, 'the lone acquire records its epoch start after its load');
  assert.equal(service.owned(topicId, 3)?.epoch, 1);
  assert.equal(service.owned(topicId, 20)?.epoch, 1);
});
