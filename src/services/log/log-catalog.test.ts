/**
 * Partition state never moves to an older revision than it has applied (issue 10, item 6): a slow range
 * read must not undo a newer commit, and the load after an acquire is at or after the acquire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { FaultyMetadataStore, batchOf, embeddedStore, recordsOf, silentLog, until } from '../../../test/helpers/log-faults.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { LogCatalog } from './log-catalog.ts';
import { encodeLogEntry, type LogEntry } from './log-entry.ts';
import { LogService } from './log-service.ts';

function entry(baseOffset: number, lastOffset: number): LogEntry {
  return { baseOffset, lastOffset, objectKey: 'ns/wal/x.wal', byteStart: 0, byteEnd: 10, maxTimestamp: 1, batchCount: 1, epoch: 1 };
}

test('a reload whose range read is older than a commit applied meanwhile does not take the commit back', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const catalog = await LogCatalog.open(faulty.store, silentLog);
  t.after(() => catalog.close());
  const topicId = randomUUID();
  const state = await catalog.state(topicId, 0);
  const firstKey = MetaKeys.partitionLogEntry(topicId, 0, 0);
  const firstRev = await inner.put(firstKey, encodeLogEntry(entry(0, 4)));
  await until(() => state.highWatermark === 5, 'the first entry by watch');

  faulty.holdRanges = true;
  faulty.holdWatch = true; // the watch lags: its copy of the commit arrives after the reload
  const reload = catalog.reload(topicId, 0); // the range snapshot is taken now: entry 0..4 only
  await until(() => faulty.heldRanges.length === 1, 'the held range read');
  // The owner commits 5..9 and applies it at once (read-your-writes), as PartitionLog.committed does.
  const rev = await inner.put(MetaKeys.partitionLogEntry(topicId, 0, 5), encodeLogEntry(entry(5, 9)));
  assert.ok(rev > firstRev);
  state.applyEntry(5, entry(5, 9), rev);
  assert.equal(state.highWatermark, 10);
  faulty.heldRanges[0]!.release();
  assert.equal(await reload, state);
  assert.equal(state.highWatermark, 10, 'the older range read did not move the high watermark back');
  assert.equal(state.checkEntries(), null);
  faulty.deliverWatchEvents();
  assert.equal(state.highWatermark, 10);

  // A key deleted before a newer range read is dropped by it (the read is authoritative for older keys).
  faulty.holdRanges = false;
  await inner.delete(firstKey);
  await inner.put(MetaKeys.partitionLogStart(topicId, 0), Buffer.from(JSON.stringify({ logStartOffset: 5 })));
  faulty.holdWatch = true; // the deletion reaches the state only through the reload
  await catalog.reload(topicId, 0);
  assert.deepEqual(state.entries.map((e) => e.baseOffset), [5]);
  assert.equal(state.logStartOffset, 5);
  faulty.deliverWatchEvents();
});

test('the load after an acquire is at or after the acquire, never a load started before it', async (t) => {
  const inner = await embeddedStore(t);
  const faulty = new FaultyMetadataStore(inner);
  const objects = new MemoryObjectStore();
  const open = async (store: typeof inner | typeof faulty.store, brokerId: number): Promise<LogService> => {
    const service = await LogService.open({ store, objects, log: silentLog, brokerId, lease: await store.grantLease(10_000), namespace: 'ns', merge: false, flush: { lingerMs: 0 } });
    t.after(() => service.close());
    return service;
  };
  const a = await open(inner, 1);
  const b = await open(faulty.store, 2);
  const tp = { id: randomUUID(), configs: {} };
  assert.equal((await a.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);

  // B starts loading the partition (a Fetch) before A's last commit; its answer is slow, its watch lags.
  faulty.holdRanges = true;
  faulty.holdWatch = true;
  const fetch = b.read(tp.id, 0, 0, 1 << 20);
  await until(() => faulty.heldRanges.length === 1, 'the held range read');
  faulty.holdRanges = false;
  assert.equal((await a.append(tp, 0, [batchOf('a', 3)])).baseOffset, 0);
  await a.release(tp.id, 0); // a handover: A's owner key is gone, B may acquire

  const acquired = b.acquire(tp.id, 0);
  await new Promise((resolve) => setTimeout(resolve, 30));
  faulty.heldRanges[0]!.release();
  const result = await acquired;
  assert.equal(result.errorCode, ErrorCode.NONE);
  const log = b.owned(tp.id, 0)!;
  assert.equal(log.state.highWatermark, 3, 'the new owner sees every commit before its acquire');
  assert.deepEqual(log.state.epochs.at(-1), { epoch: log.epoch, startOffset: 3 }, 'epoch start offset = the true log end');
  const next = await b.append(tp, 0, [batchOf('b', 1)]);
  assert.equal(next.errorCode, ErrorCode.NONE);
  assert.equal(next.baseOffset, 3);
  await fetch;
  faulty.deliverWatchEvents();
  const read = await b.read(tp.id, 0, 0, 1 << 20);
  assert.deepEqual(recordsOf(read.records), [[0, 'a-0'], [1, 'a-1'], [2, 'a-2'], [3, 'b-0']]);
  assert.equal((await b.epochEndOffset(tp.id, 0, log.epoch - 1)).endOffset, 3, 'no false truncation for the previous epoch');
});
