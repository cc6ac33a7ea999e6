import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { MAX_TXN_OPS, MAX_TXN_BYTES, type MetadataStore, type Txn, type TxnResult } from '../../storage/meta/metadata-store.ts';
import { txnBytes } from '../../storage/meta/txn-limits.ts';
import { MemoryObjectStore, type ObjectStoreOperation } from '../../storage/object/memory-object-store.ts';
import { FsObjectStore } from '../../storage/object/fs-object-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { LogService, type LogServiceOptions, type TopicRef } from './log-service.ts';
import { decodeWalObject } from './wal-object.ts';

const log = pino({ level: 'silent' });

interface Env {
  store: EmbeddedMetadataStore;
  objects: MemoryObjectStore;
  puts: string[];
  /** Set to make the next PUTs wait on / fail with this. */
  putHook: ((key: string) => Promise<void>) | null;
}

async function makeEnv(t: TestContext): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-log-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const env: Env = { store, objects: null as unknown as MemoryObjectStore, puts: [], putHook: null };
  env.objects = new MemoryObjectStore({
    beforeOperation: async (operation: ObjectStoreOperation, key: string) => {
      if (operation !== 'put') return;
      env.puts.push(key);
      if (env.putHook !== null) await env.putHook(key);
    },
  });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return env;
}

async function openService(t: TestContext, store: MetadataStore, objects: ObjectStore, extra: Partial<LogServiceOptions> = {}): Promise<LogService> {
  const lease = extra.lease ?? (await store.grantLease(10_000));
  const violations: string[] = [];
  const service = await LogService.open({
    store, objects, log, brokerId: 1, lease, namespace: 'test-ns', flush: { lingerMs: 1 },
    // Every test here also checks the write-path invariants after each commit (storage.md).
    invariantHook: (partitionLog, violation) => violations.push(`${partitionLog.topicId}/${partitionLog.partition}: ${violation}`),
    ...extra,
  });
  t.after(async () => {
    await service.close();
    assert.deepEqual(violations, [], 'no write-path invariant was violated');
  });
  return service;
}

function topic(configs: Record<string, string> = {}): TopicRef {
  return { id: randomUUID(), configs };
}

function batch(values: readonly string[], timestamp = 1_000n): Buffer {
  return encodeRecordBatch({ records: values.map((value, i) => ({ value, timestamp: timestamp + BigInt(i) })) });
}

function valuesOf(records: readonly Buffer[]): string[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

function offsetsOf(records: readonly Buffer[]): number[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => Number(r.offset)));
}

async function acquire(service: LogService, t: TopicRef, partition: number): Promise<void> {
  const result = await service.acquire(t.id, partition);
  assert.equal(result.errorCode, ErrorCode.NONE);
}

test('concurrent appends to many partitions get contiguous offsets and share one object per flush', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects, { flush: { lingerMs: 20 } });
  const tp = topic();
  for (let p = 0; p < 20; p++) await acquire(service, tp, p);
  const appends = [];
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 20; p++) appends.push(service.append(tp, p, [batch([`${p}-${round}-a`, `${p}-${round}-b`])]));
  }
  const results = await Promise.all(appends);
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE));
  // One linger window collected all 60 appends of 20 partitions: one PUT.
  assert.equal(env.puts.length, 1);
  for (let p = 0; p < 20; p++) {
    const mine = results.filter((_, i) => i % 20 === p).map((r) => r.baseOffset);
    assert.deepEqual(mine, [0, 2, 4]);
    const read = await service.read(tp.id, p, 0, 1 << 20);
    assert.equal(read.highWatermark, 6);
    assert.deepEqual(offsetsOf(read.records), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(valuesOf(read.records), [`${p}-0-a`, `${p}-0-b`, `${p}-1-a`, `${p}-1-b`, `${p}-2-a`, `${p}-2-b`]);
  }
  const object = await env.objects.get(env.puts[0]!);
  const decoded = decodeWalObject(object);
  assert.equal(decoded.directory.length, 20);
  assert.match(env.puts[0]!, /^test-ns\/wal\/\d{13}-0000000001-[0-9a-f]{8}-0000000001\.wal$/);
});

test('an append is acknowledged only after PUT and commit; a failed PUT returns a retriable error and nothing is readable', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects);
  const tp = topic();
  await acquire(service, tp, 0);
  let release!: () => void;
  env.putHook = () => new Promise<void>((resolve) => {
    release = resolve;
  });
  let settled = false;
  const first = service.append(tp, 0, [batch(['x'])]).then((r) => {
    settled = true;
    return r;
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(settled, false, 'no ack while the PUT hangs');
  assert.equal((await service.read(tp.id, 0, 0, 1000)).highWatermark, 0);
  env.putHook = async () => {
    throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'injected', { retriable: true });
  };
  // Queued behind the hanging flush (same partition, later offsets).
  const second = service.append(tp, 0, [batch(['y'])]);
  release();
  assert.equal((await first).errorCode, ErrorCode.NONE);
  const failed = await second;
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const read = await service.read(tp.id, 0, 0, 1000);
  assert.equal(read.highWatermark, 1);
  assert.deepEqual(valuesOf(read.records), ['x']);
  env.putHook = null;
  const retried = await service.append(tp, 0, [batch(['y2'])]);
  assert.equal(retried.errorCode, ErrorCode.NONE);
  assert.equal(retried.baseOffset, 1, 'the failed offset is reassigned: no gap');
  assert.deepEqual(valuesOf((await service.read(tp.id, 0, 0, 1000)).records), ['x', 'y2']);
});

/** A store whose txn can be made to fail in the ways etcd can (applied or not, then a timeout). */
function faultyStore(store: MetadataStore): { store: MetadataStore; fault: { mode: 'none' | 'lost' | 'applied-then-timeout' }; txns: Txn[] } {
  const fault = { mode: 'none' as 'none' | 'lost' | 'applied-then-timeout' };
  const txns: Txn[] = [];
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'txn') {
        return async (txn: Txn): Promise<TxnResult> => {
          txns.push(txn);
          const isCommit = txn.success.some((op) => op.type === 'put' && op.key.includes('/log/'));
          if (isCommit && fault.mode === 'lost') throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout', { retriable: true });
          if (isCommit && fault.mode === 'applied-then-timeout') {
            await target.txn(txn);
            throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout after apply', { retriable: true });
          }
          return target.txn(txn);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, fault, txns };
}

test('ambiguous commits: an applied one is acknowledged, a lost one fails and its offsets are reused', async (t) => {
  const env = await makeEnv(t);
  const faulty = faultyStore(env.store);
  const service = await openService(t, faulty.store, env.objects);
  const tp = topic();
  await acquire(service, tp, 0);
  faulty.fault.mode = 'applied-then-timeout';
  const applied = await service.append(tp, 0, [batch(['a'])]);
  assert.equal(applied.errorCode, ErrorCode.NONE, 'the re-read finds the entry: acknowledged');
  faulty.fault.mode = 'lost';
  const lost = await service.append(tp, 0, [batch(['b'])]);
  assert.equal(lost.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  faulty.fault.mode = 'none';
  const next = await service.append(tp, 0, [batch(['c'])]);
  assert.equal(next.errorCode, ErrorCode.NONE);
  assert.equal(next.baseOffset, 1);
  const read = await service.read(tp.id, 0, 0, 1000);
  assert.deepEqual(valuesOf(read.records), ['a', 'c']);
  assert.deepEqual(offsetsOf(read.records), [0, 1]);
});

test('fencing: a revoked session fails pending appends; a new owner continues with a higher epoch and no offset reuse', async (t) => {
  const env = await makeEnv(t);
  const lease = await env.store.grantLease(10_000);
  const service = await openService(t, env.store, env.objects, { lease });
  const tp = topic();
  await acquire(service, tp, 0);
  assert.equal((await service.append(tp, 0, [batch(['one', 'two'])])).errorCode, ErrorCode.NONE);
  const epoch1 = service.owned(tp.id, 0)!.epoch;
  let release!: () => void;
  env.putHook = () => new Promise<void>((resolve) => {
    release = resolve;
  });
  const pending = service.append(tp, 0, [batch(['lost'])]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await lease.revoke();
  release();
  const result = await pending;
  assert.equal(result.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  env.putHook = null;
  assert.equal((await service.append(tp, 0, [batch(['late'])])).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);

  const other = await openService(t, env.store, env.objects, { brokerId: 2 });
  const taken = await other.acquire(tp.id, 0);
  assert.equal(taken.errorCode, ErrorCode.NONE);
  assert.ok(other.owned(tp.id, 0)!.epoch > epoch1);
  const appended = await other.append(tp, 0, [batch(['three'])]);
  assert.equal(appended.baseOffset, 2);
  const read = await other.read(tp.id, 0, 0, 1000);
  assert.deepEqual(valuesOf(read.records), ['one', 'two', 'three']);
  const epochs = await other.epochEndOffset(tp.id, 0, epoch1);
  assert.deepEqual(epochs, { errorCode: 0, leaderEpoch: epoch1, endOffset: 2 });
});

test('a second broker cannot acquire an owned partition', async (t) => {
  const env = await makeEnv(t);
  const a = await openService(t, env.store, env.objects);
  const b = await openService(t, env.store, env.objects, { brokerId: 2 });
  const tp = topic();
  await acquire(a, tp, 0);
  const refused = await b.acquire(tp.id, 0);
  assert.equal(refused.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal('owner' in refused ? refused.owner?.brokerId : undefined, 1);
});

test('reads: tail, cache and ranged GETs return the same whole batches; KIP-74 and OFFSET_OUT_OF_RANGE', async (t) => {
  const env = await makeEnv(t);
  const owner = await openService(t, env.store, env.objects);
  const tp = topic();
  await acquire(owner, tp, 0);
  for (let i = 0; i < 5; i++) assert.equal((await owner.append(tp, 0, [batch([`v${i}`.repeat(50)])])).errorCode, ErrorCode.NONE);
  const big = batch(['B'.repeat(5_000)]);
  assert.equal((await owner.append(tp, 0, [big])).baseOffset, 5);

  const fromTail = await owner.read(tp.id, 0, 0, 1 << 20);
  assert.equal(owner.objectGets, 0, 'the owner serves recent data from its tail');
  assert.equal(fromTail.records.length, 6);

  const reader = await openService(t, env.store, env.objects, { brokerId: 2 });
  const fromObjects = await reader.read(tp.id, 0, 0, 1 << 20);
  assert.deepEqual(fromObjects.records.map((b) => b.toString('hex')), fromTail.records.map((b) => b.toString('hex')));
  const gets = reader.objectGets;
  assert.ok(gets >= 1);
  await reader.read(tp.id, 0, 2, 1 << 20);
  assert.equal(reader.objectGets, gets, 'second read served from the range cache');

  const middle = await reader.read(tp.id, 0, 3, 1 << 20);
  assert.deepEqual(offsetsOf(middle.records), [3, 4, 5]);
  const oversize = await reader.read(tp.id, 0, 5, 100);
  assert.equal(oversize.records.length, 1, 'KIP-74: the first batch comes whole even if larger than maxBytes');
  assert.ok(oversize.bytes > 100);
  const limited = await reader.read(tp.id, 0, 0, 200);
  assert.deepEqual(offsetsOf(limited.records), [0], 'stops before exceeding maxBytes after the first batch');

  assert.equal((await reader.read(tp.id, 0, 6, 100)).errorCode, ErrorCode.NONE);
  assert.equal((await reader.read(tp.id, 0, 6, 100)).records.length, 0);
  assert.equal((await reader.read(tp.id, 0, 7, 100)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await reader.read(tp.id, 0, -1, 100)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await reader.read(tp.id, 0, 6, 100)).highWatermark, 6);
});

test('long polls wake on a local commit and on a watch event on another broker', async (t) => {
  const env = await makeEnv(t);
  const owner = await openService(t, env.store, env.objects);
  const reader = await openService(t, env.store, env.objects, { brokerId: 2 });
  const tp = topic();
  await acquire(owner, tp, 0);
  const localWait = owner.waitForData(tp.id, 0, 0);
  const remoteWait = reader.waitForData(tp.id, 0, 0);
  const aborted = new AbortController();
  const cancelled = reader.waitForData(tp.id, 0, 5, aborted.signal);
  aborted.abort();
  assert.equal(await cancelled, false);
  await owner.append(tp, 0, [batch(['hello'])]);
  assert.equal(await localWait, true);
  assert.equal(await remoteWait, true);
  assert.deepEqual(valuesOf((await reader.read(tp.id, 0, 0, 1000)).records), ['hello']);
});

test('validation: corrupt, too large and invalid batches get Kafka error codes and take no offsets', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects);
  const tp = topic({ 'max.message.bytes': '200' });
  await acquire(service, tp, 0);
  const corrupt = batch(['abc']);
  corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
  assert.equal((await service.append(tp, 0, [corrupt])).errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal((await service.append(tp, 0, [batch(['x'.repeat(300)])])).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  const empty = encodeRecordBatch({ records: [] });
  const invalid = await service.append(tp, 0, [batch(['ok']), empty]);
  assert.equal(invalid.errorCode, ErrorCode.INVALID_RECORD);
  assert.deepEqual(invalid.recordErrors.map((e) => e.batchIndex), [1]);
  const ok = await service.append(tp, 0, [batch(['fine'])]);
  assert.equal(ok.baseOffset, 0);
  const unowned = await service.append(tp, 1, [batch(['nope'])]);
  assert.equal(unowned.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
});

test('LogAppendTime topics get the broker time stamped', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects, { now: () => 1_700_000_000_000 });
  const tp = topic({ 'message.timestamp.type': 'LogAppendTime' });
  await acquire(service, tp, 0);
  const result = await service.append(tp, 0, [batch(['a', 'b'], 5n)]);
  assert.equal(result.logAppendTimeMs, 1_700_000_000_000);
  const records = decodeRecordBatch((await service.read(tp.id, 0, 0, 1000)).records[0]!).records;
  assert.deepEqual(records.map((r) => r.timestamp), [1_700_000_000_000n, 1_700_000_000_000n]);
});

test('ListOffsets: earliest, latest, max timestamp and by timestamp', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects);
  const tp = topic();
  await acquire(service, tp, 0);
  await service.append(tp, 0, [batch(['a', 'b', 'c'], 100n)]); // 0..2 at 100..102
  await service.append(tp, 0, [batch(['d', 'e'], 500n)]); // 3..4 at 500..501
  await service.append(tp, 0, [batch(['f'], 300n)]); // 5 at 300
  const reader = await openService(t, env.store, env.objects, { brokerId: 2 });
  assert.equal((await reader.listOffsets(tp.id, 0, 'earliest')).offset, 0);
  assert.equal((await reader.listOffsets(tp.id, 0, 'latest')).offset, 6);
  assert.deepEqual(await reader.listOffsets(tp.id, 0, 'maxTimestamp'), { errorCode: 0, offset: 4, timestampMs: 501, leaderEpoch: 1 });
  assert.equal((await reader.listOffsets(tp.id, 0, { timestampMs: 101 })).offset, 1);
  assert.equal((await reader.listOffsets(tp.id, 0, { timestampMs: 200 })).offset, 3);
  assert.equal((await reader.listOffsets(tp.id, 0, { timestampMs: 0 })).offset, 0);
  assert.equal((await reader.listOffsets(tp.id, 0, { timestampMs: 600 })).offset, -1);
});

test('restart: a new service on the same stores serves every acknowledged record at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-log-restart-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const objects = new MemoryObjectStore();
  const tp = topic();
  {
    const store = await EmbeddedMetadataStore.open({ dir, log });
    const lease = await store.grantLease(10_000);
    const service = await LogService.open({ store, objects, log, brokerId: 1, lease, namespace: 'ns', flush: { lingerMs: 0 } });
    for (let p = 0; p < 3; p++) {
      assert.equal((await service.acquire(tp.id, p)).errorCode, ErrorCode.NONE);
      for (let i = 0; i < 4; i++) assert.equal((await service.append(tp, p, [batch([`p${p}-${i}`])])).errorCode, ErrorCode.NONE);
    }
    // A crash: no close of the service, no release. The lease is left to expire.
    await store.close();
  }
  const store = await EmbeddedMetadataStore.open({ dir, log });
  t.after(() => store.close());
  const service = await openService(t, store, objects);
  for (let p = 0; p < 3; p++) {
    const read = await service.read(tp.id, p, 0, 1 << 20);
    assert.deepEqual(valuesOf(read.records), [0, 1, 2, 3].map((i) => `p${p}-${i}`));
  }
  // The crashed owner's key is still there until its lease expires; release it the way expiry would.
  await store.deletePrefix('/kafscale/partitions/' + tp.id + '/0000000000/owner');
  const acquired = await service.acquire(tp.id, 0);
  assert.equal(acquired.errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [batch(['after'])])).baseOffset, 4);
});

test('1,000 partitions in one flush commit correctly within etcd transaction limits', async (t) => {
  const env = await makeEnv(t);
  const faulty = faultyStore(env.store);
  const service = await openService(t, faulty.store, env.objects, { flush: { lingerMs: 50 } });
  const tp = topic();
  for (let p = 0; p < 1000; p++) await acquire(service, tp, p);
  const before = env.puts.length;
  faulty.txns.length = 0;
  const results = await Promise.all(Array.from({ length: 1000 }, (_, p) => service.append(tp, p, [batch([`m${p}`])])));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE && r.baseOffset === 0));
  assert.equal(env.puts.length - before, 1, 'one object for 1,000 partitions');
  const commits = faulty.txns.filter((txn) => txn.success.some((op) => op.type === 'put' && op.key.includes('/log/')));
  assert.ok(commits.length >= 8);
  for (const txn of commits) {
    assert.ok(txn.compare.length <= MAX_TXN_OPS && txn.success.length <= MAX_TXN_OPS && (txn.failure?.length ?? 0) <= MAX_TXN_OPS);
    assert.ok(txnBytes(txn) <= MAX_TXN_BYTES);
  }
  for (const p of [0, 499, 999]) assert.deepEqual(valuesOf((await service.read(tp.id, p, 0, 1000)).records), [`m${p}`]);
});

test('pending bytes are bounded: appends beyond the bound wait for flushes, in call order', async (t) => {
  const env = await makeEnv(t);
  const service = await openService(t, env.store, env.objects, { flush: { lingerMs: 1, maxPendingBytes: 300, maxInflight: 1 } });
  const tp = topic();
  await acquire(service, tp, 0);
  const appends = Array.from({ length: 10 }, (_, i) => service.append(tp, 0, [batch([`v${i}`.padEnd(60, '.')])]));
  assert.ok(service.pipeline.pendingBytes <= 300);
  const results = await Promise.all(appends);
  assert.deepEqual(results.map((r) => r.baseOffset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(env.puts.length > 1);
});

test('works on the filesystem object store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-log-fs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const objects = await new FsObjectStore({ root: join(dir, 'objects'), fsync: false }).open();
  const store = await EmbeddedMetadataStore.open({ dir: join(dir, 'meta'), log });
  t.after(() => store.close());
  const service = await openService(t, store, objects);
  const tp = topic();
  await acquire(service, tp, 0);
  for (let i = 0; i < 3; i++) await service.append(tp, 0, [batch([`fs${i}`])]);
  const reader = await openService(t, store, objects, { brokerId: 2 });
  assert.deepEqual(valuesOf((await reader.read(tp.id, 0, 0, 1000)).records), ['fs0', 'fs1', 'fs2']);
});

test('fencing at commit: a broker that has not noticed it was replaced cannot commit', async (t) => {
  const env = await makeEnv(t);
  const a = await openService(t, env.store, env.objects);
  const tp = topic();
  await acquire(a, tp, 0);
  assert.equal((await a.append(tp, 0, [batch(['a0'])])).errorCode, ErrorCode.NONE);
  // As if A's session expired while A was paused: its owner key vanishes and B takes over.
  await env.store.delete(`/kafscale/partitions/${tp.id}/0000000000/owner`);
  const b = await openService(t, env.store, env.objects, { brokerId: 2 });
  await acquire(b, tp, 0);
  // A writes first, at an offset B has not used: only the owner-key guard can stop it.
  const stale = await a.append(tp, 0, [batch(['a1'])]);
  assert.equal(stale.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(a.owned(tp.id, 0)?.status, 'fenced');
  assert.equal((await b.append(tp, 0, [batch(['b1'])])).baseOffset, 1);
  assert.deepEqual(valuesOf((await b.read(tp.id, 0, 0, 1000)).records), ['a0', 'b1']);
});
