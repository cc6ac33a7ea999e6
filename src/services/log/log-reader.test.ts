/** The read path through LogService: tail, range cache and ranged GETs, long polls, ListOffsets, restarts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { FsObjectStore } from '../../storage/object/fs-object-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { LogService } from './log-service.ts';
import { acquire, batch, log, makeEnv, offsetsOf, openService, topic, valuesOf } from '../../../test/helpers/log-service-env.ts';

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
