/**
 * Retention, object collection and DeleteTopics data removal against the real LogService, the embedded
 * metadata store and the memory object store: old objects disappear, shared objects stay while any
 * partition references them, and reads stay correct across every change.
 */
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
import { MetaKeys } from '../cluster/meta-keys.ts';
import { LogService, type TopicRef } from './log-service.ts';
import { ObjectCollector, type ObjectCollectorOptions } from './object-collector.ts';
import { RetentionTask } from './retention-task.ts';

const log = pino({ level: 'silent' });
const NS = 'test-ns';

interface Env {
  store: EmbeddedMetadataStore;
  objects: MemoryObjectStore;
  lease: Lease;
  service: LogService;
}

async function makeEnv(t: TestContext): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-retention-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const objects = new MemoryObjectStore();
  const lease = await store.grantLease(10_000);
  const service = await LogService.open({ store, objects, log, brokerId: 1, lease, namespace: NS, flush: { lingerMs: 1 } });
  t.after(async () => {
    await service.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, objects, lease, service };
}

function collector(env: Env, extra: Partial<ObjectCollectorOptions> = {}): ObjectCollector {
  return new ObjectCollector({ store: env.store, objects: env.objects, log, brokerId: 1, lease: env.lease, namespace: NS, orphanGraceMs: 0, deleteDelayMs: 0, ...extra });
}

function batch(values: readonly string[], timestampMs: number): Buffer {
  return encodeRecordBatch({ records: values.map((value) => ({ value, timestamp: BigInt(timestampMs) })) });
}

function valuesOf(records: readonly Buffer[]): string[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

async function walKeys(objects: MemoryObjectStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of objects.list(`${NS}/wal/`)) keys.push(info.key);
  return keys;
}

async function produce(env: Env, tp: TopicRef, partition: number, values: readonly string[], timestampMs: number): Promise<void> {
  const r = await env.service.append(tp, partition, [batch(values, timestampMs)]);
  assert.equal(r.errorCode, ErrorCode.NONE);
}

test('retention.ms drops expired entries from the front; the collector then deletes their objects; reads stay correct', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: { 'retention.ms': '1000' } };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  await produce(env, tp, 0, ['a', 'b'], 1_000);
  await produce(env, tp, 0, ['c', 'd'], 2_000);
  await produce(env, tp, 0, ['e', 'f'], 3_000);
  const objectsBefore = await walKeys(env.objects);
  assert.equal(objectsBefore.length, 3);

  let nowMs = 2_500; // cutoff 1_500: only the first entry has expired
  const retention = new RetentionTask({ logs: env.service, topicConfigs: (id) => (id === tp.id ? tp.configs : undefined), log, now: () => nowMs });
  t.after(() => retention.close());
  assert.equal(await retention.runOnce(), 1);
  assert.deepEqual(await env.service.offsets(tp.id, 0), { highWatermark: 6, logStartOffset: 2 });
  assert.equal((await env.service.read(tp.id, 0, 0, 1 << 20)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.deepEqual(valuesOf((await env.service.read(tp.id, 0, 2, 1 << 20)).records), ['c', 'd', 'e', 'f']);
  assert.equal((await env.service.listOffsets(tp.id, 0, 'earliest')).offset, 2);
  // Nothing more has expired: a second pass changes nothing.
  assert.equal(await retention.runOnce(), 0);

  const gc = collector(env);
  const first = await gc.runOnce();
  assert.equal(first.deletedObjects, 1);
  assert.deepEqual(await walKeys(env.objects), objectsBefore.slice(1));
  // Reads after the swap still come from the remaining objects (a fresh reader has no cache).
  const fresh = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 2, lease: await env.store.grantLease(10_000), namespace: NS });
  t.after(() => fresh.close());
  assert.deepEqual(valuesOf((await fresh.read(tp.id, 0, 2, 1 << 20)).records), ['c', 'd', 'e', 'f']);

  nowMs = 10_000; // everything expired: the log empties, the log end stays
  assert.equal(await retention.runOnce(), 1);
  assert.deepEqual(await env.service.offsets(tp.id, 0), { highWatermark: 6, logStartOffset: 6 });
  assert.equal((await gc.runOnce()).deletedObjects, 2);
  assert.deepEqual(await walKeys(env.objects), []);
  await produce(env, tp, 0, ['g'], 10_000);
  assert.deepEqual(valuesOf((await env.service.read(tp.id, 0, 6, 1 << 20)).records), ['g']);
});

test('retention.bytes keeps the newest entries within the limit', async (t) => {
  const env = await makeEnv(t);
  const configs: Record<string, string> = {};
  const tp: TopicRef = { id: randomUUID(), configs };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 5; i++) await produce(env, tp, 0, [`v${i}`.padEnd(100, 'x')], Date.now());
  const state = env.service.owned(tp.id, 0)?.state;
  assert.ok(state !== undefined);
  const entryBytes = (state.entries[0]?.byteEnd ?? 0) - (state.entries[0]?.byteStart ?? 0);
  // Room for two entries and a half: the newest two stay (Kafka's rule: delete while size - oldest ≥ limit).
  configs['retention.bytes'] = String(Math.floor(entryBytes * 2.5));
  const retention = new RetentionTask({ logs: env.service, topicConfigs: () => tp.configs, log });
  assert.equal(await retention.runOnce(), 1);
  assert.deepEqual(await env.service.offsets(tp.id, 0), { highWatermark: 5, logStartOffset: 2 });
  assert.equal(state.entries.length, 3);
  configs['retention.bytes'] = String(entryBytes * 2);
  assert.equal(await retention.runOnce(), 1);
  assert.equal(state.entries.length, 2);
  assert.equal(state.logStartOffset, 3);
});

test('a WAL object shared by partitions stays until no partition references it; orphans wait for the grace period', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  for (const p of [0, 1]) assert.equal((await env.service.acquire(tp.id, p)).errorCode, ErrorCode.NONE);
  // One flush, two partitions, one object.
  await Promise.all([produce(env, tp, 0, ['p0'], 1_000), produce(env, tp, 1, ['p1'], 1_000)]);
  const shared = await walKeys(env.objects);
  assert.equal(shared.length, 1);
  // An upload that was never committed (crash between PUT and commit).
  const orphan = `${NS}/wal/0000000000001-0000000009-deadbeef-0000000001.wal`;
  await env.objects.put(orphan, Buffer.from('orphan'));

  let nowMs = Date.now();
  const gc = collector(env, { orphanGraceMs: 60_000, deleteDelayMs: 30_000, now: () => nowMs });
  assert.equal((await env.service.deleteRecords(tp.id, 0, -1)).errorCode, ErrorCode.NONE);
  assert.equal((await gc.runOnce()).deletedObjects, 0); // first seen now: it may be an upload whose commit runs
  nowMs += 59_000;
  assert.equal((await gc.runOnce()).deletedObjects, 0); // unreferenced for less than the grace period
  nowMs += 2_000;
  assert.equal((await gc.runOnce()).deletedObjects, 1);
  assert.deepEqual(await walKeys(env.objects), shared); // partition 1 still references the shared object
  assert.deepEqual(valuesOf((await env.service.read(tp.id, 1, 0, 1 << 20)).records), ['p1']);

  assert.equal((await env.service.deleteRecords(tp.id, 1, -1)).errorCode, ErrorCode.NONE);
  assert.equal((await gc.runOnce()).deletedObjects, 0);
  nowMs += 31_000;
  assert.equal((await gc.runOnce()).deletedObjects, 1);
  assert.deepEqual(await walKeys(env.objects), []);
});

test('DeleteTopics: the collector removes the partition metadata, fences the owner, then the objects and the marker', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  const kept: TopicRef = { id: randomUUID(), configs: {} };
  for (const p of [0, 1, 2]) assert.equal((await env.service.acquire(tp.id, p)).errorCode, ErrorCode.NONE);
  assert.equal((await env.service.acquire(kept.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 3; i++) await Promise.all([0, 1, 2].map((p) => produce(env, tp, p, [`${p}-${i}`], 1_000)));
  await produce(env, kept, 0, ['kept'], 1_000);
  const before = await walKeys(env.objects);
  assert.equal(before.length, 4);
  await env.store.put(MetaKeys.deletedTopic(tp.id), Buffer.from(JSON.stringify({ name: 'gone', id: tp.id, deletedMs: 1 })));

  let nowMs = Date.now();
  const gc = collector(env, { orphanGraceMs: 1_000, now: () => nowMs });
  const first = await gc.runOnce();
  assert.ok(first.deletedPartitionKeys >= 3 * 5, `deleted ${first.deletedPartitionKeys} keys`);
  assert.equal((await env.store.range(MetaKeys.partitionsOfTopicPrefix(tp.id))).kvs.length, 0);
  assert.equal(first.deletedObjects, 0, 'objects are younger than the grace period');
  // The owner can never commit into the deleted topic again.
  const late = await env.service.append(tp, 0, [batch(['late'], 1_000)]);
  assert.equal(late.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal((await env.store.range(MetaKeys.partitionsOfTopicPrefix(tp.id))).kvs.length, 0);

  nowMs += 2_000;
  const second = await gc.runOnce();
  // Three flushes held only the deleted topic; the refused late append left an orphan (PUT, commit
  // refused), which this collector sees for the first time now: it waits for its own grace period.
  assert.equal(second.deletedObjects, 3);
  assert.equal(second.deletedTopicMarkers, 1);
  nowMs += 2_000;
  assert.equal((await gc.runOnce()).deletedObjects, 1);
  assert.equal(await env.store.get(MetaKeys.deletedTopic(tp.id)), null);
  const after = await walKeys(env.objects);
  assert.equal(after.length, 1);
  assert.deepEqual(valuesOf((await env.service.read(kept.id, 0, 0, 1 << 20)).records), ['kept']);
});

test('one collector at a time: the role follows the session lease', async (t) => {
  const env = await makeEnv(t);
  const otherLease = await env.store.grantLease(10_000);
  const mine = collector(env);
  const theirs = new ObjectCollector({ store: env.store, objects: env.objects, log, brokerId: 2, lease: otherLease, namespace: NS });
  assert.equal((await mine.runOnce()).ran, true);
  assert.equal((await theirs.runOnce()).ran, false);
  await env.lease.revoke();
  assert.equal((await theirs.runOnce()).ran, true);
  await otherLease.revoke();
});
