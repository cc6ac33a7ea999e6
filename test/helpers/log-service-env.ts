/**
 * What the LogService tests (src/services/log/log-service.test.ts, log-reader.test.ts) share: a real embedded metadata store and a memory object store that records
 * PUTs (and can hold or fail them), a service that checks the write-path invariants after every commit,
 * and record batches built from strings.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../src/storage/meta/embedded-metadata-store.ts';
import type { MetadataStore } from '../../src/storage/meta/metadata-store.ts';
import { MemoryObjectStore, type ObjectStoreOperation } from '../../src/storage/object/memory-object-store.ts';
import type { ObjectStore } from '../../src/storage/object/object-store.ts';
import { LogService, type LogServiceOptions, type TopicRef } from '../../src/services/log/log-service.ts';

export const log = pino({ level: 'silent' });

export interface Env {
  store: EmbeddedMetadataStore;
  objects: MemoryObjectStore;
  puts: string[];
  /** Set to make the next PUTs wait on / fail with this. */
  putHook: ((key: string) => Promise<void>) | null;
}

export async function makeEnv(t: TestContext): Promise<Env> {
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

export async function openService(t: TestContext, store: MetadataStore, objects: ObjectStore, extra: Partial<LogServiceOptions> = {}): Promise<LogService> {
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

export function topic(configs: Record<string, string> = {}): TopicRef {
  return { id: randomUUID(), configs };
}

export function batch(values: readonly string[], timestamp = 1_000n): Buffer {
  return encodeRecordBatch({ records: values.map((value, i) => ({ value, timestamp: timestamp + BigInt(i) })) });
}

export function valuesOf(records: readonly Buffer[]): string[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

export function offsetsOf(records: readonly Buffer[]): number[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => Number(r.offset)));
}

export async function acquire(service: LogService, t: TopicRef, partition: number): Promise<void> {
  const result = await service.acquire(t.id, partition);
  assert.equal(result.errorCode, ErrorCode.NONE);
}
