/**
 * Broker-computed timestamps through the real append path (LogService, embedded metadata store, memory
 * object store): what a client writes into the batch header's maxTimestamp is never trusted.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { MAX_TIMESTAMP_OFFSET, decodeRecordBatch, encodeRecordBatch, isLogAppendTime, maxTimestamp, validateBatch, writeCrc } from '../../protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { LogService, type LogServiceOptions, type TopicRef } from './log-service.ts';
import { retentionStart } from './retention-task.ts';

const log = pino({ level: 'silent' });
const NOW = 1_800_000_000_000;

async function openService(t: TestContext, extra: Partial<LogServiceOptions> = {}): Promise<LogService> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-ts-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const lease = await store.grantLease(10_000);
  const service = await LogService.open({ store, objects: new MemoryObjectStore(), log, brokerId: 1, lease, namespace: 'ns', flush: { lingerMs: 1 }, ...extra });
  t.after(async () => {
    await service.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return service;
}

/** A batch as sarama < 1.28 writes it: real record timestamps, -1 in the header's maxTimestamp. */
function sarama(timestamps: readonly number[], extra: Partial<Parameters<typeof encodeRecordBatch>[0]> = {}): Buffer {
  const b = encodeRecordBatch({ records: timestamps.map((ts, i) => ({ value: `v${i}`, timestamp: BigInt(ts) })), ...extra });
  b.writeBigInt64BE(-1n, MAX_TIMESTAMP_OFFSET);
  writeCrc(b);
  return b;
}

test('a batch whose header says maxTimestamp -1 is committed with its records\' real maximum; ListOffsets by time finds it', async (t) => {
  const service = await openService(t, { now: () => NOW });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [sarama([NOW - 3_000, NOW - 2_000])])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [sarama([NOW - 1_000, NOW - 500, NOW - 1_500])])).errorCode, ErrorCode.NONE);
  const state = service.owned(tp.id, 0)!.state;
  assert.deepEqual(state.entries.map((e) => e.maxTimestamp), [NOW - 2_000, NOW - 500]);
  // The stored batch carries the computed value, with a valid CRC.
  const stored = (await service.read(tp.id, 0, 2, 1 << 20)).records[0]!;
  assert.equal(maxTimestamp(stored), BigInt(NOW - 500));
  assert.equal(validateBatch(stored, { origin: 'stored' }), null);
  assert.deepEqual(await service.listOffsets(tp.id, 0, { timestampMs: NOW - 2_500 }), { errorCode: ErrorCode.NONE, offset: 1, timestampMs: NOW - 2_000, leaderEpoch: state.epochs.at(-1)!.epoch });
  assert.equal((await service.listOffsets(tp.id, 0, { timestampMs: NOW - 700 })).offset, 3);
  assert.equal((await service.listOffsets(tp.id, 0, 'maxTimestamp')).offset, 3);
  assert.equal((await service.listOffsets(tp.id, 0, { timestampMs: NOW })).offset, -1);
});

test('a record more than message.timestamp.after.max.ms ahead is refused with INVALID_TIMESTAMP, and cannot stall retention', async (t) => {
  const service = await openService(t, { now: () => NOW });
  const tp: TopicRef = { id: randomUUID(), configs: { 'retention.ms': '60000' } };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [sarama([NOW - 120_000])])).errorCode, ErrorCode.NONE);
  const future = await service.append(tp, 0, [sarama([NOW, NOW + 10 * 365 * 86_400_000])]);
  assert.equal(future.errorCode, ErrorCode.INVALID_TIMESTAMP);
  assert.deepEqual(future.recordErrors.map((e) => e.batchIndex), [1]);
  assert.match(future.errorMessage ?? '', /message\.timestamp\.after\.max\.ms/);
  assert.equal((await service.append(tp, 0, [sarama([NOW - 90_000])])).errorCode, ErrorCode.NONE);
  const state = service.owned(tp.id, 0)!.state;
  assert.equal(state.highWatermark, 2, 'the refused batch took no offsets');
  // Both entries are past retention.ms: nothing newer sits in front of them.
  assert.equal(retentionStart(state, 60_000, -1, NOW), 2);
  // A topic that raised after.max.ms to Long.MAX accepts it (as Kafka 3.x did by default).
  const lax: TopicRef = { id: randomUUID(), configs: { 'message.timestamp.after.max.ms': '9223372036854775807' } };
  assert.equal((await service.acquire(lax.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(lax, 0, [sarama([NOW + 86_400_000])])).errorCode, ErrorCode.NONE);
  // before.max.ms refuses old records.
  const strict: TopicRef = { id: randomUUID(), configs: { 'message.timestamp.before.max.ms': '1000' } };
  assert.equal((await service.acquire(strict.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(strict, 0, [sarama([NOW - 1_001])])).errorCode, ErrorCode.INVALID_TIMESTAMP);
});

test('message.timestamp.type=LogAppendTime: the broker stamps its time on the batch, the entry and the answer', async (t) => {
  const service = await openService(t, { now: () => NOW });
  const tp: TopicRef = { id: randomUUID(), configs: { 'message.timestamp.type': 'LogAppendTime' } };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const result = await service.append(tp, 0, [sarama([1_000, 2_000], { compression: 'zstd' })]);
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.equal(result.logAppendTimeMs, NOW);
  assert.equal(service.owned(tp.id, 0)!.state.entries[0]!.maxTimestamp, NOW);
  const stored = (await service.read(tp.id, 0, 0, 1 << 20)).records[0]!;
  assert.equal(isLogAppendTime(stored), true);
  assert.equal(validateBatch(stored, { origin: 'stored' }), null);
  assert.deepEqual(decodeRecordBatch(stored).records.map((r) => Number(r.timestamp)), [NOW, NOW]);
});

test('producer-state expiry measures idleness from the computed timestamps, not the header\'s -1', async (t) => {
  let now = NOW;
  const service = await openService(t, { now: () => now, producerIdExpirationMs: 600_000 });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const idem = (): Buffer => sarama([NOW], { producerId: 7n, producerEpoch: 0, baseSequence: 0 });
  assert.equal((await service.append(tp, 0, [idem()])).errorCode, ErrorCode.NONE);
  assert.equal(service.owned(tp.id, 0)!.producers.get(7n)?.lastTimestampMs, NOW);
  now += 120_000; // past the expiry scan interval, well inside producer.id.expiration.ms
  const retry = await service.append(tp, 0, [idem()]);
  assert.equal(retry.duplicate, true, 'the retry is still recognised');
  assert.equal(service.owned(tp.id, 0)!.state.highWatermark, 1);
});

test('retention: an entry without record timestamps goes with the next older-than-retention entry, and stays before a fresh one', async (t) => {
  const service = await openService(t, { now: () => NOW });
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (const ts of [-1, NOW - 120_000, -1, NOW - 1_000]) {
    assert.equal((await service.append(tp, 0, [encodeRecordBatch({ records: [{ value: 'x', timestamp: BigInt(ts) }] })])).errorCode, ErrorCode.NONE);
  }
  const state = service.owned(tp.id, 0)!.state;
  assert.deepEqual(state.entries.map((e) => e.maxTimestamp), [-1, NOW - 120_000, -1, NOW - 1_000]);
  assert.equal(retentionStart(state, 60_000, -1, NOW), 2);
  assert.equal(retentionStart(state, 500, -1, NOW), 4);
  assert.equal(retentionStart(state, 200_000, -1, NOW), 0);
});
