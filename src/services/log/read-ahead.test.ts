/**
 * Read-ahead (read-ahead.ts) and the log reader's use of it: the byte budget holds at every moment, GETs
 * stay bounded, read-ahead stops with its reader, merged or trimmed entries are never answered with stale
 * bytes, and a failed read-ahead falls back to a direct read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { decodeRecordBatch, encodeRecordBatch, patchBaseOffset } from '../../protocol/records/index.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import type { GetOptions } from '../../storage/object/object-store.ts';
import type { LogEntry } from './log-entry.ts';
import { LogReader } from './log-reader.ts';
import { PartitionState } from './partition-state.ts';
import { ReadAhead, type ObjectSpan } from './read-ahead.ts';
import { encodeSegment } from './segment-format.ts';

const log = pino({ level: 'silent' });

/** A loader whose GETs wait until the test settles them. */
class HeldLoads {
  readonly pending: { span: ObjectSpan; signal: AbortSignal; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  maxInFlight = 0;
  inFlight = 0;
  readonly load = (span: ObjectSpan, signal: AbortSignal): Promise<Buffer> => {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<Buffer>((resolve, reject) => {
      const done = (): void => {
        this.inFlight--;
      };
      this.pending.push({
        span,
        signal,
        resolve: (b) => {
          done();
          resolve(b);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      signal.addEventListener('abort', () => {
        done();
        reject(signal.reason as Error);
      }, { once: true });
    });
  };

  /** Resolves the oldest GET still waiting with bytes of its span's size. */
  settleNext(): ObjectSpan {
    const next = this.pending.shift();
    assert.ok(next !== undefined, 'a GET is waiting');
    next.resolve(Buffer.alloc(next.span.end - next.span.start, 1));
    return next.span;
  }
}

const span = (objectKey: string, start: number, end: number): ObjectSpan => ({ objectKey, start, end });
const spans = (n: number, size: number, prefix = 'o'): ObjectSpan[] => Array.from({ length: n }, (_, i) => span(`${prefix}${i}`, 0, size));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('never reserves more than the budget, never more GETs than the bound, and releases what is taken', async () => {
  const loads = new HeldLoads();
  const ahead = new ReadAhead({ budgetBytes: 1_000, maxConcurrentGets: 2, holdMs: 60_000, load: loads.load, log });
  const planned = spans(10, 300);
  ahead.plan('s', planned, () => false);
  assert.equal(ahead.reservedBytes, 900, 'three of 300 B fit a 1000 B budget; the fourth waits');
  assert.equal(ahead.pending, 3);
  assert.equal(loads.inFlight, 2, 'at most maxConcurrentGets GETs');
  const audit = (): void => assert.ok(ahead.reservedBytes <= 1_000, `reserved ${ahead.reservedBytes}`);
  loads.settleNext();
  await tick();
  audit();
  assert.equal(loads.inFlight, 2, 'the third starts when a slot frees');
  // The reader takes the first range: held bytes are released, the next plan may read further ahead.
  const first = ahead.take(planned[0]!);
  assert.ok(first !== undefined);
  assert.equal((await first).length, 300);
  assert.equal(ahead.reservedBytes, 600);
  ahead.plan('s', planned.slice(1), () => false);
  assert.equal(ahead.reservedBytes, 900);
  audit();
  // A range taken while its GET is in flight stays reserved until the bytes have arrived.
  const second = ahead.take(planned[1]!);
  assert.ok(second !== undefined);
  assert.equal(ahead.reservedBytes, 900);
  while (loads.pending.length > 0) {
    loads.settleNext();
    await tick();
    audit();
  }
  assert.equal((await second).length, 300);
  assert.equal(ahead.reservedBytes, 600, 'ranges 2 and 3 are held unread');
  assert.ok(loads.maxInFlight <= 2);
  assert.equal(ahead.take(span('unknown', 0, 1)), undefined);
});

test('stops with its reader: nothing beyond the plan, held ranges expire, a new plan drops what it no longer names, close aborts', async () => {
  let now = 0;
  const loads = new HeldLoads();
  const ahead = new ReadAhead({ budgetBytes: 10_000, maxConcurrentGets: 4, holdMs: 1_000, load: loads.load, log, now: () => now });
  const planned = spans(3, 100);
  ahead.plan('s', planned, () => false);
  for (let i = 0; i < 3; i++) loads.settleNext();
  await tick();
  assert.equal(ahead.gets, 3, 'a reader that stops causes no further GETs');
  assert.equal(ahead.reservedBytes, 300);
  now = 2_000;
  ahead.plan('other', [], () => false);
  assert.equal(ahead.reservedBytes, 0, 'ranges held unread past holdMs are dropped');
  assert.equal(ahead.wastedBytes, 300);

  // The stream seeks elsewhere (or its entries were merged): the old plan's ranges are dropped, GETs in flight aborted.
  ahead.plan('s', spans(2, 100, 'old'), () => false);
  assert.equal(loads.inFlight, 2);
  ahead.plan('s', spans(1, 100, 'new'), () => false);
  await tick();
  assert.equal(loads.pending.filter((p) => p.signal.aborted).length, 2, 'old GETs aborted');
  assert.equal(ahead.reservedBytes, 100);
  assert.ok(!ahead.has(span('old0', 0, 100)));
  ahead.close();
  await tick();
  assert.equal(ahead.reservedBytes, 0);
  assert.equal(ahead.pending, 0);
  ahead.plan('s', spans(2, 100, 'late'), () => false);
  assert.equal(ahead.pending, 0, 'a closed read-ahead plans nothing');
});

test('a failed read-ahead is a missed one; skipped and disabled', async () => {
  const loads = new HeldLoads();
  const ahead = new ReadAhead({ budgetBytes: 1_000, maxConcurrentGets: 4, holdMs: 60_000, load: loads.load, log });
  ahead.plan('s', spans(2, 100), (s) => s.objectKey === 'o1');
  assert.equal(ahead.pending, 1, 'a cached range is not read ahead');
  loads.pending.shift()!.reject(new Error('S3 is down'));
  await tick();
  assert.equal(ahead.take(span('o0', 0, 100)), undefined, 'failed before it was taken: the reader reads itself');
  assert.equal(ahead.reservedBytes, 0);
  ahead.plan('s', spans(1, 100, 'x'), () => false);
  const taken = ahead.take(span('x0', 0, 100));
  assert.ok(taken !== undefined);
  loads.pending.shift()!.reject(new Error('S3 is down'));
  await assert.rejects(taken, /S3 is down/);
  assert.equal(ahead.reservedBytes, 0);
  const off = new ReadAhead({ budgetBytes: 0, maxConcurrentGets: 4, holdMs: 60_000, load: loads.load, log });
  off.plan('s', spans(2, 1), () => false);
  assert.equal(off.pending + loads.pending.length, 0, 'budget 0 disables read-ahead');
});

// The log reader ---------------------------------------------------------------------------------

/** A batch of `count` records at `offset`, values `${tag}-${offset}`. */
function batchAt(offset: number, count: number, tag: string): Buffer {
  const batch = encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ value: `${tag}-${offset + i}`.padEnd(200, '.'), timestamp: 1_000n })) });
  patchBaseOffset(batch, BigInt(offset));
  return batch;
}

function valuesOf(records: readonly Buffer[]): string[] {
  return records.flatMap((b) => decodeRecordBatch(b).records.map((r) => (r.value?.toString() ?? '').replace(/\.+$/, '')));
}

/** A WAL-like object holding batches of 10 records from `base` (one entry). */
async function walEntry(objects: MemoryObjectStore, key: string, base: number, batches: number, tag: string): Promise<LogEntry> {
  const parts = Array.from({ length: batches }, (_, i) => batchAt(base + i * 10, 10, tag));
  const body = Buffer.concat([Buffer.alloc(32), ...parts]);
  await objects.put(key, body);
  return { baseOffset: base, lastOffset: base + batches * 10 - 1, objectKey: key, byteStart: 32, byteEnd: body.length, maxTimestamp: 1_000, batchCount: batches, epoch: 1 };
}

function stateWith(entries: LogEntry[]): PartitionState {
  const state = new PartitionState('00000000-0000-0000-0000-000000000001', 0);
  state.entries = entries;
  return state;
}

/** A memory store whose background (read-ahead) GETs can be made to fail or wait. */
class ObservedStore extends MemoryObjectStore {
  backgroundGets = 0;
  foregroundGets = 0;
  failBackground = false;
  override async get(key: string, options?: GetOptions): Promise<Buffer> {
    if (options?.background === true) {
      this.backgroundGets++;
      if (this.failBackground) throw new Error('read-ahead GET failed (test)');
    } else this.foregroundGets++;
    return super.get(key, options);
  }
}

async function drain(reader: LogReader): Promise<void> {
  for (let i = 0; i < 100 && (reader.readAheadStats().reservedBytes > 0 || i < 3); i++) await tick();
}

test('a sequential reader is served from read-ahead, byte for byte, within the budget', async () => {
  const objects = new ObservedStore();
  const entries: LogEntry[] = [];
  for (let e = 0; e < 6; e++) entries.push(await walEntry(objects, `wal/${e}`, e * 50, 5, 'v'));
  const state = stateWith(entries);
  const reader = new LogReader({ objects, log, cacheBytes: 1 << 20, indexCacheBytes: 1 << 20, readAheadBytes: 64 << 10 });
  const direct = new LogReader({ objects: new MemoryObjectStore(), log, cacheBytes: 0, indexCacheBytes: 1 << 20, readAheadBytes: 0 });
  let offset = 0;
  const values: string[] = [];
  while (offset < state.highWatermark) {
    const result = await reader.read(state, undefined, offset, 4_000);
    assert.ok(reader.readAheadStats().reservedBytes <= 64 << 10);
    values.push(...valuesOf(result.records));
    offset = Number(decodeRecordBatch(result.records.at(-1)!).records.at(-1)!.offset) + 1;
    await drain(reader);
  }
  assert.deepEqual(values, Array.from({ length: 300 }, (_, i) => `v-${i}`));
  assert.ok(reader.readAheadStats().hits >= 4, `read-ahead served ${reader.readAheadStats().hits} of 6 entries`);
  assert.equal(objects.foregroundGets + objects.backgroundGets, 6, 'each entry GET once');
  assert.equal(direct.readAheadStats().gets, 0);
  reader.close();
});

test('merged or trimmed entries are never answered with read-ahead bytes of the old objects', async () => {
  const objects = new ObservedStore();
  const a = await walEntry(objects, 'wal/a', 0, 2, 'old');
  const b = await walEntry(objects, 'wal/b', 20, 2, 'old');
  const c = await walEntry(objects, 'wal/c', 40, 2, 'old');
  const state = stateWith([a, b, c]);
  const reader = new LogReader({ objects, log, cacheBytes: 0, indexCacheBytes: 1 << 20, readAheadBytes: 1 << 20 });
  assert.deepEqual(valuesOf((await reader.read(state, undefined, 0, 100)).records), Array.from({ length: 10 }, (_, i) => `old-${i}`));
  await drain(reader);
  assert.equal(objects.backgroundGets, 0, 'a first read of one batch reads nothing ahead (not yet known to be sequential)');
  assert.deepEqual(valuesOf((await reader.read(state, undefined, 10, 100)).records), Array.from({ length: 10 }, (_, i) => `old-${10 + i}`));
  await drain(reader);
  assert.equal(objects.backgroundGets, 2, 'the reader went on: b and c were read ahead');
  // A merge replaces b and c by a segment (distinct values here, to tell the sources apart).
  const merged = encodeSegment([batchAt(20, 10, 'seg'), batchAt(30, 10, 'seg'), batchAt(40, 10, 'seg'), batchAt(50, 10, 'seg')], 1_000, 1_000);
  await objects.put('seg/1.kfs', merged.chunks);
  await objects.put('seg/1.index', merged.index);
  const segment: LogEntry = { baseOffset: 20, lastOffset: 59, objectKey: 'seg/1.kfs', byteStart: merged.positions[0]!, byteEnd: merged.sizeBytes - 16, maxTimestamp: 1_000, batchCount: 4, epoch: 1, indexKey: 'seg/1.index' };
  state.entries = [a, segment];
  const after = [];
  for (let offset = 20; offset < 60; ) {
    const result = await reader.read(state, undefined, offset, 1);
    after.push(...valuesOf(result.records));
    offset = Number(decodeRecordBatch(result.records.at(-1)!).records.at(-1)!.offset) + 1;
    await drain(reader);
  }
  assert.deepEqual(after, Array.from({ length: 40 }, (_, i) => `seg-${20 + i}`), 'the merged entries come from the segment');
  assert.equal(reader.readAheadStats().reservedBytes, 0, 'the stale read-ahead of b and c was dropped');
  assert.ok(reader.readAheadStats().wastedBytes > 0);
  // Trimmed: below the log start is out of range, whatever was read ahead.
  state.logStartOffset = 40;
  assert.notEqual((await reader.read(state, undefined, 30, 1_000)).errorCode, 0);
  assert.deepEqual(valuesOf((await reader.read(state, undefined, 40, 1)).records).slice(0, 1), ['seg-40']);
  reader.close();
});

test('a failing read-ahead never fails the read: the reader GETs the range itself', async () => {
  const objects = new ObservedStore();
  const entries: LogEntry[] = [];
  for (let e = 0; e < 4; e++) entries.push(await walEntry(objects, `wal/${e}`, e * 20, 2, 'v'));
  const state = stateWith(entries);
  objects.failBackground = true;
  const reader = new LogReader({ objects, log, cacheBytes: 0, indexCacheBytes: 1 << 20, readAheadBytes: 1 << 20 });
  const values: string[] = [];
  for (let offset = 0; offset < 80; ) {
    const result = await reader.read(state, undefined, offset, 1_000);
    values.push(...valuesOf(result.records));
    offset = Number(decodeRecordBatch(result.records.at(-1)!).records.at(-1)!.offset) + 1;
    await drain(reader);
  }
  assert.deepEqual(values, Array.from({ length: 80 }, (_, i) => `v-${i}`));
  assert.ok(objects.backgroundGets >= 1, 'read-ahead was tried');
  assert.equal(reader.readAheadStats().reservedBytes, 0);
  reader.close();
});

test('a bulk reader keeps its read-ahead when a later range of the same read fills the rest of maxBytes', async () => {
  const objects = new ObservedStore();
  // small, small, large, small, small, small: the large entry is more than what is left of the first read's maxBytes.
  const sizes = [1, 1, 10, 1, 1, 1];
  const entries: LogEntry[] = [];
  let base = 0;
  for (const [e, batches] of sizes.entries()) {
    entries.push(await walEntry(objects, `wal/${e}`, base, batches, 'v'));
    base += batches * 10;
  }
  const state = stateWith(entries);
  const reader = new LogReader({ objects, log, cacheBytes: 1 << 20, indexCacheBytes: 1 << 20, readAheadBytes: 1 << 20 });
  let offset = 0;
  const values: string[] = [];
  while (offset < state.highWatermark) {
    const result = await reader.read(state, undefined, offset, 10_000);
    values.push(...valuesOf(result.records));
    offset = Number(decodeRecordBatch(result.records.at(-1)!).records.at(-1)!.offset) + 1;
    await drain(reader);
  }
  assert.deepEqual(values, Array.from({ length: base }, (_, i) => `v-${i}`));
  assert.equal(objects.foregroundGets + objects.backgroundGets, sizes.length, 'each entry GET once: no read-ahead dropped and read again');
  assert.equal(reader.readAheadStats().wastedBytes, 0);
  reader.close();
});

test('hinted reads: the partitions a connection was told to start at are read ahead at its next Fetch, all at once', async () => {
  const objects = new ObservedStore();
  let nowMs = 1_000_000;
  const reader = new LogReader({ objects, log, cacheBytes: 1 << 20, indexCacheBytes: 1 << 20, readAheadBytes: 1 << 20, now: () => nowMs });
  const states: PartitionState[] = [];
  for (let p = 0; p < 3; p++) {
    const state = new PartitionState('00000000-0000-0000-0000-000000000001', p);
    state.entries = [await walEntry(objects, `wal/${p}-a`, 0, 2, `p${p}`), await walEntry(objects, `wal/${p}-b`, 20, 2, `p${p}`)];
    states.push(state);
  }
  const partitionOf = (_topicId: string, partition: number): Promise<{ state: PartitionState; tail: undefined }> => Promise.resolve({ state: states[partition]!, tail: undefined });
  // A lag monitor lists offsets and never fetches: nothing is read.
  for (const state of states) reader.hintRead(8, state.topicId, state.partition, 0);
  // A consumer lists the earliest offsets of partitions 0 and 1, then fetches.
  reader.hintRead(7, states[0]!.topicId, 0, 0);
  reader.hintRead(7, states[1]!.topicId, 1, 0);
  await drain(reader);
  assert.equal(objects.backgroundGets + objects.foregroundGets, 0, 'a hint alone reads nothing');
  reader.startHintedReads(7, partitionOf);
  await drain(reader);
  assert.equal(objects.backgroundGets, 4, 'both entries of partitions 0 and 1 (the first window), nothing of partition 2');
  for (const p of [0, 1]) {
    const result = await reader.read(states[p]!, undefined, 0, 1 << 20);
    assert.deepEqual(valuesOf(result.records), Array.from({ length: 40 }, (_, i) => `p${p}-${i}`));
  }
  assert.equal(objects.foregroundGets, 0, 'the reads were served by the hinted read-ahead');
  assert.equal(reader.readAheadStats().wastedBytes, 0);
  // Each hint is used once; a hint older than its time to live is not used.
  reader.startHintedReads(7, partitionOf);
  reader.hintRead(9, states[2]!.topicId, 2, 0);
  nowMs += 60_000;
  reader.startHintedReads(9, partitionOf);
  await drain(reader);
  assert.equal(objects.backgroundGets, 4);
  reader.close();
});
