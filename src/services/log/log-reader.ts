/**
 * The read path's byte source for committed entries (docs/design/storage.md, "Read path"): the range
 * cache in front of ranged GETs, segment indexes that turn an offset into one block of a segment, and
 * read-ahead of the next range for sequential consumers. Any broker; only committed data.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { lastOffset as batchLastOffset, splitBatches } from '../../protocol/records/index.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import type { LogEntry } from './log-entry.ts';
import type { PartitionState } from './partition-state.ts';
import type { PartitionTail } from './partition-tail.ts';
import { RangeCache } from './range-cache.ts';
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

export class LogReader {
  readonly #log: Logger;
  readonly #cache: RangeCache;
  readonly #indexes: SegmentIndexCache;

  constructor(options: { readonly objects: ObjectStore; readonly log: Logger; readonly cacheBytes: number; readonly indexCacheBytes: number }) {
    this.#log = options.log;
    this.#cache = new RangeCache(options.objects, options.cacheBytes);
    this.#indexes = new SegmentIndexCache(options.objects, options.indexCacheBytes);
  }

  /** Object GETs issued by the read path (tests, metrics). */
  get objectGets(): number {
    return this.#cache.gets;
  }

  /** Range-cache counters for metrics: hits, misses (GETs) and bytes held. */
  cacheStats(): { hits: number; misses: number; bytes: number } {
    return { hits: this.#cache.hits, misses: this.#cache.gets, bytes: this.#cache.bytes };
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
    while (offset < hwm && (records.length === 0 || bytes < maxBytes)) {
      if (tail !== undefined && offset >= tail.firstOffset) {
        const got = tail.read(offset, hwm, maxBytes - bytes, records);
        if (got !== null && got.nextOffset > offset) {
          bytes += got.bytes;
          offset = got.nextOffset;
          break; // the tail holds everything up to the high watermark, or the byte budget is used
        }
      }
      const index = state.entryIndexOf(offset);
      if (index === -1) break; // dropped by retention meanwhile: return what we have
      const entry = state.entries[index] as LogEntry;
      const range = await this.rangeFor(entry, offset, signal);
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
      // The entry after this one is looked up again: a merge may have replaced entries meanwhile.
      if (consumedAll) this.#readAhead(wholeEntry ? state.entries[state.entryIndexOf(offset)] : entry, offset);
      // A segment block read to its end continues with the entry's next block.
      if (!consumedAll || offset === before || (offset <= entry.lastOffset && wholeEntry)) break;
    }
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

  /** The bytes of `range` of the entry's object (cached, or one GET shared by concurrent readers). */
  bytesOf(entry: LogEntry, range: ByteSpan, signal?: AbortSignal): Promise<Buffer> {
    return this.#cache.get(entry.objectKey, range.start, range.end, signal);
  }

  /** The parsed index of a segment entry. */
  segmentIndex(indexKey: string): Promise<readonly IndexEntry[]> {
    return this.#indexes.get(indexKey);
  }

  /** Sequential consumers read in order: fetch the next range (entry or segment block) before it is asked for. */
  #readAhead(next: LogEntry | undefined, offset: number): void {
    if (next === undefined) return;
    const from = Math.max(offset, next.baseOffset);
    void this.rangeFor(next, from)
      .then((range) => (this.#cache.has(next.objectKey, range.start, range.end) ? undefined : this.#cache.get(next.objectKey, range.start, range.end)))
      .catch((error: unknown) => {
        this.#log.debug({ err: error, objectKey: next.objectKey }, 'read-ahead GET failed');
      });
  }
}
