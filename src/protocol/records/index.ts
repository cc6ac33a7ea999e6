/**
 * Public face of protocol/records: RecordBatch views for the broker path (read, validate, split, patch —
 * never decompress) and a record-level codec for tests and the CLI.
 */
export * from './record-batch.ts';
export { validateBatch } from './validate-batch.ts';
export type { BatchProblem, BatchProblemKafkaError, BatchProblemKind, ValidateBatchOptions } from './validate-batch.ts';
export { splitBatches } from './split-batches.ts';
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
