/**
 * Splits a records field (a concatenation of batches) into per-batch views without copying.
 * Only the length framing is checked here; run validateBatch on each batch that enters the system.
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  CURRENT_MAGIC,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
} from './record-batch.ts';

export interface SplitBatches {
  /** Whole batches, in order; each is a subarray of the input. */
  readonly batches: Buffer[];
  /** Bytes after the last whole batch (a view), or null when the input ends on a batch boundary. */
  readonly trailing: Buffer | null;
  /**
   * Why there are trailing bytes. 'partial': a batch cut short — normal at the end of a Fetch response
   * (brokers may truncate at MaxBytes), a produce error. 'malformed': a length field no batch can have.
   */
  readonly trailingKind: 'partial' | 'malformed' | null;
}

/** batchLength covers everything from partitionLeaderEpoch on, so it is at least header - 12. */
const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
/** Any entry must at least reach the magic byte (partitionLeaderEpoch/crc + magic). */
const MIN_ENTRY_LENGTH = MAGIC_OFFSET + 1 - LOG_OVERHEAD_BYTES;

export function splitBatches(records: Buffer): SplitBatches {
  const batches: Buffer[] = [];
  let position = 0;
  while (position < records.length) {
    const remaining = records.length - position;
    if (remaining < LOG_OVERHEAD_BYTES) {
      return { batches, trailing: records.subarray(position), trailingKind: 'partial' };
    }
    const length = records.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (length < MIN_ENTRY_LENGTH) {
      return { batches, trailing: records.subarray(position), trailingKind: 'malformed' };
    }
    const size = length + LOG_OVERHEAD_BYTES;
    if (size > remaining) {
      return { batches, trailing: records.subarray(position), trailingKind: 'partial' };
    }
    // Old-format (magic 0/1) entries are shorter; they are returned whole so that validateBatch can
    // name the real problem (UNSUPPORTED_FOR_MESSAGE_FORMAT) instead of a framing error.
    if (length < MIN_BATCH_LENGTH && records.readInt8(position + MAGIC_OFFSET) === CURRENT_MAGIC) {
      return { batches, trailing: records.subarray(position), trailingKind: 'malformed' };
    }
    batches.push(records.subarray(position, position + size));
    position += size;
  }
  return { batches, trailing: null, trailingKind: null };
}
