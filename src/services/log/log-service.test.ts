import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/index.ts';
import { MAX_TXN_OPS, MAX_TXN_BYTES, type MetadataStore, type Txn, type TxnResult } from '../../storage/meta/metadata-store.ts';
import { txnBytes } from '../../storage/meta/txn-limits.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { acquire, batch, makeEnv, offsetsOf, openService, topic, valuesOf } from '../../../test/helpers/log-service-env.ts';
import { decodeWalObject } from './wal-object.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';

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


/** `store` with the methods `overrides` returns in place of its own; they call `target`, the real store. */
function interceptStore(store: MetadataStore, overrides: (target: MetadataStore) => Partial<MetadataStore>): MetadataStore {
  const replaced: Partial<MetadataStore> = overrides(store);
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (Object.hasOwn(replaced, prop)) return replaced[prop as keyof MetadataStore];
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A txn that applies a log commit and then times out (once, when `steps.applyThenTimeout` is set), and
 * times out a re-fence of `ownerKey` whenever `failRefence()` says so.
 */
function commitAndRefenceFaults(target: MetadataStore, ownerKey: string, steps: { applyThenTimeout: boolean }, failRefence: () => boolean): (txn: Txn) => Promise<TxnResult> {
  return async (txn) => {
    const isCommit = txn.success.some((op) => op.type === 'put' && op.key.includes('/log/'));
    const isRefence = txn.success.some((op) => op.type === 'put' && op.key === ownerKey);
    if (isCommit && steps.applyThenTimeout) {
      steps.applyThenTimeout = false;
      await target.txn(txn);
      throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout after apply', { retriable: true });
    }
    if (isRefence && failRefence()) throw new KafscaleError('KSC_META_TIMEOUT', 'injected re-fence timeout', { retriable: true });
    return target.txn(txn);
  };
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


test('a commit that applied, then a lost re-fence, then a new owner before the re-read: the committed append is acknowledged', async (t) => {
  const env = await makeEnv(t);
  const tp = topic();
  const ownerKey = MetaKeys.partitionOwner(tp.id, 0);
  const steps = { applyThenTimeout: false, failRefences: 0, takeOverOnRead: false };
  const store = interceptStore(env.store, (target) => ({
    txn: commitAndRefenceFaults(target, ownerKey, steps, () => steps.failRefences > 0 && steps.failRefences-- > 0),
    range: async (prefix, options) => {
      if (steps.takeOverOnRead && prefix === MetaKeys.partitionPrefix(tp.id, 0)) {
        // Between the re-fence and the re-read, another broker takes the partition over.
        steps.takeOverOnRead = false;
        await target.put(ownerKey, Buffer.from(JSON.stringify({ brokerId: 2, epoch: 99, acquiredMs: 0 })));
      }
      return target.range(prefix, options);
    },
  }));
  const service = await openService(t, store, env.objects);
  await acquire(service, tp, 0);
  assert.equal((await service.append(tp, 0, [batch(['before'])])).errorCode, ErrorCode.NONE);
  Object.assign(steps, { applyThenTimeout: true, failRefences: 1, takeOverOnRead: true });
  const result = await service.append(tp, 0, [batch(['applied'])]);
  assert.equal(steps.applyThenTimeout || steps.failRefences > 0 || steps.takeOverOnRead, false, 'every injected step ran');
  assert.equal(result.errorCode, ErrorCode.NONE, 'the re-read shows the entry committed: it is acknowledged, not "not written"');
  assert.equal(result.baseOffset, 1);
  assert.equal(service.owned(tp.id, 0)?.status, 'fenced', 'the partition is given up to the new owner');
  assert.equal((await service.append(tp, 0, [batch(['late'])])).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const entries = await env.store.range(MetaKeys.partitionLogPrefix(tp.id, 0));
  assert.equal(entries.kvs.length, 2, 'both appends are committed log entries');
});


test('a commit that applied, then an internal error while reading its answer: the re-read acknowledges it', async (t) => {
  const env = await makeEnv(t);
  const steps = { garbleAnswer: false };
  const store = interceptStore(env.store, (target) => ({
    txn: async (txn) => {
      const result = await target.txn(txn);
      const isCommit = txn.success.some((op) => op.type === 'put' && op.key.includes('/log/'));
      if (!isCommit || !steps.garbleAnswer) return result;
      steps.garbleAnswer = false;
      // Applied, but answered in a shape the committer cannot read: it throws while resolving it.
      return { succeeded: false, revision: result.revision } as unknown as TxnResult;
    },
    // Events arrive well after the txn's answer, as they can from etcd: the broker cannot learn from its
    // own watch that the commit applied.
    watch: (prefix, options, handler) => target.watch(prefix, options, {
      onEvents: (events) => setTimeout(() => handler.onEvents(events), 300),
      onError: (error) => handler.onError(error),
    }),
  }));
  const service = await openService(t, store, env.objects);
  const tp = topic();
  await acquire(service, tp, 0);
  steps.garbleAnswer = true;
  const result = await service.append(tp, 0, [batch(['applied'])]);
  assert.equal(steps.garbleAnswer, false, 'the injected answer was given');
  assert.equal(result.errorCode, ErrorCode.NONE, 'committed, so acknowledged: a retry would store it twice');
  const next = await service.append(tp, 0, [batch(['next'])]);
  assert.equal(next.errorCode, ErrorCode.NONE);
  assert.equal(next.baseOffset, 1);
  assert.deepEqual(valuesOf((await service.read(tp.id, 0, 0, 1000)).records), ['applied', 'next']);
});


test('a trim finds a new owner while a commit is in flight: the commit\'s appends are "may or may not be written"', async (t) => {
  const env = await makeEnv(t);
  const tp = topic();
  const ownerKey = MetaKeys.partitionOwner(tp.id, 0);
  let holdAnswer: Promise<void> | null = null;
  let applied!: () => void;
  const commitApplied = new Promise<void>((resolve) => {
    applied = resolve;
  });
  const store = interceptStore(env.store, (target) => ({
    txn: async (txn) => {
      const result = await target.txn(txn);
      const isCommit = txn.success.some((op) => op.type === 'put' && op.key.includes('/log/')) && txn.compare.length === 2;
      if (isCommit && holdAnswer !== null) {
        // Applied; the answer is late (a slow network or a busy store).
        applied();
        await holdAnswer;
      }
      return result;
    },
  }));
  const service = await openService(t, store, env.objects);
  await acquire(service, tp, 0);
  assert.equal((await service.append(tp, 0, [batch(['first'])])).errorCode, ErrorCode.NONE);
  let release!: () => void;
  holdAnswer = new Promise<void>((resolve) => {
    release = resolve;
  });
  const inFlight = service.append(tp, 0, [batch(['in-flight'])]);
  await commitApplied;
  await env.store.put(ownerKey, Buffer.from(JSON.stringify({ brokerId: 2, epoch: 99, acquiredMs: 0 })));
  const trimmed = await service.deleteRecords(tp.id, 0, 1);
  assert.equal(trimmed.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the trim finds the claim lost');
  release();
  const result = await inFlight;
  assert.equal(result.errorCode, ErrorCode.REQUEST_TIMED_OUT, 'its commit applied: never "not written" (NOT_LEADER_OR_FOLLOWER)');
  const entries = await env.store.range(MetaKeys.partitionLogPrefix(tp.id, 0));
  assert.equal(entries.kvs.length, 2, 'the in-flight append is in fact committed');
});


test('a broker closing while a commit\'s outcome is still being resolved answers it "may or may not be written"', async (t) => {
  const env = await makeEnv(t);
  const tp = topic();
  const ownerKey = MetaKeys.partitionOwner(tp.id, 0);
  const steps = { applyThenTimeout: false, failRefences: false, refencesFailed: 0 };
  const store = interceptStore(env.store, (target) => ({
    txn: commitAndRefenceFaults(target, ownerKey, steps, () => steps.failRefences && ++steps.refencesFailed > 0),
  }));
  const service = await openService(t, store, env.objects);
  await acquire(service, tp, 0);
  Object.assign(steps, { applyThenTimeout: true, failRefences: true });
  const pending = service.append(tp, 0, [batch(['applied'])]);
  // The commit's own re-fence failed, and so did the re-read's first: the partition keeps re-reading.
  while (steps.refencesFailed < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(service.owned(tp.id, 0)?.status, 'reloading');
  await service.close();
  const result = await pending;
  assert.equal(result.errorCode, ErrorCode.REQUEST_TIMED_OUT, 'its commit applied: never "not written" (NOT_LEADER_OR_FOLLOWER)');
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
