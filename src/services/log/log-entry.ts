/**
 * Committed log entries and the small per-partition records beside them, as stored in the metadata store
 * (docs/design/storage.md). Offsets and timestamps are numbers: offsets stay < 2^53 for any log that can
 * exist (9e15 records), timestamps are ms since epoch.
 */
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { decodeProducerBatches, encodeProducerBatches, type ProducerBatch, type StoredProducerBatch } from '../producers/producer-state.ts';

export interface LogEntry {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly objectKey: string;
  /** Byte range of the entry's batches in the object, end exclusive. */
  readonly byteStart: number;
  readonly byteEnd: number;
  readonly maxTimestamp: number;
  readonly batchCount: number;
  /** Owner epoch that committed the entry. */
  readonly epoch: number;
  /**
   * Idempotent-producer batches of this entry (per producer its last 5), so that producer state is
   * durable exactly when the data is and a new owner rebuilds it from the entries (idempotence.md).
   */
  readonly producers?: readonly ProducerBatch[];
  /**
   * Set on entries written by the merger: the key of the segment's `.index` (objectKey is then the
   * `.kfs` segment), which turns a fetch offset into a smaller byte range to GET (segment-format.ts).
   */
  readonly indexKey?: string;
}

interface StoredEntry { b: number; l: number; o: string; s: number; e: number; t: number; n: number; ep: number; p?: StoredProducerBatch[]; x?: string }

export function encodeLogEntry(entry: LogEntry): Buffer {
  const stored: StoredEntry = {
    b: entry.baseOffset,
    l: entry.lastOffset,
    o: entry.objectKey,
    s: entry.byteStart,
    e: entry.byteEnd,
    t: entry.maxTimestamp,
    n: entry.batchCount,
    ep: entry.epoch,
  };
  if (entry.producers !== undefined && entry.producers.length > 0) stored.p = encodeProducerBatches(entry.producers);
  if (entry.indexKey !== undefined) stored.x = entry.indexKey;
  return Buffer.from(JSON.stringify(stored));
}

export function decodeLogEntry(value: Buffer): LogEntry {
  const s = JSON.parse(value.toString('utf8')) as Partial<StoredEntry>;
  if (typeof s.b !== 'number' || typeof s.l !== 'number' || typeof s.o !== 'string' || typeof s.s !== 'number' || typeof s.e !== 'number') {
    throw new KafscaleError('KSC_INTERNAL', 'log entry in the metadata store lacks offsets, object key or byte range');
  }
  let entry: LogEntry = { baseOffset: s.b, lastOffset: s.l, objectKey: s.o, byteStart: s.s, byteEnd: s.e, maxTimestamp: s.t ?? -1, batchCount: s.n ?? 0, epoch: s.ep ?? 0 };
  if (s.p !== undefined) entry = { ...entry, producers: decodeProducerBatches(s.p) };
  if (typeof s.x === 'string') entry = { ...entry, indexKey: s.x };
  return entry;
}

export interface OwnerRecord {
  readonly brokerId: number;
  readonly epoch: number;
  readonly acquiredMs: number;
}

export interface EpochStart {
  readonly epoch: number;
  readonly startOffset: number;
}

/** Leader-epoch history kept per partition; older epochs than this are of no use to any client. */
export const MAX_EPOCH_HISTORY = 64;

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson<T>(value: Buffer): T {
  return JSON.parse(value.toString('utf8')) as T;
}
