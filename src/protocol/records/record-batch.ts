/**
 * Kafka RecordBatch (magic 2) as an opaque Buffer view. The broker path reads header fields at fixed
 * offsets and patches a few of them in place; it never re-encodes records (it reads their timestamps on
 * Produce, decompressing a compressed batch for that only: record-timestamps.ts).
 *
 * Layout (DefaultRecordBatch.java), all big-endian:
 *   baseOffset int64 @0 | batchLength int32 @8 | partitionLeaderEpoch int32 @12 | magic int8 @16 |
 *   crc uint32 @17 (CRC32C of bytes 21..end) | attributes int16 @21 | lastOffsetDelta int32 @23 |
 *   baseTimestamp int64 @27 | maxTimestamp int64 @35 | producerId int64 @43 | producerEpoch int16 @51 |
 *   baseSequence int32 @53 | recordCount int32 @57 | records @61
 *
 * Every function takes a Buffer that starts at the first byte of a batch; callers obtain such views with
 * `splitBatches` (no copies). Readers do not validate: run `validateBatch` once when bytes enter the system.
 */
import { crc32c } from '@node-rs/crc32';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
/** First byte covered by the CRC: everything after the crc field. */
export const CRC_COVERED_OFFSET = 21;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Size of the batch header: the smallest possible batch (zero records). */
export const BATCH_HEADER_BYTES = RECORDS_OFFSET;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD_BYTES = 12;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;

export const COMPRESSION_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];

export function baseOffset(batch: Buffer): bigint {
  return batch.readBigInt64BE(BASE_OFFSET_OFFSET);
}

export function batchLength(batch: Buffer): number {
  return batch.readInt32BE(BATCH_LENGTH_OFFSET);
}

/** Total size of the batch in bytes, including baseOffset and batchLength. */
export function batchSizeBytes(batch: Buffer): number {
  return batch.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
}

export function partitionLeaderEpoch(batch: Buffer): number {
  return batch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET);
}

export function magic(batch: Buffer): number {
  return batch.readInt8(MAGIC_OFFSET);
}

export function storedCrc(batch: Buffer): number {
  return batch.readUInt32BE(CRC_OFFSET);
}

/** CRC32C of the covered bytes as they are now (compare with `storedCrc`). */
export function computeCrc(batch: Buffer): number {
  return crc32c(batch.subarray(CRC_COVERED_OFFSET, batchSizeBytes(batch))) >>> 0;
}

export function attributes(batch: Buffer): number {
  return batch.readInt16BE(ATTRIBUTES_OFFSET);
}

/** Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; other values are invalid). */
export function compressionId(batch: Buffer): number {
  return batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_MASK;
}

/** The codec name, or undefined for an id Kafka does not define. */
export function compressionCodec(batch: Buffer): CompressionCodec | undefined {
  return COMPRESSION_CODECS[compressionId(batch)];
}

/** True when timestamps are LogAppendTime (set by the broker), false for CreateTime. */
export function isLogAppendTime(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_OFFSET) & TIMESTAMP_TYPE_MASK) !== 0;
}

export function isTransactional(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_OFFSET) & TRANSACTIONAL_MASK) !== 0;
}

export function isControlBatch(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_OFFSET) & CONTROL_MASK) !== 0;
}

export function lastOffsetDelta(batch: Buffer): number {
  return batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
}

export function baseTimestamp(batch: Buffer): bigint {
  return batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET);
}

export function maxTimestamp(batch: Buffer): bigint {
  return batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET);
}

export function producerId(batch: Buffer): bigint {
  return batch.readBigInt64BE(PRODUCER_ID_OFFSET);
}

export function producerEpoch(batch: Buffer): number {
  return batch.readInt16BE(PRODUCER_EPOCH_OFFSET);
}

export function baseSequence(batch: Buffer): number {
  return batch.readInt32BE(BASE_SEQUENCE_OFFSET);
}

/**
 * Sequence number of the batch's last record. Sequences wrap at 2^31-1 back to 0 (KIP-98), so this is
 * not simply baseSequence + lastOffsetDelta.
 */
export function lastSequence(batch: Buffer): number {
  const base = batch.readInt32BE(BASE_SEQUENCE_OFFSET);
  if (base < 0) return base; // -1 = no sequence (not an idempotent producer)
  const last = base + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  return last > 0x7fffffff ? last - 0x80000000 : last;
}

export function recordCount(batch: Buffer): number {
  return batch.readInt32BE(RECORD_COUNT_OFFSET);
}

/** Offset of the batch's last record. */
export function lastOffset(batch: Buffer): bigint {
  return batch.readBigInt64BE(BASE_OFFSET_OFFSET) + BigInt(batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET));
}

/** Offset the next batch of the partition starts at. */
export function nextOffset(batch: Buffer): bigint {
  return lastOffset(batch) + 1n;
}

/** The records section (possibly compressed), as a view. */
export function recordsSection(batch: Buffer): Buffer {
  return batch.subarray(RECORDS_OFFSET, batchSizeBytes(batch));
}

/** Assigns the batch's offsets. baseOffset is outside the CRC, so the CRC stays valid. */
export function patchBaseOffset(batch: Buffer, offset: bigint): void {
  batch.writeBigInt64BE(offset, BASE_OFFSET_OFFSET);
}

/** Stamps the leader (owner) epoch. Outside the CRC, like baseOffset. */
export function patchPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * What Kafka does for a topic with message.timestamp.type=LogAppendTime: set the timestamp-type attribute
 * and maxTimestamp to the broker's time, leave baseTimestamp and the records alone (readers then report
 * maxTimestamp for every record), and recompute the CRC because both fields are covered by it.
 */
export function patchLogAppendTime(batch: Buffer, timestampMs: bigint): void {
  const attrs = batch.readInt16BE(ATTRIBUTES_OFFSET);
  batch.writeInt16BE(attrs | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
  batch.writeBigInt64BE(timestampMs, MAX_TIMESTAMP_OFFSET);
  writeCrc(batch);
}

/** Recomputes and stores the CRC after a change to covered bytes. */
export function writeCrc(batch: Buffer): void {
  batch.writeUInt32BE(computeCrc(batch), CRC_OFFSET);
}

/** All header fields at once, for logs, the CLI and tests (allocates; not for the hot path). */
export interface RecordBatchHeader {
  readonly baseOffset: bigint;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: CompressionCodec | undefined;
  readonly logAppendTime: boolean;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

export function readBatchHeader(batch: Buffer): RecordBatchHeader {
  return {
    baseOffset: baseOffset(batch),
    batchLength: batchLength(batch),
    partitionLeaderEpoch: partitionLeaderEpoch(batch),
    magic: magic(batch),
    crc: storedCrc(batch),
    attributes: attributes(batch),
    compression: compressionCodec(batch),
    logAppendTime: isLogAppendTime(batch),
    transactional: isTransactional(batch),
    control: isControlBatch(batch),
    lastOffsetDelta: lastOffsetDelta(batch),
    baseTimestamp: baseTimestamp(batch),
    maxTimestamp: maxTimestamp(batch),
    producerId: producerId(batch),
    producerEpoch: producerEpoch(batch),
    baseSequence: baseSequence(batch),
    recordCount: recordCount(batch),
  };
}
