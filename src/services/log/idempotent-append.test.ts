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
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { LogService, type LogServiceOptions, type TopicRef } from './log-service.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';

const log = pino({ level: 'silent' });

interface Env {
  dir: string;
  store: EmbeddedMetadataStore;
  objects: MemoryObjectStore;
  putHook: (() => Promise<void>) | null;
}

async function makeEnv(t: TestContext): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-idem-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const env: Env = { dir, store, objects: null as unknown as MemoryObjectStore, putHook: null };
  env.objects = new MemoryObjectStore({
    beforeOperation: async (operation) => {
      if (operation === 'put' && env.putHook !== null) await env.putHook();
    },
  });
  t.after(async () => {
    await env.store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return env;
}

async function openService(t: TestContext, env: Env, extra: Partial<LogServiceOptions> = {}): Promise<LogService> {
  const lease = await env.store.grantLease(10_000);
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 1, lease, namespace: 'ns', flush: { lingerMs: 1 }, ...extra });
  t.after(() => service.close());
  return service;
}

/** A fresh buffer each call, as a client's retry carries its own bytes. */
function idem(pid: bigint, epoch: number, seq: number, values: readonly string[], timestamp = Date.now()): Buffer {
  return encodeRecordBatch({
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: seq,
    records: values.map((value, i) => ({ value, timestamp: BigInt(timestamp + i) })),
  });
}

async function values(service: LogService, tp: TopicRef): Promise<string[]> {
  const read = await service.read(tp.id, 0, 0, 1 << 20);
  return read.records.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

async function setup(t: TestContext, extra: Partial<LogServiceOptions> = {}): Promise<{ env: Env; service: LogService; tp: TopicRef }> {
  const env = await makeEnv(t);
  const service = await openService(t, env, extra);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  return { env, service, tp };
}

test('in-order batches append; an exact retry of one of the last 5 returns its original offset and appends nothing', async (t) => {
  const { service, tp } = await setup(t);
  const pid = 42n;
  const offsets: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await service.append(tp, 0, [idem(pid, 0, i * 2, [`v${i}a`, `v${i}b`])]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.duplicate, undefined);
    offsets.push(r.baseOffset);
  }
  assert.deepEqual(offsets, [0, 2, 4, 6, 8, 10, 12]);
  // Batches 2..6 are remembered (the last 5).
  for (const i of [2, 4, 6]) {
    const retry = await service.append(tp, 0, [idem(pid, 0, i * 2, [`v${i}a`, `v${i}b`])]);
    assert.equal(retry.errorCode, ErrorCode.NONE);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, offsets[i]);
  }
  // Batch 1 is older than the last 5: not a duplicate any more, and its sequence is out of order.
  const old = await service.append(tp, 0, [idem(pid, 0, 2, ['v1a', 'v1b'])]);
  assert.equal(old.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await service.offsets(tp.id, 0)).highWatermark, 14);
});

test('sequence gaps, stale epochs and new epochs follow Kafka rules; plain batches are never checked', async (t) => {
  const { service, tp } = await setup(t);
  assert.equal((await service.append(tp, 0, [idem(7n, 3, 0, ['a'])])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [idem(7n, 3, 2, ['gap'])])).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await service.append(tp, 0, [idem(7n, 2, 1, ['stale'])])).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal((await service.append(tp, 0, [idem(7n, 4, 5, ['new epoch, not at 0'])])).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await service.append(tp, 0, [idem(7n, 4, 0, ['b'])])).errorCode, ErrorCode.NONE);
  // The old epoch is fenced now, even for what would have been its next sequence.
  assert.equal((await service.append(tp, 0, [idem(7n, 3, 1, ['c'])])).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  // An unknown producer starts anywhere (KIP-360: no UNKNOWN_PRODUCER_ID from the broker).
  assert.equal((await service.append(tp, 0, [idem(8n, 0, 17, ['d'])])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [idem(8n, 0, 18, ['e'])])).errorCode, ErrorCode.NONE);
  // Sequences wrap from int32 max to 0.
  assert.equal((await service.append(tp, 0, [idem(9n, 0, 0x7fffffff, ['f'])])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [idem(9n, 0, 0, ['g'])])).errorCode, ErrorCode.NONE);
  const plain = encodeRecordBatch({ records: [{ value: 'plain', timestamp: 1n }] });
  assert.equal((await service.append(tp, 0, [plain])).errorCode, ErrorCode.NONE);
  assert.deepEqual(await values(service, tp), ['a', 'b', 'd', 'e', 'f', 'g', 'plain']);
});

test('a retry while the original is still in flight waits for it and answers with its offset', async (t) => {
  const { env, service, tp } = await setup(t);
  let release!: () => void;
  env.putHook = () => new Promise<void>((resolve) => {
    release = resolve;
  });
  const original = service.append(tp, 0, [idem(1n, 0, 0, ['x'])]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const retry = service.append(tp, 0, [idem(1n, 0, 0, ['x'])]);
  env.putHook = null;
  release();
  const [o, r] = await Promise.all([original, retry]);
  assert.equal(o.errorCode, ErrorCode.NONE);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.duplicate, true);
  assert.equal(r.baseOffset, o.baseOffset);
  assert.deepEqual(await values(service, tp), ['x']);
});

test('a failed write rolls the producer state back: the retry is appended, not mistaken for a duplicate', async (t) => {
  const { env, service, tp } = await setup(t);
  assert.equal((await service.append(tp, 0, [idem(5n, 0, 0, ['a'])])).errorCode, ErrorCode.NONE);
  env.putHook = async () => {
    throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'injected', { retriable: true });
  };
  const failed = await service.append(tp, 0, [idem(5n, 0, 1, ['b'])]);
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  env.putHook = null;
  const retried = await service.append(tp, 0, [idem(5n, 0, 1, ['b'])]);
  assert.equal(retried.errorCode, ErrorCode.NONE);
  assert.equal(retried.duplicate, undefined);
  assert.equal(retried.baseOffset, 1);
  assert.deepEqual(await values(service, tp), ['a', 'b']);
});

test('producer state is durable with the log entries: a new owner after a crash de-duplicates retries', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  const first = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 1, lease: await env.store.grantLease(10_000), namespace: 'ns', flush: { lingerMs: 1 } });
  t.after(() => first.close());
  assert.equal((await first.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 3; i++) assert.equal((await first.append(tp, 0, [idem(11n, 2, i, [`r${i}`])])).baseOffset, i);
  // A crash: the first service is never closed; its ownership goes away as an expired lease would.
  await env.store.deletePrefix(MetaKeys.partitionOwner(tp.id, 0));
  const second = await openService(t, env);
  assert.equal((await second.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const retry = await second.append(tp, 0, [idem(11n, 2, 2, ['r2'])]);
  assert.equal(retry.errorCode, ErrorCode.NONE);
  assert.equal(retry.duplicate, true);
  assert.equal(retry.baseOffset, 2);
  assert.equal((await second.append(tp, 0, [idem(11n, 2, 4, ['gap'])])).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await second.append(tp, 0, [idem(11n, 1, 3, ['stale'])])).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal((await second.append(tp, 0, [idem(11n, 2, 3, ['r3'])])).baseOffset, 3);
  assert.deepEqual(await values(second, tp), ['r0', 'r1', 'r2', 'r3']);
  assert.deepEqual([...second.owned(tp.id, 0)!.producers.entries()].map((e) => [e.producerId, e.epoch, e.batches.at(-1)?.lastSeq]), [[11n, 2, 3]]);
});

test('producers idle longer than producer.id.expiration.ms are forgotten, also when a new owner rebuilds', async (t) => {
  let now = 1_000_000;
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  const service = await openService(t, env, { producerIdExpirationMs: 10_000, now: () => now });
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [idem(3n, 0, 0, ['old'], now)])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [idem(4n, 0, 0, ['young'], now + 9_000)])).errorCode, ErrorCode.NONE);
  now += 10_500;
  // Producer 3 expired: its retry is no longer recognised (as in Kafka), producer 4's still is.
  assert.equal((await service.append(tp, 0, [idem(4n, 0, 0, ['young'], now - 1_500)])).duplicate, true);
  assert.equal(service.owned(tp.id, 0)!.producers.get(3n), undefined);
  await service.release(tp.id, 0);
  const rebuilt = await service.acquire(tp.id, 0);
  assert.ok('log' in rebuilt);
  assert.equal(rebuilt.log.producers.get(3n), undefined);
  assert.equal(rebuilt.log.producers.get(4n)?.batches.length, 1);
});
