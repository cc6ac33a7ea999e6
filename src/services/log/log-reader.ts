/**
 * The read path's byte source for committed entries (docs/design/storage.md, "Read path"): the range
 * cache in front of ranged GETs, segment indexes that turn an offset into one block of a segment, and
 * read-ahead of the next range for sequential consumers. Any broker; only committed data.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { lastOffset as batchLastOffset, splitBatches } from '../../protocol/records/index.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import type { LogEntry } from './log-entry.ts';
import type { PartitionState } from './partition-state.ts';
import type { PartitionTail } from './partition-tail.ts';
import { RangeCache } from './range-cache.ts';
import { ReadAhead, type ObjectSpan } from './read-ahead.ts';
import { ReadHints } from './read-hints.ts';
import { indexBlock, type IndexEntry } from './segment-format.ts';
import { SegmentIndexCache } from './segment-index-cache.ts';

export interface ReadResult {
  readonly errorCode: number;
  readonly highWatermark: number;
  /** = highWatermark (no transactions). */
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  /** Whole batches, in offset order; views, not copies. */
  readonly records: Buffer[];
  readonly bytes: number;
}

/** A byte range of an entry's object, end exclusive. */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * A reader of one partition from object storage. Its first read is not known to be sequential: it reads
 * ahead READ_AHEAD_FIRST_WINDOW_BYTES only when it asks for more than the range it starts in (a bulk
 * reader; a one-batch lookup reads nothing ahead). Each read that goes on where the last one ended (a
 * sequential consumer) doubles the window, up to READ_AHEAD_MAX_WINDOW_BYTES.
 */
class ReadStream {
  readonly id: string;
  sequential = false;
  /** Its first read asked for more than the range it started in: read ahead from then on. */
  bulk = false;
  windowBytes = READ_AHEAD_FIRST_WINDOW_BYTES;
  /** Plans made; a plan computed after a newer one was made is stale (it would name ranges already read). */
  plans = 0;
  constructor(id: string) {
    this.id = id;
  }
}

const MIB = 1024 * 1024;
/** Read-ahead of a reader not yet known to be sequential (its first read from object storage). */
export const READ_AHEAD_FIRST_WINDOW_BYTES = 4 * MIB;
/** Read-ahead per sequential reader at most (the budget, KAFSCALE_READ_AHEAD_BYTES, bounds the sum). */
export const READ_AHEAD_MAX_WINDOW_BYTES = 16 * MIB;
/** Read-ahead GETs in flight at most, broker-wide (the S3 adapter also caps background GETs). */
export const READ_AHEAD_MAX_GETS = 8;
/** A read-ahead range not read this long after it arrived is dropped (its reader went elsewhere). */
export const READ_AHEAD_HOLD_MS = 30_000;
/** Readers remembered, broker-wide: the oldest is forgotten (and its read-ahead dropped) beyond this. */
const MAX_READ_STREAMS = 4096;
/** keepMerged copies this many bytes of blocks between event-loop turns at most. */
const KEEP_MERGED_SLICE_BYTES = 1024 * 1024;
/** Connections with read hints (ListOffsets answers not yet followed by a Fetch), and hints per connection. */
const MAX_HINTED_READERS = 1024;
const MAX_HINTS_PER_READER = 256;
/** A hint not followed by a Fetch on its connection this soon is not used. */
const READ_HINT_TTL_MS = 10_000;

export interface CacheStats {
  hits: number;
  misses: number;
  bytes: number;
  readAhead: { gets: number; hits: number; wastedBytes: number; reservedBytes: number };
}

export interface LogReaderOptions {
  readonly objects: ObjectStore;
  readonly log: Logger;
  readonly cacheBytes: number;
  readonly indexCacheBytes: number;
  /** KAFSCALE_READ_AHEAD_BYTES: bytes read ahead (queued, in flight or held unread) at most; 0 = none. */
  readonly readAheadBytes: number;
  readonly now?: () => number;
}

export class LogReader {
  readonly #log: Logger;
  readonly #cache: RangeCache;
  readonly #indexes: SegmentIndexCache;
  readonly #readAhead: ReadAhead;
  /** Sequential readers by `topicId/partition@nextOffset`, least recently read first. */
  readonly #streams = new Map<string, ReadStream>();
  #streamSeq = 0;
  readonly #hints: ReadHints;

  constructor(options: LogReaderOptions) {
    const objects = options.objects;
    this.#log = options.log;
    this.#cache = new RangeCache(objects, options.cacheBytes);
    this.#indexes = new SegmentIndexCache(objects, options.indexCacheBytes);
    this.#readAhead = new ReadAhead({
      budgetBytes: options.readAheadBytes,
      maxConcurrentGets: READ_AHEAD_MAX_GETS,
      holdMs: READ_AHEAD_HOLD_MS,
      load: (span, signal) => objects.get(span.objectKey, { range: { start: span.start, end: span.end }, signal, background: true }),
      log: options.log,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.#hints = new ReadHints({
      maxReaders: MAX_HINTED_READERS,
      maxHintsPerReader: MAX_HINTS_PER_READER,
      ttlMs: READ_HINT_TTL_MS,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /**
   * A consumer on connection `readerId` was told to start reading the partition at `offset` (a ListOffsets
   * answer): its next Fetch starts reading there (startHintedReads). Nothing is read until then.
   */
  hintRead(readerId: number, topicId: string, partition: number, offset: number): void {
    if (this.#readAhead.enabled) this.#hints.add(readerId, topicId, partition, offset);
  }

  /**
   * Connection `readerId` fetches: read ahead the first range of every partition it was told to start
   * reading (hintRead), all at once, rather than one Fetch after another as the client names them. Each
   * becomes a bulk stream at its offset, which the partition's first read then goes on with.
   */
  startHintedReads(readerId: number, partitionOf: (topicId: string, partition: number) => Promise<{ state: PartitionState; tail: PartitionTail | undefined }>): void {
    for (const hint of this.#hints.take(readerId)) {
      partitionOf(hint.topicId, hint.partition).then(
        ({ state, tail }) => this.#readAheadFrom(state, tail, hint.offset),
        (error: unknown) => this.#log.debug({ err: error }, 'hinted read-ahead: partition state unavailable'),
      );
    }
  }

  /** Hinted reads (tests). */
  get hintedReaders(): number {
    return this.#hints.readers;
  }

  /** Object GETs issued by the read path, read-ahead included (tests, metrics). */
  get objectGets(): number {
    return this.#cache.gets + this.#readAhead.gets;
  }

  /** Read-ahead counters (tests, metrics). */
  readAheadStats(): { gets: number; hits: number; wastedBytes: number; reservedBytes: number } {
    const r = this.#readAhead;
    return { gets: r.gets, hits: r.hits, wastedBytes: r.wastedBytes, reservedBytes: r.reservedBytes };
  }

  /** Drops read-ahead in flight or held. */
  close(): void {
    this.#readAhead.close();
  }

  /** Range-cache and read-ahead counters for metrics: hits, misses (GETs) and bytes held. */
  cacheStats(): CacheStats {
    return { hits: this.#cache.hits, misses: this.#cache.gets, bytes: this.#cache.bytes, readAhead: this.readAheadStats() };
  }

  /**
   * Committed batches of `state` from `fetchOffset`: whole batches up to maxBytes, at least one (KIP-74),
   * from the owner's `tail` when it holds them. OFFSET_OUT_OF_RANGE when fetchOffset < log start or > HWM.
   */
  async read(state: PartitionState, tail: PartitionTail | undefined, fetchOffset: number, maxBytes: number, signal?: AbortSignal): Promise<ReadResult> {
    const hwm = state.highWatermark;
    const logStart = state.logStartOffset;
    const records: Buffer[] = [];
    if (fetchOffset < logStart || fetchOffset > hwm) {
      return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: hwm, lastStableOffset: hwm, logStartOffset: logStart, records, bytes: 0 };
    }
    let offset = fetchOffset;
    let bytes = 0;
    let stream: ReadStream | null = null;
    while (offset < hwm && (records.length === 0 || bytes < maxBytes)) {
      if (tail !== undefined && offset >= tail.firstOffset) {
        const got = tail.read(offset, hwm, maxBytes - bytes, records);
        if (got !== null && got.nextOffset > offset) {
          bytes += got.bytes;
          offset = got.nextOffset;
          break; // the tail holds everything up to the high watermark, or the byte budget is used
        }
      }
      // The entries this index points into (a merge may replace the array during the awaits below).
      const entries = state.entries;
      const index = state.entryIndexOf(offset);
      if (index === -1) break; // dropped by retention meanwhile: return what we have
      const entry = entries[index] as LogEntry;
      const range = await this.rangeFor(entry, offset, signal);
      if (this.#readAhead.enabled) {
        stream ??= this.#streamAt(state, fetchOffset);
        // A first read that wants more than this range is a bulk reader: read ahead as for a sequential one.
        // Decided once per stream: a later range of the same read that happens to fill the rest of maxBytes
        // must not plan an empty window, which would drop the read-ahead just started.
        if (!stream.bulk && maxBytes - bytes > range.end - range.start) stream.bulk = true;
        this.#planAhead(stream, entries, index, range, stream.sequential || stream.bulk ? stream.windowBytes : 0);
      }
      const data = await this.bytesOf(entry, range, signal);
      const before = offset;
      let consumedAll = true;
      for (const batch of splitBatches(data).batches) {
        const last = Number(batchLastOffset(batch));
        if (last < offset) continue;
        if (records.length > 0 && bytes + batch.length > maxBytes) {
          consumedAll = false;
          break;
        }
        records.push(batch);
        bytes += batch.length;
        offset = last + 1;
      }
      const wholeEntry = range.end >= entry.byteEnd;
      // A segment block read to its end continues with the entry's next block.
      if (!consumedAll || offset === before || (offset <= entry.lastOffset && wholeEntry)) break;
    }
    if (stream !== null) this.#streamMoved(state, stream, offset);
    return { errorCode: ErrorCode.NONE, highWatermark: hwm, lastStableOffset: hwm, logStartOffset: logStart, records, bytes };
  }

  /**
   * The byte range to GET for `offset` in `entry`: a WAL entry's whole range; for a segment entry the
   * index block holding the offset (segment-format.ts), so a fetch never GETs a whole segment.
   */
  async rangeFor(entry: LogEntry, offset: number, signal?: AbortSignal): Promise<ByteSpan> {
    if (entry.indexKey === undefined) return { start: entry.byteStart, end: entry.byteEnd };
    const index = await this.#indexes.get(entry.indexKey, signal);
    return indexBlock(index, offset, entry.byteStart, entry.byteEnd);
  }

  /**
   * The bytes of `range` of the entry's object: cached, read ahead, or one GET shared by concurrent
   * readers. A read-ahead that failed is only a missed one: the range is then read here.
   */
  async bytesOf(entry: LogEntry, range: ByteSpan, signal?: AbortSignal): Promise<Buffer> {
    const { objectKey } = entry;
    if (!this.#cache.has(objectKey, range.start, range.end)) {
      const ahead = this.#readAhead.take({ objectKey, start: range.start, end: range.end });
      if (ahead !== undefined) {
        try {
          const data = await untilAborted(ahead, signal);
          this.#cache.set(objectKey, range.start, range.end, data);
          return data;
        } catch (error) {
          if (signal?.aborted === true) throw error;
        }
      }
    }
    return this.#cache.get(objectKey, range.start, range.end, signal);
  }

  /**
   * The entry's bytes if the cache holds all of them (a WAL entry's range, or every read block of a
   * segment entry and its index), else undefined: never a GET. A merge reads hot inputs from here.
   */
  cachedEntry(entry: LogEntry): Buffer | undefined {
    if (entry.indexKey === undefined) return this.#cache.peek(entry.objectKey, entry.byteStart, entry.byteEnd);
    const index = this.#indexes.peek(entry.indexKey);
    if (index === undefined) return undefined;
    const parts: Buffer[] = [];
    for (const block of blocksOf(entry, index)) {
      const data = this.#cache.peek(entry.objectKey, block.start, block.end);
      if (data === undefined) return undefined;
      parts.push(data);
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, entry.byteEnd - entry.byteStart);
  }

  /**
   * A merge replaced entries whose bytes were cached (`hot`: their byte spans in the new segment) by
   * `entry`: cache the new entry's read blocks that hold those bytes — the ranges a read of `entry` asks
   * for (rangeFor) — and the segment's index, and forget the replaced entries' ranges. A consumer reading
   * recent data keeps reading from memory across the merge instead of GETting it all again; what was
   * cold stays cold (the cache bound holds either way).
   */
  async keepMerged(entry: LogEntry, index: readonly IndexEntry[], hot: readonly ByteSpan[], bytesOf: (start: number, end: number) => Buffer | null, replaced: readonly LogEntry[]): Promise<void> {
    if (entry.indexKey === undefined || hot.length === 0) return;
    this.#indexes.set(entry.indexKey, index);
    let copied = 0;
    for (const { start, end } of blocksOf(entry, index)) {
      if (!hot.some((span) => span.start < end && span.end > start)) continue;
      const data = bytesOf(start, end);
      if (data !== null) this.#cache.set(entry.objectKey, start, end, data);
      // The blocks are copies: give the event loop back between megabytes of them.
      copied += end - start;
      if (copied < KEEP_MERGED_SLICE_BYTES) continue;
      copied = 0;
      await nextTurn();
    }
    for (const e of replaced) {
      const replacedIndex = e.indexKey === undefined ? undefined : this.#indexes.peek(e.indexKey);
      const blocks = replacedIndex === undefined ? [{ start: e.byteStart, end: e.byteEnd }] : blocksOf(e, replacedIndex);
      for (const block of blocks) this.#cache.delete(e.objectKey, block.start, block.end);
    }
  }

  /** The parsed index of a segment entry. */
  segmentIndex(indexKey: string): Promise<readonly IndexEntry[]> {
    return this.#indexes.get(indexKey);
  }

  /** Registers a bulk stream at `offset` and reads its first range ahead, unless the data is in memory or read already. */
  #readAheadFrom(state: PartitionState, tail: PartitionTail | undefined, offset: number): void {
    if (!this.#readAhead.enabled || offset < state.logStartOffset || offset >= state.highWatermark) return;
    if (tail !== undefined && offset >= tail.firstOffset) return; // served from memory
    if (this.#streams.has(`${state.topicId}/${state.partition}@${offset}`)) return; // a reader is there already
    const entries = state.entries;
    const index = state.entryIndexOf(offset);
    if (index === -1) return;
    const entry = entries[index] as LogEntry;
    const stream = new ReadStream(`${state.topicId}/${state.partition}#${++this.#streamSeq}`);
    stream.bulk = true;
    this.#streamMoved(state, stream, offset);
    const plan = ++stream.plans;
    this.#hintedSpans(entry, entries, index, offset).then(
      (spans) => {
        if (plan === stream.plans) this.#readAhead.plan(stream.id, spans, (span) => this.#cache.has(span.objectKey, span.start, span.end));
        // else the partition's first read came first and planned for itself
      },
      (error: unknown) => this.#log.debug({ err: error }, 'hinted read-ahead: segment index unavailable'),
    );
  }

  /** The range a first read at `offset` GETs, and the first window after it. */
  async #hintedSpans(entry: LogEntry, entries: readonly LogEntry[], index: number, offset: number): Promise<ObjectSpan[]> {
    const range = await this.rangeFor(entry, offset);
    return [{ objectKey: entry.objectKey, start: range.start, end: range.end }, ...(await this.#spansAhead(READ_AHEAD_FIRST_WINDOW_BYTES, entries, index, range))];
  }

  /** The reader whose last read ended at `fetchOffset`, or a new one (not yet known to be sequential). */
  #streamAt(state: PartitionState, fetchOffset: number): ReadStream {
    const key = `${state.topicId}/${state.partition}@${fetchOffset}`;
    const known = this.#streams.get(key);
    if (known === undefined) return new ReadStream(`${state.topicId}/${state.partition}#${++this.#streamSeq}`);
    this.#streams.delete(key);
    known.windowBytes = Math.min(READ_AHEAD_MAX_WINDOW_BYTES, known.windowBytes * 2);
    known.sequential = true;
    return known;
  }

  #streamMoved(state: PartitionState, stream: ReadStream, nextOffset: number): void {
    this.#streams.set(`${state.topicId}/${state.partition}@${nextOffset}`, stream);
    if (this.#streams.size <= MAX_READ_STREAMS) return;
    const [oldestKey, oldest] = this.#streams.entries().next().value as [string, ReadStream];
    this.#streams.delete(oldestKey);
    this.#readAhead.plan(oldest.id, [], () => true);
  }

  /**
   * Reads ahead of `stream`, which is about to read `range` of `entries[index]`: the ranges after it, up
   * to `windowBytes` (at least one range when positive). Entries are committed, immutable objects: a merge
   * or trim meanwhile only makes some of these ranges go unread (read-ahead.ts).
   */
  #planAhead(stream: ReadStream, entries: readonly LogEntry[], index: number, range: ByteSpan, windowBytes: number): void {
    const plan = ++stream.plans;
    this.#spansAhead(windowBytes, entries, index, range).then(
      (spans) => {
        if (plan === stream.plans) this.#readAhead.plan(stream.id, spans, (span) => this.#cache.has(span.objectKey, span.start, span.end));
      },
      (error: unknown) => this.#log.debug({ err: error }, 'read-ahead planning failed (segment index unavailable)'),
    );
  }

  async #spansAhead(windowBytes: number, entries: readonly LogEntry[], index: number, range: ByteSpan): Promise<ObjectSpan[]> {
    const spans: ObjectSpan[] = [];
    let bytes = 0;
    for (let i = index; i < entries.length && bytes < windowBytes; i++) {
      const entry = entries[i] as LogEntry;
      const from = i === index ? range.end : entry.byteStart;
      for (const span of await this.#spansOf(entry, from)) {
        spans.push(span);
        bytes += span.end - span.start;
        if (bytes >= windowBytes) break;
      }
    }
    return spans;
  }

  /** The ranges the reader will ask for in `entry` from byte `from` on: the whole entry, or segment blocks. */
  async #spansOf(entry: LogEntry, from: number): Promise<ObjectSpan[]> {
    const { objectKey } = entry;
    if (from >= entry.byteEnd) return [];
    if (entry.indexKey === undefined) return [{ objectKey, start: entry.byteStart, end: entry.byteEnd }];
    const index = await this.#indexes.get(entry.indexKey);
    const spans: ObjectSpan[] = [];
    let last = -1;
    // The block the reader computes for each block's first offset (indexBlock), so the keys match exactly.
    for (const indexEntry of [{ offset: entry.baseOffset, position: entry.byteStart }, ...index]) {
      if (indexEntry.offset < entry.baseOffset || indexEntry.offset > entry.lastOffset) continue;
      const block = indexBlock(index, indexEntry.offset, entry.byteStart, entry.byteEnd);
      if (block.start < from || block.start <= last || block.end <= block.start) continue;
      spans.push({ objectKey, start: block.start, end: block.end });
      last = block.start;
    }
    return spans;
  }
}

/** `promise`, or the signal's reason once it aborts (the promise itself goes on: a read-ahead GET is shared). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/**
 * The read blocks of a segment entry: what rangeFor answers for its offsets — the index blocks, cut at
 * the entry's byte bounds (indexBlock) — in order, covering the entry's bytes exactly.
 */
function blocksOf(entry: LogEntry, index: readonly IndexEntry[]): ByteSpan[] {
  const cuts = [entry.byteStart];
  for (const { position } of index) if (position > entry.byteStart && position < entry.byteEnd) cuts.push(position);
  cuts.push(entry.byteEnd);
  const blocks: ByteSpan[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) blocks.push({ start: cuts[i] as number, end: cuts[i + 1] as number });
  return blocks;
}
