/**
 * A LogService on the embedded metadata store and a memory (or filesystem) object store, with its own
 * merger off, for tests that drive SegmentMerger themselves (segment-merger.test.ts, merge-priority.test.ts).
 */
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../src/storage/meta/embedded-metadata-store.ts';
import type { Lease } from '../../src/storage/meta/metadata-store.ts';
import { FsObjectStore } from '../../src/storage/object/fs-object-store.ts';
import { MemoryObjectStore } from '../../src/storage/object/memory-object-store.ts';
import type { ObjectStore } from '../../src/storage/object/object-store.ts';
import { LogService, type TopicRef } from '../../src/services/log/log-service.ts';
import { ObjectCollector } from '../../src/services/log/object-collector.ts';
import { SegmentMerger, type MergePolicy, type SegmentMergerOptions } from '../../src/services/log/segment-merger.ts';

export const log = pino({ level: 'silent' });
export const NS = 'test-ns';

export interface Env {
  store: EmbeddedMetadataStore;
  objects: ObjectStore;
  lease: Lease;
  service: LogService;
  /** Bytes returned by object GETs (to show segment reads GET a block, not the whole segment). */
  gotBytes: number;
}

export async function makeEnv(t: TestContext, kind: 'memory' | 'filesystem' = 'memory'): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-merge-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const env = { store, gotBytes: 0 } as Env;
  const objects: ObjectStore = kind === 'memory' ? new MemoryObjectStore() : await new FsObjectStore({ root: join(dir, 'objects'), fsync: false }).open();
  const get = objects.get.bind(objects);
  objects.get = async (key, options) => {
    const data = await get(key, options);
    env.gotBytes += data.length;
    return data;
  };
  env.objects = objects;
  env.lease = await store.grantLease(10_000);
  const violations: string[] = [];
  // The service's own background merger is off: these tests drive merges themselves (one test below checks it).
  env.service = await LogService.open({
    store, objects, log, brokerId: 1, lease: env.lease, namespace: NS, flush: { lingerMs: 0 }, merge: false,
    // Merges must keep the write-path invariants (storage.md): checked after every commit.
    invariantHook: (partitionLog, violation) => violations.push(`${partitionLog.topicId}/${partitionLog.partition}: ${violation}`),
  });
  t.after(async () => {
    await env.service.close();
    assert.deepEqual(violations, [], 'no write-path invariant was violated');
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return env;
}

export function merger(env: Env, extra: Partial<SegmentMergerOptions> = {}, policy: Partial<MergePolicy> = {}): SegmentMerger {
  return new SegmentMerger({
    logs: env.service,
    store: env.store,
    objects: env.objects,
    log,
    namespace: NS,
    topicConfigs: () => ({}),
    policy: { maxWalEntries: 4, ...policy },
    indexIntervalBytes: 300,
    ...extra,
  });
}

export function collector(env: Env): ObjectCollector {
  return new ObjectCollector({ store: env.store, objects: env.objects, log, brokerId: 1, lease: env.lease, namespace: NS, orphanGraceMs: 0, deleteDelayMs: 0 });
}

export function batch(values: readonly string[]): Buffer {
  return encodeRecordBatch({ records: values.map((value) => ({ value, timestamp: 1_000n })) });
}

export async function produce(env: Env, tp: TopicRef, values: readonly string[]): Promise<void> {
  const r = await env.service.append(tp, 0, [batch(values)]);
  assert.equal(r.errorCode, ErrorCode.NONE);
}

/** Every batch from offset 0, read one small fetch at a time (exercises block boundaries). */
export async function readAll(service: LogService, tp: TopicRef, maxBytes = 1): Promise<Buffer> {
  const out: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = await service.read(tp.id, 0, offset, maxBytes);
    assert.equal(r.errorCode, ErrorCode.NONE);
    if (r.records.length === 0) break;
    for (const b of r.records) {
      out.push(b);
      offset = Number(b.readBigInt64BE(0)) + b.readInt32BE(23) + 1;
    }
  }
  return Buffer.concat(out);
}

export function values(data: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < data.length;) {
    const size = data.readInt32BE(at + 8) + 12;
    out.push(...decodeRecordBatch(data.subarray(at, at + size)).records.map((r) => r.value?.toString() ?? ''));
    at += size;
  }
  return out;
}

export async function keys(objects: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of objects.list(`${NS}/${prefix}`)) out.push(info.key);
  return out;
}

export async function freshReader(t: TestContext, env: Env): Promise<LogService> {
  const other = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 2, lease: await env.store.grantLease(10_000), namespace: NS });
  t.after(() => other.close());
  return other;
}
