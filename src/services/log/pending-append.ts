/**
 * One append call's batches on their way to durability, and what the append answers (Kafka's
 * ProduceResponse per partition). See docs/design/storage.md, "Write path".
 */
import type { ProducerBatch } from '../producers/producer-state.ts';

export interface RecordError {
  readonly batchIndex: number;
  readonly message: string;
}

export interface AppendResult {
  /** ErrorCode.NONE once durable; otherwise a Kafka error code (retriable ones: the producer retries). */
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** Offset of the first record appended, or -1 on error. */
  readonly baseOffset: number;
  /** The broker time stamped on LogAppendTime topics, else -1. */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** Per-batch problems (INVALID_RECORD / CORRUPT_MESSAGE), Kafka's ProduceResponse recordErrors. */
  readonly recordErrors: readonly RecordError[];
  /**
   * True when the append was an exact retry of an idempotent batch already written: nothing was
   * appended and baseOffset is the original batch's offset. Kafka answers such a retry with NONE and
   * the original offset (the Java client also accepts DUPLICATE_SEQUENCE_NUMBER as success), so the
   * Produce handler needs no special case. Absent = false.
   */
  readonly duplicate?: boolean;
}

/** The answer to an append that was not (or will not be) written. */
export function appendFailure(errorCode: number, errorMessage: string, logStartOffset: number, recordErrors: readonly RecordError[] = []): AppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset, recordErrors };
}

/** One append call's batches on their way to durability. */
export class PendingAppend {
  readonly batches: readonly Buffer[];
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: number;
  readonly maxTimestamp: number;
  readonly logAppendTimeMs: number;
  /** The idempotent batches of this append, with their offsets (null: none). */
  producerBatches: ProducerBatch[] | null = null;
  /** The WAL object of the flush that took this append (null: still queued). */
  objectKey: string | null = null;
  settled = false;
  /** Set when a commit carrying this append was sent to the metadata store: from then on, until it is
   * resolved, whether the append is written is unknown to anyone but the store. */
  commitSent = false;
  readonly #resolve: (result: AppendResult) => void;
  readonly promise: Promise<AppendResult>;

  constructor(batches: readonly Buffer[], baseOffset: number, lastOffset: number, bytes: number, maxTimestamp: number, logAppendTimeMs: number) {
    this.batches = batches;
    this.baseOffset = baseOffset;
    this.lastOffset = lastOffset;
    this.bytes = bytes;
    this.maxTimestamp = maxTimestamp;
    this.logAppendTimeMs = logAppendTimeMs;
    let resolve!: (result: AppendResult) => void;
    this.promise = new Promise<AppendResult>((r) => {
      resolve = r;
    });
    this.#resolve = resolve;
  }

  settle(result: AppendResult): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(result);
  }
}
