/**
 * Per-partition segment objects written by the merger (docs/design/storage.md, "Merging"), in KafScale's
 * segment and index layout. All integers big-endian.
 *
 *   segment `.kfs`:  header 32 B  "KAFS" | version u16 = 1 | flags u16 = 0 | baseOffset i64 |
 *                                 messageCount i32 | createdMs i64 | reserved u32 = 0
 *                    raw Kafka RecordBatches (magic 2), contiguous, in offset order
 *                    footer 16 B  CRC32C u32 of the batch bytes | lastOffset i64 | "END!"
 *   index `.index`:  header 16 B  "IDX\0" | version u16 = 1 | entryCount i32 | interval i32 | flags u16
 *                    entryCount × 12 B: offset i64 (a batch's baseOffset) | position i32 (absolute byte
 *                    position of that batch in the segment object)
 *                    flags bit 0 (TIME_INDEX): then entryCount × 8 B: maxTimestamp i64 of the batches from
 *                    that entry to the next (a sparse time index: ListOffsets by time picks the one block
 *                    to GET). KafScale's field is reserved (0) there; an index without the bit has no times.
 *
 * The index is sparse: the first batch, then the first batch starting at least `interval` bytes after the
 * previous entry (KafScale counts messages there; we count bytes, because the index exists to turn a fetch
 * offset into a byte range to GET — `interval` is informational for readers). Index entries are batch
 * boundaries, so the bytes between two entries are whole batches: the read path GETs exactly that block.
 *
 * Object keys: `{namespace}/segments/{topicId}/{partition:010}/segment-{baseOffset:020}-{writer}.kfs`
 * and the same stem with `.index`. DESIGN names `{topic}/{partition}/segment-{baseOffset:020}.kfs`; the
 * topic id (not its name) keeps a deleted and re-created topic from ever meeting the old incarnation's
 * objects, and `{writer}` = `{epoch:010}-{8 random hex}` makes every written segment a new key: a segment
 * re-merged from the same base offset, or one written by a fenced owner, never overwrites a segment that
 * a committed log entry references. The `segments/` prefix lets the collector list them apart from WAL.
 */
import { randomBytes } from 'node:crypto';
import { continueCrc32cOverBatch } from '../../protocol/records/crc32c-combine.ts';
import { crc32c } from '@node-rs/crc32';
import { lastOffsetDelta, maxTimestamp as batchMaxTimestamp, recordCount } from '../../protocol/records/index.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';

export const SEGMENT_MAGIC = 'KAFS';
export const SEGMENT_FOOTER_MAGIC = 'END!';
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
export const SEGMENT_FOOTER_BYTES = 16;
export const INDEX_MAGIC = 'IDX\0';
export const INDEX_VERSION = 1;
export const INDEX_HEADER_BYTES = 16;
export const INDEX_ENTRY_BYTES = 12;
export const INDEX_TIME_BYTES = 8;
export const INDEX_FLAG_TIME_INDEX = 0x0001;
/** One index entry (= one read block) per this many batch bytes by default. */
export const INDEX_INTERVAL_DEFAULT_BYTES = 1024 * 1024;
/** Positions are i32 in KafScale's index: a segment can never be larger. */
export const SEGMENT_MAX_BYTES = 0x7fffffff;

export const SEGMENT_KEY_PATTERN = /^(.+)\/segments\/([0-9a-f-]{36})\/(\d{10})\/segment-(\d{20})-(\d{10})-([0-9a-f]{8})\.(kfs|index)$/;

export interface IndexEntry {
  readonly offset: number;
  readonly position: number;
  /** Largest batch maxTimestamp from this entry to the next (absent in indexes without a time index). */
  readonly maxTimestamp?: number;
}

export interface EncodedSegment {
  /** Header, the batches by reference, footer: PUT as a list of chunks. */
  readonly chunks: Buffer[];
  readonly sizeBytes: number;
  readonly index: Buffer;
  readonly indexEntries: IndexEntry[];
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Absolute position of every batch (the merger names entry byte ranges with these). */
  readonly positions: number[];
}

/** A batch's base and last offset (numbers: see log-entry.ts). */
function batchOffsets(batch: Buffer): { base: number; last: number } {
  const base = Number(batch.readBigInt64BE(0));
  return { base, last: base + lastOffsetDelta(batch) };
}

/**
 * Builds a segment and its index from contiguous, offset-ordered batches, one batch at a time, so that a
 * caller (the merger) can give the event loop back between batches instead of holding it for a whole
 * segment's worth of CRC and bookkeeping.
 */
export class SegmentEncoder {
  readonly #createdMs: number;
  readonly #indexIntervalBytes: number;
  readonly #chunks: Buffer[] = [Buffer.alloc(SEGMENT_HEADER_BYTES)];
  readonly #positions: number[] = [];
  readonly #indexEntries: IndexEntry[] = [];
  readonly #blockMax: number[] = [];
  #position = SEGMENT_HEADER_BYTES;
  #lastIndexed = -Infinity;
  #messageCount = 0;
  #crc = 0;
  #baseOffset = -1;
  #lastOffset = -1;

  constructor(createdMs: number, indexIntervalBytes = INDEX_INTERVAL_DEFAULT_BYTES) {
    this.#createdMs = createdMs;
    this.#indexIntervalBytes = indexIntervalBytes;
  }

  add(batch: Buffer): void {
    const { base, last } = batchOffsets(batch);
    if (this.#baseOffset < 0) this.#baseOffset = base;
    this.#lastOffset = last;
    const position = this.#position;
    this.#positions.push(position);
    if (position - this.#lastIndexed >= this.#indexIntervalBytes) {
      this.#indexEntries.push({ offset: base, position });
      this.#blockMax.push(-1);
      this.#lastIndexed = position;
    }
    // Batch maxTimestamps are the broker's own (stampBatchTimestamps), so the block maximum is exact.
    const ts = Number(batchMaxTimestamp(batch));
    if (ts > this.#blockMax[this.#blockMax.length - 1]!) this.#blockMax[this.#blockMax.length - 1] = ts;
    this.#chunks.push(batch);
    // The batches' own CRCs were validated on append: combined, not hashed again (crc32c-combine.ts).
    this.#crc = continueCrc32cOverBatch(this.#crc, batch);
    this.#messageCount += recordCount(batch);
    this.#position += batch.length;
  }

  finish(): EncodedSegment {
    if (this.#positions.length === 0) throw new KafscaleError('KSC_INTERNAL', 'a segment needs at least one record batch');
    const sizeBytes = this.#position + SEGMENT_FOOTER_BYTES;
    if (sizeBytes > SEGMENT_MAX_BYTES) throw new KafscaleError('KSC_INTERNAL', `segment of ${sizeBytes} bytes exceeds the i32 positions of the index`);
    const chunks = this.#chunks;
    const header = chunks[0] as Buffer;
    header.write(SEGMENT_MAGIC, 0, 'latin1');
    header.writeUInt16BE(SEGMENT_VERSION, 4);
    header.writeUInt16BE(0, 6);
    header.writeBigInt64BE(BigInt(this.#baseOffset), 8);
    header.writeInt32BE(this.#messageCount, 16);
    header.writeBigInt64BE(BigInt(this.#createdMs), 20);
    header.writeUInt32BE(0, 28);
    const footer = Buffer.alloc(SEGMENT_FOOTER_BYTES);
    footer.writeUInt32BE(this.#crc >>> 0, 0);
    footer.writeBigInt64BE(BigInt(this.#lastOffset), 4);
    footer.write(SEGMENT_FOOTER_MAGIC, 12, 'latin1');
    chunks.push(footer);
    const timed = this.#indexEntries.map((e, i) => ({ ...e, maxTimestamp: this.#blockMax[i]! }));
    return { chunks, sizeBytes, index: encodeSegmentIndex(timed, this.#indexIntervalBytes), indexEntries: timed, baseOffset: this.#baseOffset, lastOffset: this.#lastOffset, positions: this.#positions };
  }
}

/** Builds a segment and its index from contiguous, offset-ordered batches. */
export function encodeSegment(batches: readonly Buffer[], createdMs: number, indexIntervalBytes = INDEX_INTERVAL_DEFAULT_BYTES): EncodedSegment {
  const encoder = new SegmentEncoder(createdMs, indexIntervalBytes);
  for (const batch of batches) encoder.add(batch);
  return encoder.finish();
}

/** With a time index when every entry carries its block's maxTimestamp. */
export function encodeSegmentIndex(entries: readonly IndexEntry[], interval: number): Buffer {
  const timed = entries.every((e) => e.maxTimestamp !== undefined);
  const out = Buffer.alloc(INDEX_HEADER_BYTES + entries.length * (INDEX_ENTRY_BYTES + (timed ? INDEX_TIME_BYTES : 0)));
  out.write(INDEX_MAGIC, 0, 'latin1');
  out.writeUInt16BE(INDEX_VERSION, 4);
  out.writeInt32BE(entries.length, 6);
  out.writeInt32BE(Math.min(interval, SEGMENT_MAX_BYTES), 10);
  out.writeUInt16BE(timed ? INDEX_FLAG_TIME_INDEX : 0, 14);
  let at = INDEX_HEADER_BYTES;
  for (const e of entries) {
    out.writeBigInt64BE(BigInt(e.offset), at);
    out.writeInt32BE(e.position, at + 8);
    at += INDEX_ENTRY_BYTES;
  }
  if (timed) {
    for (const e of entries) {
      out.writeBigInt64BE(BigInt(e.maxTimestamp ?? -1), at);
      at += INDEX_TIME_BYTES;
    }
  }
  return out;
}

function corrupt(what: string, why: string): KafscaleError {
  return new KafscaleError('KSC_OBJECT_CORRUPT', `${what} is corrupt: ${why}`);
}

export function decodeSegmentIndex(data: Buffer): { interval: number; entries: IndexEntry[] } {
  if (data.length < INDEX_HEADER_BYTES) throw corrupt('segment index', `only ${data.length} bytes`);
  if (data.toString('latin1', 0, 4) !== INDEX_MAGIC) throw corrupt('segment index', 'bad magic');
  const version = data.readUInt16BE(4);
  if (version !== INDEX_VERSION) throw corrupt('segment index', `unknown version ${version}`);
  const count = data.readInt32BE(6);
  const timed = (data.readUInt16BE(14) & INDEX_FLAG_TIME_INDEX) !== 0;
  if (count < 0 || data.length !== INDEX_HEADER_BYTES + count * (INDEX_ENTRY_BYTES + (timed ? INDEX_TIME_BYTES : 0))) throw corrupt('segment index', 'size does not match its entry count');
  const entries: IndexEntry[] = [];
  const times = INDEX_HEADER_BYTES + count * INDEX_ENTRY_BYTES;
  for (let i = 0, at = INDEX_HEADER_BYTES; i < count; i++, at += INDEX_ENTRY_BYTES) {
    const offset = Number(data.readBigInt64BE(at));
    const position = data.readInt32BE(at + 8);
    entries.push(timed ? { offset, position, maxTimestamp: Number(data.readBigInt64BE(times + i * INDEX_TIME_BYTES)) } : { offset, position });
  }
  return { interval: data.readInt32BE(10), entries };
}

export interface DecodedSegment {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly messageCount: number;
  readonly createdMs: number;
  /** The batch bytes (a view). */
  readonly body: Buffer;
}

/** Verifies header, footer and checksum of a whole segment object (recovery tools and tests). */
export function decodeSegment(data: Buffer): DecodedSegment {
  if (data.length < SEGMENT_HEADER_BYTES + SEGMENT_FOOTER_BYTES) throw corrupt('segment', `only ${data.length} bytes`);
  if (data.toString('latin1', 0, 4) !== SEGMENT_MAGIC) throw corrupt('segment', 'bad header magic');
  const version = data.readUInt16BE(4);
  if (version !== SEGMENT_VERSION) throw corrupt('segment', `unknown version ${version}`);
  const footerAt = data.length - SEGMENT_FOOTER_BYTES;
  if (data.toString('latin1', footerAt + 12) !== SEGMENT_FOOTER_MAGIC) throw corrupt('segment', 'bad footer magic');
  const body = data.subarray(SEGMENT_HEADER_BYTES, footerAt);
  if ((crc32c(body) >>> 0) !== data.readUInt32BE(footerAt)) throw corrupt('segment', 'checksum mismatch');
  return {
    baseOffset: Number(data.readBigInt64BE(8)),
    lastOffset: Number(data.readBigInt64BE(footerAt + 4)),
    messageCount: data.readInt32BE(16),
    createdMs: Number(data.readBigInt64BE(20)),
    body,
  };
}

/** A new, never-used key for a segment of `baseOffset` written by an owner of `epoch`. */
export function segmentKey(namespace: string, topicId: string, partition: number, baseOffset: number, epoch: number): string {
  const writer = `${epoch.toString().padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
  return `${namespace}/segments/${topicId}/${partition.toString().padStart(10, '0')}/segment-${baseOffset.toString().padStart(20, '0')}-${writer}.kfs`;
}

export function segmentIndexKey(segmentObjectKey: string): string {
  return `${segmentObjectKey.slice(0, -'.kfs'.length)}.index`;
}

/** Prefix under which every segment object of the namespace lives (the collector lists it). */
export function segmentsPrefix(namespace: string): string {
  return `${namespace}/segments/`;
}

/**
 * The block of a segment that holds `offset`, clipped to [byteStart, byteEnd) (a log entry's range):
 * from the last index entry at or before `offset` to the next index entry. Whole batches by construction.
 */
export function indexBlock(entries: readonly IndexEntry[], offset: number, byteStart: number, byteEnd: number): { start: number; end: number } {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid] as IndexEntry).offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const start = found === -1 ? byteStart : Math.max(byteStart, (entries[found] as IndexEntry).position);
  let end = byteEnd;
  for (let i = found + 1; i < entries.length; i++) {
    const p = (entries[i] as IndexEntry).position;
    if (p > start) {
      end = Math.min(byteEnd, p);
      break;
    }
  }
  return { start: Math.min(start, byteEnd), end };
}

/**
 * Where a search for the first record with timestamp ≥ `targetMs` at or after `fromOffset` starts: the
 * first block of the sparse time index that holds offsets ≥ fromOffset and a batch that reaches the target.
 * `fromOffset` itself for an index without times; null when no block of the segment qualifies.
 */
export function timeSearchStart(entries: readonly IndexEntry[], fromOffset: number, targetMs: number): number | null {
  if (entries.length === 0 || entries.some((e) => e.maxTimestamp === undefined)) return fromOffset;
  for (let i = 0; i < entries.length; i++) {
    const next = entries[i + 1];
    if (next !== undefined && next.offset <= fromOffset) continue; // the block ends before fromOffset
    const e = entries[i]!;
    if ((e.maxTimestamp ?? -1) >= targetMs) return Math.max(fromOffset, e.offset);
  }
  return null;
}
