/**
 * Record-level encoder/decoder for magic-2 batches. For tests, the CLI and tools — NOT the broker path,
 * which keeps batches opaque (see record-batch.ts). Decodes every codec (record-decompress.ts); encodes
 * none, gzip and zstd (node:zlib).
 */
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { ProtocolError } from '../protocol-error.ts';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  CONTROL_MASK,
  CURRENT_MAGIC,
  LOG_OVERHEAD_BYTES,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  isLogAppendTime,
  maxTimestamp,
  readBatchHeader,
  writeCrc,
  type RecordBatchHeader,
} from './record-batch.ts';
import { decompressRecords } from './record-decompress.ts';
import { RecordReader, RecordWriter } from './record-varint.ts';

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: readonly { readonly key: string; readonly value: Buffer | string | null }[];
  /** ms since epoch; defaults to the time of encoding. */
  readonly timestamp?: bigint;
}

export type EncodableCompression = 'none' | 'gzip' | 'zstd';

export interface EncodeRecordBatchOptions {
  readonly records: readonly RecordInput[];
  readonly baseOffset?: bigint;
  readonly partitionLeaderEpoch?: number;
  readonly compression?: EncodableCompression;
  /** -1 (default) = not an idempotent producer. */
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly transactional?: boolean;
  readonly control?: boolean;
  readonly logAppendTime?: boolean;
}

export interface DecodedRecord {
  readonly offset: bigint;
  /** For LogAppendTime batches this is the batch's maxTimestamp, as Kafka consumers report it. */
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

export interface DecodedRecordBatch {
  readonly header: RecordBatchHeader;
  readonly records: DecodedRecord[];
}

const COMPRESSION_IDS: { readonly [K in EncodableCompression]: number } = { none: 0, gzip: 1, zstd: 4 };

function toBytes(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

function encodeRecords(records: readonly RecordInput[], baseTimestamp: bigint, timestamps: bigint[]): Buffer {
  const out = new RecordWriter();
  const body = new RecordWriter();
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    body.reset();
    body.int8(0); // record attributes: unused by Kafka
    body.varlong(timestamps[i]! - baseTimestamp);
    body.varint(i);
    body.nullableBytes(toBytes(record.key));
    body.nullableBytes(toBytes(record.value));
    const headers = record.headers ?? [];
    body.varint(headers.length);
    for (const header of headers) {
      body.nullableBytes(Buffer.from(header.key));
      body.nullableBytes(toBytes(header.value));
    }
    const encoded = body.finish();
    out.varint(encoded.length);
    out.raw(encoded);
  }
  return out.finish();
}

function compress(codec: EncodableCompression, data: Buffer): Buffer {
  if (codec === 'gzip') return gzipSync(data);
  if (codec === 'zstd') return zstdCompressSync(data);
  return data;
}

/** Builds a complete magic-2 batch with a valid CRC. */
export function encodeRecordBatch(options: EncodeRecordBatchOptions): Buffer {
  const { records } = options;
  const now = BigInt(Date.now());
  const timestamps = records.map((r) => r.timestamp ?? now);
  let baseTs = -1n;
  let maxTs = -1n;
  if (timestamps.length > 0) {
    // Kafka's producer uses the first record's timestamp as the base; deltas may be negative.
    baseTs = timestamps[0]!;
    maxTs = timestamps.reduce((a, b) => (b > a ? b : a));
  }
  const codec = options.compression ?? 'none';
  const payload = compress(codec, encodeRecords(records, baseTs, timestamps));
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + payload.length);
  let attrs = COMPRESSION_IDS[codec];
  if (options.logAppendTime === true) attrs |= TIMESTAMP_TYPE_MASK;
  if (options.transactional === true) attrs |= TRANSACTIONAL_MASK;
  if (options.control === true) attrs |= CONTROL_MASK;
  batch.writeBigInt64BE(options.baseOffset ?? 0n, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, 8);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, 12);
  batch.writeInt8(CURRENT_MAGIC, 16);
  batch.writeInt16BE(attrs, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(records.length - 1, 23);
  batch.writeBigInt64BE(baseTs, 27);
  batch.writeBigInt64BE(maxTs, 35);
  batch.writeBigInt64BE(options.producerId ?? -1n, 43);
  batch.writeInt16BE(options.producerEpoch ?? -1, 51);
  batch.writeInt32BE(options.baseSequence ?? -1, 53);
  batch.writeInt32BE(records.length, 57);
  payload.copy(batch, BATCH_HEADER_BYTES);
  writeCrc(batch);
  return batch;
}

/** Decodes every record of one batch. Throws ProtocolError KSC_PROTOCOL_MALFORMED on bad bytes. */
export function decodeRecordBatch(batch: Buffer): DecodedRecordBatch {
  const header = readBatchHeader(batch);
  if (header.magic !== CURRENT_MAGIC) {
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record batch magic is ${header.magic}; only magic 2 can be decoded`);
  }
  if (batch.length < header.batchLength + LOG_OVERHEAD_BYTES) {
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record batch is truncated: ${batch.length} of ${header.batchLength + LOG_OVERHEAD_BYTES} bytes`);
  }
  const reader = new RecordReader(decompressRecords(batch));
  const logAppend = isLogAppendTime(batch);
  const appendTime = maxTimestamp(batch);
  const records: DecodedRecord[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    const length = reader.varint();
    const end = reader.position + length;
    reader.int8(); // attributes
    const timestampDelta = reader.varlong();
    const offsetDelta = reader.varint();
    const key = reader.nullableBytes();
    const value = reader.nullableBytes();
    const headerCount = reader.varint();
    if (headerCount < 0) throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record ${i} has a negative header count`);
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const headerKey = reader.nullableBytes();
      if (headerKey === null) throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record ${i} has a null header key`);
      headers.push({ key: headerKey.toString('utf8'), value: reader.nullableBytes() });
    }
    if (reader.position !== end) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record ${i} declares ${length} bytes but its fields take ${reader.position - end + length}`);
    }
    records.push({
      offset: header.baseOffset + BigInt(offsetDelta),
      timestamp: logAppend ? appendTime : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
  if (reader.position !== reader.length) {
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `record batch has ${reader.length - reader.position} bytes after its ${header.recordCount} records`);
  }
  return { header, records };
}
