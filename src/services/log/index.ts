/** Public face of the storage engine's log service (docs/design/storage.md). */
export { LogService } from './log-service.ts';
export type { AcquireResult, DeleteRecordsResult, EpochEndOffset, ListOffsetResult, LogServiceOptions, OffsetQuery, ReadResult, TopicRef } from './log-service.ts';
export type { AppendResult, RecordError, PartitionLog, PartitionLogStatus } from './partition-log.ts';
export { LOG_DEFAULTS } from './log-defaults.ts';
export type { FlushOptions } from './flush-pipeline.ts';
export type { LogEntry, OwnerRecord, EpochStart } from './log-entry.ts';
export { decodeWalObject } from './wal-object.ts';
export { PartitionAssigner } from './partition-assigner.ts';
