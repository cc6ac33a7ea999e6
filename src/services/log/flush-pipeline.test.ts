/**
 * Write-path rollbacks under object-store faults (issue 10, item 1): a failed or stale flush run must
 * never fail appends it does not hold, nor move the next offset below an offset in flight or committed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import {
  ControlledObjects,
  FaultyMetadataStore,
  InvariantRecorder,
  isLogCommit,
  onFirstLogCommit,
  batchOf,
  embeddedStore,
  recordsOf,
  silentLog,
} from '../../../test/helpers/log-faults.ts';
import { encodeLogEntry } from './log-entry.ts';
import { LogService, type LogServiceOptions, type TopicRef } from './log-service.ts';
import type { AppendResult } from './partition-log.ts';

async function open(t: TestContext, store: MetadataStore, objects: ObjectStore, extra: Partial<LogServiceOptions> = {}): Promise<LogService> {
  const lease = await store.grantLease(10_000);
  const service = await LogService.open({ store, objects, log: silentLog, brokerId: extra.brokerId ?? 1, lease, namespace: 'ns', merge: false, ...extra });
  t.after(() => service.close());
  return service;
}

interface Acked {
  readonly name: string;
  readonly count: number;
  readonly result: AppendResult;
}

/** Every acknowledged record is read back at its acknowledged offset, exactly once, by another broker. */
async function assertAcknowledgedReadable(t: TestContext, store: MetadataStore, objects: ObjectStore, tp: TopicRef, acked: readonly Acked[]): Promise<void> {
  const expected = new Map<number, string>();
  for (const a of acked) {
    for (let i = 0; i < a.count; i++) {
      const offset = a.result.baseOffset + i;
      assert.equal(expected.has(offset), false, `offset ${offset} acknowledged twice (${expected.get(offset)} and ${a.name}-${i})`);
      expected.set(offset, `${a.name}-${i}`);
    }
  }
  const reader = await open(t, store, objects, { brokerId: 9 });
  const read = await reader.read(tp.id, 0, 0, 64 << 20);
  const seen = new Map<number, string>();
  for (const [offset, value] of recordsOf(read.records)) {
    assert.equal(seen.has(offset), false, `offset ${offset} stored twice`);
    seen.set(offset, value);
  }
  for (const [offset, value] of expected) assert.equal(seen.get(offset), value, `acknowledged record at offset ${offset}`);
  const offsets = [...seen.keys()];
  assert.deepEqual(offsets, offsets.map((_, i) => i), 'stored offsets are contiguous from 0');
}

test('a stale rollback never hands offsets of an in-flight append to another (exact interleaving of issue 10 item 1)', async (t) => {
  const store = await embeddedStore(t);
  const controlled = new ControlledObjects();
  const invariants = new InvariantRecorder();
  const service = await open(t, store, controlled.objects, { flush: { lingerMs: 0, maxInflight: 2 }, invariantHook: invariants.hook });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  controlled.holdPuts = true;

  const a1 = service.append(tp, 0, [batchOf('a1', 5)]); // 0..4, flush 1
  const [put1] = await controlled.waitForHeld(1);
  const a2 = service.append(tp, 0, [batchOf('a2', 15)]); // 5..19, flush 2
  const [, put2] = await controlled.waitForHeld(2);
  put1!.fail(); // flush 1 fails: A1 and every later append (A2) fail, offsets roll back to 0
  assert.equal((await a1).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal((await a2).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);

  const y = service.append(tp, 0, [batchOf('y', 15)]); // the retry: 0..14, flush 3
  const [, , put3] = await controlled.waitForHeld(3);
  put3!.release(); // flush 3 is uploaded; its commit waits for flush 2 (commits run in flush order)
  controlled.holdPuts = false;
  put2!.release(); // flush 2 ends: its run is stale (A2 already failed)
  const yResult = await y;
  assert.equal(yResult.errorCode, ErrorCode.NONE);
  assert.equal(yResult.baseOffset, 0);
  const log = service.owned(tp.id, 0)!;
  await service.flush(); // flush 2 has ended (and rolled back what it held)
  assert.equal(log.nextOffset, 15, 'the stale run did not move the next offset into Y');
  const x = await service.append(tp, 0, [batchOf('x', 5)]);
  assert.equal(x.errorCode, ErrorCode.NONE);
  assert.equal(x.baseOffset, 15, 'X continues after Y, never inside it');
  assert.equal(log.state.highWatermark, 20);
  await assertAcknowledgedReadable(t, store, controlled.objects, tp, [
    { name: 'y', count: 15, result: yResult },
    { name: 'x', count: 5, result: x },
  ]);
  assert.deepEqual(invariants.violations, []);
});

/** Small deterministic PRNG (mulberry32) so a failing schedule can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

test('five producers with different batch sizes under failing and slow PUTs: every acknowledged record at its offset exactly once', async (t) => {
  const store = await embeddedStore(t);
  const random = prng(20261203);
  const invariants = new InvariantRecorder();
  let failing = true;
  const objects = new MemoryObjectStore({
    beforeOperation: async (operation, key) => {
      if (operation !== 'put' || !key.includes('/wal/')) return;
      // Mostly quick PUTs, some slow ones: later flushes overtake a failing one and retries land between.
      await new Promise((resolve) => setTimeout(resolve, random() < 0.3 ? 20 + Math.floor(random() * 20) : Math.floor(random() * 4)));
      if (failing && random() < 0.5) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'injected 503 SlowDown', { retriable: true });
    },
  });
  // maxBytes 1: every flush takes one append, so a partition's appends spread over several flushes.
  const service = await open(t, store, objects, { flush: { lingerMs: 0, maxInflight: 3, maxBytes: 1 }, invariantHook: invariants.hook });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const acked: Acked[] = [];
  let failures = 0;
  const producer = async (name: string, size: number, messages: number): Promise<void> => {
    for (let i = 0; i < messages; i++) {
      const id = `${name}${i}`;
      for (;;) {
        // Think time: producers drift apart, so several flushes hold different producers' appends.
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4)));
        const result = await service.append(tp, 0, [batchOf(id, size)]);
        if (result.errorCode === ErrorCode.NONE) {
          acked.push({ name: id, count: size, result });
          break;
        }
        assert.equal(result.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
        failures++;
      }
    }
  };
  await Promise.all([producer('p', 1, 30), producer('q', 3, 30), producer('r', 7, 30), producer('s', 15, 30), producer('u', 23, 30)]);
  failing = false;
  assert.ok(failures > 20, `faults were injected (${failures} failed appends)`);
  await assertAcknowledgedReadable(t, store, objects, tp, acked);
  assert.equal(service.owned(tp.id, 0)!.state.highWatermark, 30 * (1 + 3 + 7 + 15 + 23));
  assert.deepEqual(invariants.violations, []);
});

/** A service whose store can fail a log commit so that it applies later, with a merger run by hand. */
async function ambiguousSetup(t: TestContext): Promise<{ inner: MetadataStore; faulty: FaultyMetadataStore; service: LogService; objects: MemoryObjectStore; tp: TopicRef; invariants: InvariantRecorder }> {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const objects = new MemoryObjectStore();
  const invariants = new InvariantRecorder();
  const service = await open(t, faulty.store, objects, {
    flush: { lingerMs: 0 },
    invariantHook: invariants.hook,
    // Merge as soon as a partition has two WAL entries; passes only when the test asks.
    merge: { policy: { maxWalEntries: 1 }, intervalMs: 3_600_000 },
  });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  return { inner, faulty, service, objects, tp, invariants };
}

/**
 * After A's commit (offsets 1..2) timed out, its offsets go to B (1..3) and C (4); a merge replaces the
 * entries 0, 1 and 4 by one segment entry at key 0, deleting keys 1 and 4. Then A's txn applies after all.
 * Put-if-absent no longer protects (key 1 is gone): only a fence between the ambiguous outcome and the
 * reassignment of its offsets keeps A's entry out.
 */
async function lateCommitAfterMerge(t: TestContext, setup: Awaited<ReturnType<typeof ambiguousSetup>>, a: Promise<AppendResult>): Promise<void> {
  const { faulty, service, objects, tp, invariants } = setup;
  assert.equal((await a).errorCode, ErrorCode.KAFKA_STORAGE_ERROR, 'the timed-out commit was not acknowledged');
  // A producer retries while the partition re-reads its state (KAFKA_STORAGE_ERROR is retriable).
  let b = await service.append(tp, 0, [batchOf('b', 3)]);
  for (let i = 0; i < 100 && b.errorCode === ErrorCode.KAFKA_STORAGE_ERROR; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    b = await service.append(tp, 0, [batchOf('b', 3)]);
  }
  assert.deepEqual([b.errorCode, b.baseOffset], [ErrorCode.NONE, 1], 'the offsets are handed out again');
  const c = await service.append(tp, 0, [batchOf('c', 1)]);
  assert.equal(c.baseOffset, 4);
  const log = service.owned(tp.id, 0)!;
  const merged = await service.merger!.mergeOnce(log);
  assert.equal(merged.outcome, 'merged');
  assert.deepEqual(log.state.entries.map((e) => [e.baseOffset, e.lastOffset]), [[0, 4]]);

  assert.equal(faulty.late.length, 1);
  const late = await faulty.late[0]!.apply();
  assert.equal(late.succeeded, false, 'the stale commit was fenced before its offsets were reassigned');
  await new Promise((resolve) => setTimeout(resolve, 50)); // its watch event, had it applied
  const d = await service.append(tp, 0, [batchOf('d', 1)]);
  assert.deepEqual([d.errorCode, d.baseOffset], [ErrorCode.NONE, 5]);
  const reader = await open(t, faulty.store, objects, { brokerId: 9 });
  const read = await reader.read(tp.id, 0, 0, 1 << 20);
  assert.deepEqual(recordsOf(read.records), [[0, 'p-0'], [1, 'b-0'], [2, 'b-1'], [3, 'b-2'], [4, 'c-0'], [5, 'd-0']]);
  assert.deepEqual(invariants.violations, []);
}

test('an ambiguous commit that reads back as absent is fenced before its offsets are reassigned (a later merge deletes its key)', async (t) => {
  const setup = await ambiguousSetup(t);
  const { faulty, service, tp } = setup;
  assert.equal((await service.append(tp, 0, [batchOf('p', 1)])).baseOffset, 0);
  faulty.rule = onFirstLogCommit('timeout-then-apply-later');
  await lateCommitAfterMerge(t, setup, service.append(tp, 0, [batchOf('a', 2)]));
});

test('an ambiguous commit whose outcome cannot be read at all: the re-read fences first, then reassigns', async (t) => {
  const setup = await ambiguousSetup(t);
  const { faulty, service, tp } = setup;
  assert.equal((await service.append(tp, 0, [batchOf('p', 1)])).baseOffset, 0);
  let fired = false;
  let down = false;
  faulty.rule = (txn) => {
    if (down) return 'lost';
    if (fired || !isLogCommit(txn)) return null;
    fired = true;
    // The store goes away with the commit in flight and comes back 150 ms later.
    down = true;
    faulty.failReads = true;
    setTimeout(() => {
      down = false;
      faulty.failReads = false;
    }, 150);
    return 'timeout-then-apply-later';
  };
  await lateCommitAfterMerge(t, setup, service.append(tp, 0, [batchOf('a', 2)]));
});

test('a commit that applied and timed out, and the fence after it failed too: the re-read finds it and acknowledges it, no offset is handed out twice', async (t) => {
  const setup = await ambiguousSetup(t);
  const { faulty, service, objects, tp, invariants } = setup;
  let step = 0;
  faulty.rule = (txn) => {
    if (step === 0 && isLogCommit(txn)) {
      step = 1;
      return 'applied-then-timeout';
    }
    if (step === 1 && txn.success.some((op) => op.type === 'put' && op.key.endsWith('/owner'))) {
      step = 2;
      return 'lost'; // the fence of the ambiguous outcome times out as well
    }
    return null;
  };
  const a = await service.append(tp, 0, [batchOf('a', 2)]);
  // The re-read (after its fence) finds A's entry: A is acknowledged, not failed into a duplicate retry.
  assert.deepEqual([a.errorCode, a.baseOffset], [ErrorCode.NONE, 0]);
  let b = await service.append(tp, 0, [batchOf('b', 1)]);
  for (let i = 0; i < 100 && b.errorCode === ErrorCode.KAFKA_STORAGE_ERROR; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    b = await service.append(tp, 0, [batchOf('b', 1)]);
  }
  assert.deepEqual([b.errorCode, b.baseOffset], [ErrorCode.NONE, 2], 'B continues after the commit that applied');
  const reader = await open(t, faulty.store, objects, { brokerId: 9 });
  assert.deepEqual(recordsOf((await reader.read(tp.id, 0, 0, 1 << 20)).records), [[0, 'a-0'], [1, 'a-1'], [2, 'b-0']]);
  assert.deepEqual(invariants.violations, []);
});

test('a trim that timed out and applies after a merge re-put its key is fenced (it would drop committed data)', async (t) => {
  const setup = await ambiguousSetup(t);
  const { faulty, service, objects, tp, invariants } = setup;
  for (const name of ['a', 'b', 'c']) assert.equal((await service.append(tp, 0, [batchOf(name, 3)])).errorCode, ErrorCode.NONE);
  let fired = false;
  faulty.rule = (txn) => {
    if (fired || !txn.success.some((op) => op.type === 'put' && op.key.endsWith('/start'))) return null;
    fired = true;
    return 'timeout-then-apply-later';
  };
  await assert.rejects(service.deleteRecords(tp.id, 0, 3), /timeout/); // would delete key 0 (offsets 0..2)
  const log = service.owned(tp.id, 0)!;
  // The trim is not applied here; a merge replaces keys 0, 3, 6 by one entry at key 0 covering 0..8.
  assert.equal((await service.merger!.mergeOnce(log)).outcome, 'merged');
  assert.deepEqual(log.state.entries.map((e) => [e.baseOffset, e.lastOffset]), [[0, 8]]);
  const late = await faulty.late[0]!.apply();
  assert.equal(late.succeeded, false, 'the late trim was fenced: it cannot delete the merged entry');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(log.state.highWatermark, 9);
  assert.equal((await service.append(tp, 0, [batchOf('d', 1)])).baseOffset, 9);
  const reader = await open(t, faulty.store, objects, { brokerId: 9 });
  assert.equal(recordsOf((await reader.read(tp.id, 0, 0, 1 << 20)).records).length, 10);
  assert.deepEqual(invariants.violations, []);
});

test('the invariant check reports an overlap and a high watermark that went back', async (t) => {
  const store = await embeddedStore(t);
  const invariants = new InvariantRecorder();
  const service = await open(t, store, new MemoryObjectStore(), { flush: { lingerMs: 0 }, invariantHook: invariants.hook });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [batchOf('a', 5)])).baseOffset, 0);
  assert.deepEqual(invariants.violations, []);
  const log = service.owned(tp.id, 0)!;
  // A second entry over offsets 2..3 (what a stale rollback used to produce), applied as a watch event would.
  const value = encodeLogEntry({ baseOffset: 2, lastOffset: 3, objectKey: 'ns/wal/x.wal', byteStart: 0, byteEnd: 1, maxTimestamp: 1, batchCount: 1, epoch: 1 });
  log.state.apply('log/' + '2'.padStart(20, '0'), { key: 'k', value, createRevision: 1e9, modRevision: 1e9, version: 1, lease: null }, 1e9);
  assert.equal(log.checkInvariants(), false);
  assert.match(invariants.violations.join('\n'), /overlap/);
  // The last entry (by base offset) now ends at 3: the high watermark fell from 5 to 4.
  assert.match(invariants.violations.join('\n'), /high watermark went back from 5 to 4/);
});

test('a commit that applied and timed out while the partition was lost: the append is answered REQUEST_TIMED_OUT (may be written), never NOT_LEADER_OR_FOLLOWER (not written)', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  // The session ends between the commit and its fence: the owner key is gone when the fence runs.
  let dropOwnerBeforeFence = false;
  const store = new Proxy(faulty.store, {
    get(target, property, receiver) {
      if (property === 'txn') {
        return async (txn: Parameters<MetadataStore['txn']>[0]) => {
          const ownerPut = txn.success.find((op) => op.type === 'put' && op.key.endsWith('/owner'));
          if (dropOwnerBeforeFence && ownerPut !== undefined && ownerPut.type === 'put') {
            dropOwnerBeforeFence = false;
            await inner.delete(ownerPut.key);
          }
          return target.txn(txn);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const objects = new MemoryObjectStore();
  const service = await open(t, store, objects, { flush: { lingerMs: 0 } });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  faulty.rule = onFirstLogCommit('applied-then-timeout', () => {
    dropOwnerBeforeFence = true;
  });
  const a = await service.append(tp, 0, [batchOf('a', 2)]);
  assert.equal(a.errorCode, ErrorCode.REQUEST_TIMED_OUT, 'the outcome was unknown to the broker');
  // It was written: a client told NOT_LEADER_OR_FOLLOWER might re-send it under a new producer epoch.
  const reader = await open(t, inner, objects, { brokerId: 9 });
  assert.deepEqual(recordsOf((await reader.read(tp.id, 0, 0, 1 << 20)).records), [[0, 'a-0'], [1, 'a-1']]);
});
