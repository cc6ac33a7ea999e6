/**
 * The flush path with the WAL trailer CRC combined from batch CRCs (crc32c-combine.ts): appends are
 * answered only after the PUT and the commit, every stored object's checksum holds, and a corrupt batch
 * is refused before it reaches a flush.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeRecordBatch } from '../../protocol/records/index.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { ControlledObjects, embeddedStore, recordsOf, silentLog } from '../../../test/helpers/log-faults.ts';
import { LogService, type TopicRef } from './log-service.ts';
import type { AppendResult } from './partition-log.ts';
import { decodeWalObject } from './wal-object.ts';

async function open(t: TestContext, store: MetadataStore, objects: ObjectStore, brokerId = 1): Promise<LogService> {
  const lease = await store.grantLease(10_000);
  const service = await LogService.open({ store, objects, log: silentLog, brokerId, lease, namespace: 'ns', merge: false, flush: { lingerMs: 0 } });
  t.after(() => service.close());
  return service;
}

/** A batch of `count` records of `valueBytes` each: ≥ 8 KiB takes the combined-CRC path. */
function bigBatch(prefix: string, count: number, valueBytes: number): Buffer {
  return encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ value: `${prefix}-${i}-`.padEnd(valueBytes, 'v'), timestamp: 1_000n + BigInt(i) })) });
}

function settledFlag(promise: Promise<AppendResult>): { settled: boolean } {
  const flag = { settled: false };
  void promise.then(() => {
    flag.settled = true;
  });
  return flag;
}

test('large and small batches: nothing is answered while the PUT is held; the object then verifies and reads back', async (t) => {
  const store = await embeddedStore(t);
  const controlled = new ControlledObjects();
  const service = await open(t, store, controlled.objects);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.acquire(tp.id, 1)).errorCode, ErrorCode.NONE);
  controlled.holdPuts = true;

  const big = bigBatch('big', 40, 1_000); // ~40 KB
  const small = bigBatch('small', 2, 10);
  const a = service.append(tp, 0, [big, small]);
  const b = service.append(tp, 1, [bigBatch('other', 20, 2_000)]);
  const flagA = settledFlag(a);
  const flagB = settledFlag(b);
  const [held] = await controlled.waitForHeld(1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(flagA.settled || flagB.settled, false, 'no append is answered before its object is durable');

  held!.release();
  const [resultA, resultB] = await Promise.all([a, b]);
  assert.equal(resultA.errorCode, ErrorCode.NONE);
  assert.equal(resultB.errorCode, ErrorCode.NONE);
  assert.equal(resultA.baseOffset, 0);

  // The stored object's trailer is the CRC32C of its bytes (decodeWalObject recomputes it in full).
  const object = await controlled.objects.get(held!.key);
  const decoded = decodeWalObject(object);
  assert.equal(decoded.directory.length, 2);

  const reader = await open(t, store, controlled.objects, 9);
  const read = await reader.read(tp.id, 0, 0, 64 << 20);
  const values = recordsOf(read.records).map(([offset, value]) => `${offset}:${value.slice(0, 6)}`);
  assert.deepEqual(values.slice(0, 2), ['0:big-0-', '1:big-1-']);
  assert.equal(values.length, 42);
});

test('a large batch with one flipped byte is refused with CORRUPT_MESSAGE and never reaches a WAL object', async (t) => {
  const store = await embeddedStore(t);
  const controlled = new ControlledObjects();
  const service = await open(t, store, controlled.objects);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);

  const corrupt = bigBatch('c', 30, 1_000);
  corrupt[corrupt.length - 100]! ^= 0x04;
  const refused = await service.append(tp, 0, [corrupt]);
  assert.equal(refused.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal(refused.baseOffset, -1);
  await service.pipeline.drain();
  assert.deepEqual(controlled.puts, [], 'no WAL PUT for a refused append');

  // The offset was not consumed: the next good batch gets offset 0.
  const good = await service.append(tp, 0, [bigBatch('g', 30, 1_000)]);
  assert.equal(good.errorCode, ErrorCode.NONE);
  assert.equal(good.baseOffset, 0);
});
