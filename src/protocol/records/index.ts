/**
 * Public face of protocol/records: RecordBatch views for the broker path (read, validate, split, patch —
 * decompress only to read timestamps) and a record-level codec for tests and the CLI.
 */
export * from './record-batch.ts';
export { validateBatch } from './validate-batch.ts';
export type { BatchProblem, BatchProblemKafkaError, BatchProblemKind, ValidateBatchOptions } from './validate-batch.ts';
export { splitBatches } from './split-batches.ts';
export { continueCrc32cOverBatch, crc32cCombine } from './crc32c-combine.ts';
export { NO_TIMESTAMP, RecordTimestampScan, stampBatchTimestamps } from './record-timestamps.ts';
export type { TimestampRules } from './record-timestamps.ts';
export { DecompressError, MAX_DECOMPRESSED_BYTES, decompressRecords } from './record-decompress.ts';
export type { SplitBatches } from './split-batches.ts';
export { decodeRecordBatch, encodeRecordBatch } from './record-batch-codec.ts';
export type {
  DecodedRecord,
  DecodedRecordBatch,
  EncodableCompression,
  EncodeRecordBatchOptions,
  RecordHeader,
  RecordInput,
} from './record-batch-codec.ts';
