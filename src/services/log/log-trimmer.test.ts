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
import type { Lease } from '../../storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { LogKeys, MetaKeys } from '../cluster/meta-keys.ts';
import { LogService, type TopicRef } from './log-service.ts';

const log = pino({ level: 'silent' });

interface Env {
  store: EmbeddedMetadataStore;
  objects: MemoryObjectStore;
}

async function makeEnv(t: TestContext): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-trim-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, objects: new MemoryObjectStore() };
}

async function openService(t: TestContext, env: Env, brokerId = 1, lease?: Lease): Promise<LogService> {
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId, lease: lease ?? (await env.store.grantLease(10_000)), namespace: 'test-ns', flush: { lingerMs: 1 } });
  t.after(() => service.close());
  return service;
}

function batch(values: readonly string[]): Buffer {
  return encodeRecordBatch({ records: values.map((value, i) => ({ value, timestamp: 1_000n + BigInt(i) })) });
}

function offsetsOf(records: readonly Buffer[]): number[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => Number(r.offset)));
}

/** Three flushes of 3 records each: entries [0-2], [3-5], [6-8]. */
async function threeEntries(service: LogService, tp: TopicRef): Promise<void> {
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 3; i++) {
    const r = await service.append(tp, 0, [batch([`a${i}`, `b${i}`, `c${i}`])]);
    assert.equal(r.errorCode, ErrorCode.NONE);
  }
}

async function entryKeys(env: Env, topicId: string): Promise<string[]> {
  const { kvs } = await env.store.range(MetaKeys.partitionLogPrefix(topicId, 0));
  return kvs.map((kv) => String(LogKeys.baseOffsetOf(kv.key)));
}

test('DeleteRecords moves the log start, drops whole entries below it and reads below it are out of range', async (t) => {
  const env = await makeEnv(t);
  const owner = await openService(t, env);
  const other = await openService(t, env, 2);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  await threeEntries(owner, tp);
  // Another broker has the partition loaded before the delete: it must learn the new start by watch.
  assert.equal((await other.offsets(tp.id, 0)).logStartOffset, 0);

  const result = await owner.deleteRecords(tp.id, 0, 4);
  assert.deepEqual(result, { errorCode: ErrorCode.NONE, lowWatermark: 4 });
  assert.deepEqual(await entryKeys(env, tp.id), ['3', '6']);
  const start = await env.store.get(MetaKeys.partitionLogStart(tp.id, 0));
  assert.deepEqual(JSON.parse(start?.value.toString() ?? 'null'), { logStartOffset: 4 });

  for (const service of [owner, other]) {
    // Bounded wait for the watch on the other broker.
    for (let i = 0; i < 100 && (await service.offsets(tp.id, 0)).logStartOffset !== 4; i++) await new Promise((r) => setTimeout(r, 10));
    const below = await service.read(tp.id, 0, 3, 1 << 20);
    assert.equal(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(below.logStartOffset, 4);
    const at = await service.read(tp.id, 0, 4, 1 << 20);
    assert.equal(at.errorCode, ErrorCode.NONE);
    assert.equal(at.logStartOffset, 4);
    assert.equal(at.highWatermark, 9);
    // Whole batches: the batch holding offset 4 starts at 3, as in Kafka.
    assert.deepEqual(offsetsOf(at.records), [3, 4, 5, 6, 7, 8]);
    assert.deepEqual(await service.listOffsets(tp.id, 0, 'earliest'), { errorCode: ErrorCode.NONE, offset: 4, timestampMs: -1, leaderEpoch: 1 });
  }

  // At or below the start: nothing changes. Above the high watermark: out of range.
  assert.deepEqual(await owner.deleteRecords(tp.id, 0, 2), { errorCode: ErrorCode.NONE, lowWatermark: 4 });
  assert.deepEqual(await owner.deleteRecords(tp.id, 0, 10), { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 });
  // -1 = the high watermark: everything goes, the log end stays where it was.
  assert.deepEqual(await owner.deleteRecords(tp.id, 0, -1), { errorCode: ErrorCode.NONE, lowWatermark: 9 });
  assert.deepEqual(await entryKeys(env, tp.id), []);
  assert.deepEqual(await owner.offsets(tp.id, 0), { highWatermark: 9, logStartOffset: 9 });
  const next = await owner.append(tp, 0, [batch(['z'])]);
  assert.equal(next.baseOffset, 9);
  assert.equal(next.logStartOffset, 9);
  // A restarted reader sees the same truth from the store alone.
  const fresh = await openService(t, env, 3);
  assert.deepEqual(await fresh.offsets(tp.id, 0), { highWatermark: 10, logStartOffset: 9 });
});

test('DeleteRecords: a non-owner and a fenced owner change nothing', async (t) => {
  const env = await makeEnv(t);
  const lease = await env.store.grantLease(10_000);
  const owner = await openService(t, env, 1, lease);
  const other = await openService(t, env, 2);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  await threeEntries(owner, tp);
  assert.deepEqual(await other.deleteRecords(tp.id, 0, 3), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 });
  await lease.revoke();
  // The lease loss reaches the owner asynchronously; the guard must hold even before it does.
  const fenced = await owner.deleteRecords(tp.id, 0, 3);
  assert.equal(fenced.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(await env.store.get(MetaKeys.partitionLogStart(tp.id, 0)), null);
  assert.deepEqual(await entryKeys(env, tp.id), ['0', '3', '6']);
});

test('trim of many entries splits into txns within the store limit and keeps start ahead of the entries', async (t) => {
  const env = await makeEnv(t);
  const owner = await openService(t, env);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await owner.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  // 300 flushes = 300 entries (> 2 txns of 128 ops).
  for (let i = 0; i < 300; i++) assert.equal((await owner.append(tp, 0, [batch([`v${i}`])])).errorCode, ErrorCode.NONE);
  const txns: number[] = [];
  const realTxn = env.store.txn.bind(env.store);
  env.store.txn = async (txn) => {
    txns.push(txn.success.length);
    return realTxn(txn);
  };
  t.after(() => {
    env.store.txn = realTxn;
  });
  assert.deepEqual(await owner.deleteRecords(tp.id, 0, 290), { errorCode: ErrorCode.NONE, lowWatermark: 290 });
  env.store.txn = realTxn;
  assert.deepEqual(txns, [128, 128, 35]);
  assert.equal((await entryKeys(env, tp.id)).length, 10);
  const read = await owner.read(tp.id, 0, 290, 1 << 20);
  assert.deepEqual(offsetsOf(read.records), [290, 291, 292, 293, 294, 295, 296, 297, 298, 299]);
});
