/**
 * WAL flushes before merge I/O (io-priority.ts), and a hot partition's WAL stays bounded: the merger
 * yields to running flushes before each object-store step, but never waits longer than the bound (so a
 * saturated broker still merges), and merges a partition again in the same pass while its WAL is over the
 * threshold. The object collector's deletes yield the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { FsObjectStore } from '../../storage/object/fs-object-store.ts';
import type { ObjectStore, PutOptions } from '../../storage/object/object-store.ts';
import { IoPriority } from './io-priority.ts';
import type { TopicRef } from './log-service.ts';
import { DELETE_BATCH_KEYS, ObjectCollector } from './object-collector.ts';
import { MAX_MERGES_PER_PARTITION_PER_PASS } from './segment-merger.ts';
import { batch, log, makeEnv, merger, NS, produce, readAll, values } from '../../../test/helpers/merge-env.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('IoPriority: a yield returns at once when idle, waits for running foreground work, and waits at most its bound', async () => {
  const io = new IoPriority(10_000);
  const started = performance.now();
  await io.yieldToForeground();
  assert.equal(io.yields, 0, 'nothing running: no wait');

  const flush = deferred();
  const tracked = io.track(flush.promise);
  assert.equal(io.foreground, 1);
  let yielded = false;
  const waiting = io.yieldToForeground().then(() => {
    yielded = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(yielded, false, 'the yield waits while the flush runs');
  flush.resolve();
  await tracked;
  await waiting;
  assert.equal(io.foreground, 0);
  assert.ok(performance.now() - started < 5_000, 'released by the flush, not by the 10 s bound');

  // Saturation: foreground work never stops; each yield gives up after the bound.
  const bounded = new IoPriority(20);
  const endless = deferred();
  void bounded.track(endless.promise);
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await bounded.yieldToForeground();
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 90 && elapsed < 2_000, `5 bounded yields took ${elapsed.toFixed(0)} ms`);
  assert.equal(bounded.yields, 5);
  endless.resolve();
});

test('the merger issues no object-store write while a flush runs, and merges as soon as it ends', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 8; i++) await produce(env, tp, [`v${i}`]);
  const before = await readAll(env.service, tp);

  const segmentPuts: PutOptions[] = [];
  const objects: ObjectStore = env.objects;
  const put = objects.put.bind(objects);
  objects.put = async (key, body, options) => {
    if (key.includes('/segments/')) segmentPuts.push(options ?? {});
    await put(key, body, options);
  };
  const io = new IoPriority(60_000);
  const flush = deferred();
  void io.track(flush.promise);
  const m = merger(env, { io });
  const merging = m.mergeOnce(env.service.owned(tp.id, 0)!);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(segmentPuts.length, 0, 'no segment write while the flush runs');
  flush.resolve();
  assert.equal((await merging).outcome, 'merged');
  assert.equal(segmentPuts.length, 2, 'index and segment');
  assert.ok(segmentPuts.every((o) => o.background === true && typeof o.beforeStep === 'function'), 'background puts carry the yield for their steps');
  assert.ok(io.yields >= 1);
  assert.deepEqual(await readAll(env.service, tp), before);
});

test('a hot partition: one pass merges until the WAL is back under the threshold, not one bounded merge', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const expected: string[] = [];
  // 10 merges' worth of WAL entries at 12 entries per merge: before, one pass merged 12 and left 108.
  for (let i = 0; i < 120; i++) {
    expected.push(`h${i}`);
    await produce(env, tp, [`h${i}`]);
  }
  const m = merger(env, {}, { maxWalEntries: 4, maxEntriesPerMerge: 12 });
  const merges = await m.runOnce();
  assert.ok(merges >= 10 && merges <= MAX_MERGES_PER_PARTITION_PER_PASS, `${merges} merges in one pass`);
  const entries = env.service.owned(tp.id, 0)!.state.entries;
  const wal = entries.filter((e) => e.indexKey === undefined).length;
  assert.ok(wal <= 4, `${wal} WAL entries left after the pass`);
  assert.deepEqual(values(await readAll(env.service, tp)), expected);
});

test("the service's flushes are foreground work from PUT to commit; no longer once committed", async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const gate = deferred();
  const objects: ObjectStore = env.objects;
  const put = objects.put.bind(objects);
  let walPuts = 0;
  objects.put = async (key, body, options) => {
    if (key.includes('/wal/')) {
      walPuts++;
      await gate.promise;
    }
    await put(key, body, options);
  };
  const appended = env.service.append(tp, 0, [batch(['a'])]);
  while (walPuts === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(env.service.io.foreground, 1, 'a flush in flight is foreground work');
  gate.resolve();
  assert.equal((await appended).errorCode, ErrorCode.NONE);
  await new Promise((r) => setImmediate(r)); // the pipeline's bookkeeping settles right after the acks
  assert.equal(env.service.io.foreground, 0, 'done once committed');
});

test('the filesystem store calls beforeStep before each synced step of a background put, and not for a foreground put', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-steps-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await new FsObjectStore({ root: dir, fsync: true }).open();
  t.after(() => store.close());
  const body = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  let steps = 0;
  const beforeStep = async (): Promise<void> => {
    steps++;
  };
  await store.put('ns/segments/a', [body.subarray(0, 100), body.subarray(100)], { background: true, beforeStep });
  assert.equal(steps, 13, '256 KiB steps: 12 full and a tail');
  assert.deepEqual(await store.get('ns/segments/a'), body);
  await store.put('ns/wal/b', body, { beforeStep });
  assert.equal(steps, 13, 'a foreground put takes no steps');
});

test('the object collector deletes nothing while a flush runs, in batches of DELETE_BATCH_KEYS after', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 12; i++) await produce(env, tp, [`c${i}`]);
  assert.equal((await merger(env).mergeOnce(env.service.owned(tp.id, 0)!)).outcome, 'merged');
  const deletes: number[] = [];
  const objects: ObjectStore = env.objects;
  const remove = objects.delete.bind(objects);
  objects.delete = async (keys) => {
    deletes.push(keys.length);
    await remove(keys);
  };
  const io = new IoPriority(60_000);
  const flush = deferred();
  void io.track(flush.promise);
  const gc = new ObjectCollector({ store: env.store, objects, log, brokerId: 1, lease: env.lease, namespace: NS, orphanGraceMs: 0, deleteDelayMs: 0, io });
  const collecting = gc.runOnce();
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(deletes, [], 'no delete while the flush runs');
  flush.resolve();
  assert.equal((await collecting).deletedObjects, 12);
  assert.ok(deletes.length >= 1 && deletes.every((n) => n <= DELETE_BATCH_KEYS));
});
