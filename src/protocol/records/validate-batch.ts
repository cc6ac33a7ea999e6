/**
 * Validation of one RecordBatch as it enters the system (Produce). Mirrors the checks Kafka makes in
 * DefaultRecordBatch.ensureValid and LogValidator.validateBatch that need no decompression.
 * Returns null when valid; a problem only on failure, so the happy path allocates nothing.
 */
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_COVERED_OFFSET,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
} from './record-batch.ts';
import { crc32c } from '@node-rs/crc32';

export type BatchProblemKind =
  | 'TOO_SHORT'
  | 'LENGTH_MISMATCH'
  | 'UNSUPPORTED_MAGIC'
  | 'CRC_MISMATCH'
  | 'UNKNOWN_COMPRESSION'
  | 'NEGATIVE_RECORD_COUNT'
  | 'RECORD_COUNT_TOO_LARGE'
  | 'EMPTY_BATCH'
  | 'OFFSET_DELTA_MISMATCH'
  | 'CONTROL_BATCH'
  // Found while reading the records' timestamps (record-timestamps.ts), not by validateBatch:
  | 'RECORDS_MALFORMED'
  | 'DECOMPRESSED_TOO_LARGE'
  | 'INVALID_TIMESTAMP';

/** The Kafka error the problem maps to (names from Kafka's Errors.java; error-codes.ts has the numbers). */
export type BatchProblemKafkaError = 'CORRUPT_MESSAGE' | 'UNSUPPORTED_FOR_MESSAGE_FORMAT' | 'INVALID_RECORD' | 'INVALID_TIMESTAMP';

export interface BatchProblem {
  readonly kind: BatchProblemKind;
  readonly kafkaError: BatchProblemKafkaError;
  /** Says what is wrong with which field, for logs and the response's error message. */
  readonly message: string;
  /** The record at fault inside the batch, when one is (ProduceResponse recordErrors.batchIndex). */
  readonly recordIndex?: number;
}

export interface ValidateBatchOptions {
  /**
   * 'producer' (default): the stricter rules Kafka applies to client writes — at least one record,
   * lastOffsetDelta = recordCount - 1, no control batches. 'stored': only structural integrity.
   */
  readonly origin?: 'producer' | 'stored';
}

const KAFKA_ERROR: { readonly [K in BatchProblemKind]: BatchProblemKafkaError } = {
  TOO_SHORT: 'CORRUPT_MESSAGE',
  LENGTH_MISMATCH: 'CORRUPT_MESSAGE',
  UNSUPPORTED_MAGIC: 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  CRC_MISMATCH: 'CORRUPT_MESSAGE',
  UNKNOWN_COMPRESSION: 'CORRUPT_MESSAGE',
  NEGATIVE_RECORD_COUNT: 'CORRUPT_MESSAGE',
  RECORD_COUNT_TOO_LARGE: 'CORRUPT_MESSAGE',
  EMPTY_BATCH: 'INVALID_RECORD',
  OFFSET_DELTA_MISMATCH: 'INVALID_RECORD',
  CONTROL_BATCH: 'INVALID_RECORD',
  RECORDS_MALFORMED: 'CORRUPT_MESSAGE',
  DECOMPRESSED_TOO_LARGE: 'INVALID_RECORD',
  INVALID_TIMESTAMP: 'INVALID_TIMESTAMP',
};

/** length varint, attributes, timestampDelta, offsetDelta, key length, value length, header count: 1 byte each. */
const MIN_RECORD_BYTES = 7;

function problem(kind: BatchProblemKind, message: string): BatchProblem {
  return { kind, kafkaError: KAFKA_ERROR[kind], message };
}

/** Validates that `buf` is exactly one well-formed magic-2 batch. */
export function validateBatch(buf: Buffer, options?: ValidateBatchOptions): BatchProblem | null {
  // Magic sits at byte 16 in every message format (v0/v1 message sets too), so it can be checked
  // before the v2-sized length checks: an old-format client then gets the precise error.
  if (buf.length <= MAGIC_OFFSET) {
    return problem('TOO_SHORT', `record batch is ${buf.length} bytes, shorter than a batch header (${BATCH_HEADER_BYTES})`);
  }
  const magicByte = buf.readInt8(MAGIC_OFFSET);
  if (magicByte !== CURRENT_MAGIC) {
    return problem('UNSUPPORTED_MAGIC', `record batch magic is ${magicByte}; only magic ${CURRENT_MAGIC} (Kafka 0.11+) is supported`);
  }
  if (buf.length < BATCH_HEADER_BYTES) {
    return problem('TOO_SHORT', `record batch is ${buf.length} bytes, shorter than a batch header (${BATCH_HEADER_BYTES})`);
  }
  const declared = buf.readInt32BE(BATCH_LENGTH_OFFSET);
  if (declared + LOG_OVERHEAD_BYTES !== buf.length) {
    return problem('LENGTH_MISMATCH', `record batch declares batchLength ${declared} (${declared + LOG_OVERHEAD_BYTES} bytes in all) but carries ${buf.length} bytes`);
  }
  const stored = buf.readUInt32BE(CRC_OFFSET);
  const actual = crc32c(buf.subarray(CRC_COVERED_OFFSET)) >>> 0;
  if (stored !== actual) {
    return problem('CRC_MISMATCH', `record batch CRC32C is 0x${stored.toString(16)} but its bytes hash to 0x${actual.toString(16)}`);
  }
  const attrs = buf.readInt16BE(ATTRIBUTES_OFFSET);
  const codec = attrs & COMPRESSION_MASK;
  if (codec > 4) {
    return problem('UNKNOWN_COMPRESSION', `record batch uses compression codec id ${codec}, which Kafka does not define`);
  }
  const count = buf.readInt32BE(RECORD_COUNT_OFFSET);
  if (count < 0) {
    return problem('NEGATIVE_RECORD_COUNT', `record batch declares a negative record count (${count})`);
  }
  // An uncompressed record takes at least MIN_RECORD_BYTES, so a larger count is a lie that would make
  // the broker hand out offsets nobody can read. (Compressed counts can only be checked by decompressing,
  // which the broker path never does.)
  if (codec === 0 && count * MIN_RECORD_BYTES > buf.length - BATCH_HEADER_BYTES) {
    return problem('RECORD_COUNT_TOO_LARGE', `record batch declares ${count} records but its ${buf.length - BATCH_HEADER_BYTES} record bytes cannot hold that many`);
  }
  if ((options?.origin ?? 'producer') === 'stored') return null;
  if (count === 0) {
    return problem('EMPTY_BATCH', 'record batch from a producer has no records');
  }
  const delta = buf.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  if (delta !== count - 1) {
    return problem('OFFSET_DELTA_MISMATCH', `record batch has ${count} records but lastOffsetDelta ${delta} (expected ${count - 1})`);
  }
  if ((attrs & CONTROL_MASK) !== 0) {
    return problem('CONTROL_BATCH', 'producers may not write control batches');
  }
  return null;
}
