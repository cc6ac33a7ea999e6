/**
 * The timestamps of a batch's records, as Kafka's LogValidator computes them on append: the batch's real
 * maxTimestamp (and the offset delta of the first record carrying it) and the smallest record timestamp,
 * for `message.timestamp.before.max.ms` / `after.max.ms`. Clients are not trusted with the header's
 * maxTimestamp: sarama before 1.28 writes -1 there.
 *
 * Uncompressed batches are read in place: per record only its length, attributes and timestamp-delta
 * varints are decoded, then the record is skipped. Compressed batches are decompressed first
 * (record-decompress.ts). One reusable scanner object, no closures and no allocation per record.
 *
 * Timestamps are numbers here: a record timestamp is base (int64) + delta (varlong), and both are exact
 * as doubles while below 2^53 ms (year 287,396). A batch outside that range takes a BigInt path.
 */
import {
  BASE_TIMESTAMP_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  batchSizeBytes,
  compressionId,
  isLogAppendTime,
  patchLogAppendTime,
  writeCrc,
} from './record-batch.ts';
import { decompressRecords } from './record-decompress.ts';
import type { BatchProblem } from './validate-batch.ts';

/** Kafka's RecordBatch.NO_TIMESTAMP. */
export const NO_TIMESTAMP = -1;

const TWO_POW_32 = 2 ** 32;
/** attributes, timestampDelta, offsetDelta, key length, value length, header count: one byte at least each. */
const MIN_RECORD_BODY_BYTES = 6;
/** |hi word| below this keeps hi·2^32 + lo inside the safe integer range. */
const SAFE_HI = 2 ** 20;

export class RecordTimestampScan {
  /**
   * Largest record timestamp, or NO_TIMESTAMP when no record has one ≥ 0 (Kafka starts from -1 and keeps
   * the first strictly larger timestamp); clamped to ±2^53, exact in `maxTimestampBig` beyond that.
   */
  maxTimestamp = NO_TIMESTAMP;
  /** Set only when a timestamp is beyond ±2^53 (then maxTimestamp is clamped); null otherwise. */
  maxTimestampBig: bigint | null = null;
  /** Offset delta (record index) of the first record with maxTimestamp; -1 when there is none. */
  maxOffsetDelta = -1;
  /** Smallest record timestamp other than NO_TIMESTAMP (Infinity when none), and its record index. */
  minTimestamp = Infinity;
  minOffsetDelta = -1;
  /** Why the records could not be read (null: they could). */
  problem: string | null = null;
  /** The problem is the decompression bound (the payload may well be valid). */
  tooLarge = false;

  #reset(): void {
    this.maxTimestamp = NO_TIMESTAMP;
    this.maxTimestampBig = null;
    this.maxOffsetDelta = -1;
    this.minTimestamp = Infinity;
    this.minOffsetDelta = -1;
    this.problem = null;
    this.tooLarge = false;
  }

  /**
   * Reads every record's timestamp of one validated batch (validateBatch passed). Returns false, with
   * `problem` set, when the records section is malformed or does not decompress.
   */
  scan(batch: Buffer): boolean {
    this.#reset();
    const count = batch.readInt32BE(RECORD_COUNT_OFFSET);
    let records: Buffer;
    let start: number;
    let end: number;
    if (compressionId(batch) === 0) {
      records = batch;
      start = RECORDS_OFFSET;
      end = batchSizeBytes(batch);
    } else {
      try {
        records = decompressRecords(batch);
      } catch (error) {
        this.problem = (error as Error).message;
        this.tooLarge = (error as { tooLarge?: boolean }).tooLarge === true;
        return false;
      }
      start = 0;
      end = records.length;
    }
    const hi = batch.readInt32BE(BASE_TIMESTAMP_OFFSET);
    if (hi >= SAFE_HI || hi < -SAFE_HI || !this.#scanNumbers(records, start, end, count, hi * TWO_POW_32 + batch.readUInt32BE(BASE_TIMESTAMP_OFFSET + 4))) {
      if (this.problem !== null) return false;
      return this.#scanBig(records, start, end, count, batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET));
    }
    return true;
  }

  /** The fast path; false when a delta is too large for exact doubles (or the records are malformed). */
  #scanNumbers(buf: Buffer, start: number, end: number, count: number, base: number): boolean {
    let at = start;
    let max = NO_TIMESTAMP;
    let maxAt = -1;
    let min = Infinity;
    let minAt = -1;
    for (let i = 0; i < count; i++) {
      const recordEnd = this.#recordEnd(buf, at, end, i);
      if (recordEnd < 0) return false;
      at = this.#bodyAt + 1; // attributes
      // timestampDelta: zigzag varlong; at most 7 bytes (49 bits) stay exact here
      let value = 0;
      let scale = 1;
      let byte = 0x80;
      for (let n = 0; (byte & 0x80) !== 0; n++) {
        if (at >= recordEnd) return this.#malformed(`record ${i} ends inside its timestamp delta`);
        if (n === 7) return false;
        byte = buf[at++]!;
        value += (byte & 0x7f) * scale;
        scale *= 128;
      }
      const delta = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      const ts = base + delta;
      if (ts > max) {
        max = ts;
        maxAt = i;
      }
      if (ts < min && ts !== NO_TIMESTAMP) {
        min = ts;
        minAt = i;
      }
      at = recordEnd;
    }
    if (at !== end) return this.#malformed(`record batch has ${end - at} bytes after its ${count} records`);
    if (!Number.isSafeInteger(max) || (min !== Infinity && !Number.isSafeInteger(min))) return false;
    this.maxTimestamp = max;
    this.maxOffsetDelta = maxAt;
    this.minTimestamp = min;
    this.minOffsetDelta = minAt;
    return true;
  }

  /** Exact int64 arithmetic for timestamps beyond 2^53 (wrapping like Java's long addition). */
  #scanBig(buf: Buffer, start: number, end: number, count: number, base: bigint): boolean {
    let at = start;
    let max = -1n;
    let maxAt = -1;
    let min: bigint | null = null;
    let minAt = -1;
    for (let i = 0; i < count; i++) {
      const recordEnd = this.#recordEnd(buf, at, end, i);
      if (recordEnd < 0) return false;
      at = this.#bodyAt + 1; // attributes
      let value = 0n;
      let bits = 0n;
      let byte = 0x80;
      while ((byte & 0x80) !== 0) {
        if (at >= recordEnd || bits > 63n) return this.#malformed(`record ${i} has a bad timestamp delta`);
        byte = buf[at++]!;
        value |= BigInt(byte & 0x7f) << bits;
        bits += 7n;
      }
      const ts = BigInt.asIntN(64, base + ((value >> 1n) ^ -(value & 1n)));
      if (ts > max) {
        max = ts;
        maxAt = i;
      }
      if (ts !== -1n && (min === null || ts < min)) {
        min = ts;
        minAt = i;
      }
      at = recordEnd;
    }
    if (at !== end) return this.#malformed(`record batch has ${end - at} bytes after its ${count} records`);
    this.maxTimestampBig = max >= BigInt(Number.MIN_SAFE_INTEGER) && max <= BigInt(Number.MAX_SAFE_INTEGER) ? null : max;
    this.maxTimestamp = clamp(max);
    this.maxOffsetDelta = maxAt;
    this.minTimestamp = min === null ? Infinity : clamp(min);
    this.minOffsetDelta = minAt;
    return true;
  }

  /** Where the body of the record whose length #recordEnd read starts. */
  #bodyAt = 0;

  /**
   * Reads record `i`'s length (a zigzag varint) at `at`: returns where the record ends and sets #bodyAt to
   * where its body starts; -1 (with `problem` set) when the length is malformed or overruns the batch.
   */
  #recordEnd(buf: Buffer, at: number, end: number, i: number): number {
    let raw = 0;
    let shift = 0;
    let byte = 0x80;
    while ((byte & 0x80) !== 0) {
      if (at >= end || shift > 28) {
        this.#malformed(`record ${i} has a bad length`);
        return -1;
      }
      byte = buf[at++]!;
      raw |= (byte & 0x7f) << shift;
      shift += 7;
    }
    const length = (raw >>> 1) ^ -(raw & 1);
    const recordEnd = at + length;
    if (length < MIN_RECORD_BODY_BYTES || recordEnd > end) {
      this.#malformed(`record ${i} declares ${length} bytes, which do not fit the batch`);
      return -1;
    }
    this.#bodyAt = at;
    return recordEnd;
  }

  #malformed(message: string): false {
    this.problem = message;
    return false;
  }
}

/** Services keep timestamps as numbers; beyond ±2^53 only the order matters to them. */
function clamp(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(value);
}

/** How a topic stamps and checks the timestamps of what producers write (its message.timestamp.* configs). */
export interface TimestampRules {
  /** message.timestamp.type=LogAppendTime: the broker time to stamp; -1 for CreateTime. */
  readonly logAppendTimeMs: number;
  /** The broker's time for the before/after checks. */
  readonly nowMs: number;
  /** message.timestamp.before.max.ms / after.max.ms (Number.MAX_SAFE_INTEGER = no limit). */
  readonly beforeMaxMs: number;
  readonly afterMaxMs: number;
}

/** One scanner for every append: the broker path is synchronous, so it is never used by two at once. */
const shared = new RecordTimestampScan();

function timestampProblem(message: string, recordIndex: number): BatchProblem {
  return { kind: 'INVALID_TIMESTAMP', kafkaError: 'INVALID_TIMESTAMP', message, recordIndex };
}

/**
 * What Kafka's LogValidator does to a producer batch's timestamps, in place (the batch passed
 * validateBatch). LogAppendTime topics: the timestamp-type bit and maxTimestamp become the broker's time
 * (records are left alone; readers report maxTimestamp for every record), nothing is checked or
 * decompressed. CreateTime topics: every record's timestamp is read; one more than after.max.ms ahead of
 * the broker's clock or more than before.max.ms behind it (NO_TIMESTAMP records are exempt) fails the
 * batch with INVALID_TIMESTAMP, as does a producer that set the LogAppendTime bit; otherwise maxTimestamp
 * becomes the records' real maximum. The CRC covers both fields, so it is recomputed — only when a byte
 * changed, as Kafka's DefaultRecordBatch.setMaxTimestamp does.
 */
export function stampBatchTimestamps(batch: Buffer, rules: TimestampRules): BatchProblem | null {
  if (rules.logAppendTimeMs >= 0) {
    patchLogAppendTime(batch, BigInt(rules.logAppendTimeMs));
    return null;
  }
  if (isLogAppendTime(batch)) return timestampProblem('record batch has timestamp type LogAppendTime; producers must send CreateTime (the broker stamps LogAppendTime)', 0);
  const scan = shared;
  if (!scan.scan(batch)) {
    const message = scan.problem ?? 'record batch records cannot be read';
    return scan.tooLarge
      ? { kind: 'DECOMPRESSED_TOO_LARGE', kafkaError: 'INVALID_RECORD', message }
      : { kind: 'RECORDS_MALFORMED', kafkaError: 'CORRUPT_MESSAGE', message };
  }
  const { nowMs, beforeMaxMs, afterMaxMs } = rules;
  if (scan.maxTimestamp !== NO_TIMESTAMP && scan.maxTimestamp - nowMs > afterMaxMs) {
    return timestampProblem(`record ${scan.maxOffsetDelta} has timestamp ${scan.maxTimestamp}, more than message.timestamp.after.max.ms (${afterMaxMs}) ahead of the broker's time ${nowMs}`, scan.maxOffsetDelta);
  }
  if (scan.minTimestamp !== Infinity && nowMs - scan.minTimestamp > beforeMaxMs) {
    return timestampProblem(`record ${scan.minOffsetDelta} has timestamp ${scan.minTimestamp}, more than message.timestamp.before.max.ms (${beforeMaxMs}) behind the broker's time ${nowMs}`, scan.minOffsetDelta);
  }
  // Compared as two 32-bit words: no BigInt on the common path, where the header is already right.
  const max = scan.maxTimestampBig;
  if (max === null) {
    const hi = Math.floor(scan.maxTimestamp / TWO_POW_32);
    if (batch.readInt32BE(MAX_TIMESTAMP_OFFSET) === hi && batch.readUInt32BE(MAX_TIMESTAMP_OFFSET + 4) === scan.maxTimestamp - hi * TWO_POW_32) return null;
    batch.writeBigInt64BE(BigInt(scan.maxTimestamp), MAX_TIMESTAMP_OFFSET);
  } else {
    if (batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET) === max) return null;
    batch.writeBigInt64BE(max, MAX_TIMESTAMP_OFFSET);
  }
  writeCrc(batch);
  return null;
}
