/**
 * Idempotent-producer state of one owned partition (docs/design/idempotence.md): what the committed
 * entries hold (what a new owner would rebuild) and, on top of it, every unsettled append — the state new
 * batches are checked against. Failed appends roll it back to committed + what is still pending.
 */
import {
  baseSequence as batchBaseSequence,
  lastOffsetDelta,
  lastSequence as batchLastSequence,
  maxTimestamp as batchMaxTimestamp,
  producerEpoch as batchProducerEpoch,
  producerId as batchProducerId,
} from '../../protocol/records/index.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ProducerStateTable, type ProducerBatch } from '../producers/producer-state.ts';
import type { LogEntry } from './log-entry.ts';
import type { AppendResult, PendingAppend } from './pending-append.ts';

/** Why an append must not be written: a retry of a batch already appended, or a sequence/epoch error. */
export type ProducerRefusal =
  | { readonly kind: 'duplicate'; readonly original: ProducerBatch }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

export class PartitionProducers {
  readonly #now: () => number;
  /** producer.id.expiration.ms: producers idle this long are forgotten. */
  readonly #expirationMs: number;
  /** Producer state of committed entries only: what a new owner would rebuild. */
  #committed: ProducerStateTable;
  /** Committed + every unsettled append, in offset order: what new batches are checked against. */
  #all: ProducerStateTable;
  /** The append that wrote a remembered batch, while it may still be unsettled (retries wait on it). */
  readonly #appendOfBatch = new WeakMap<ProducerBatch, PendingAppend>();
  #lastExpiryMs: number;

  constructor(entries: readonly LogEntry[], now: () => number, expirationMs: number) {
    this.#now = now;
    this.#expirationMs = expirationMs;
    this.#lastExpiryMs = now();
    this.#committed = this.#rebuild(entries);
    this.#all = this.#committed.clone();
  }

  /** Committed and pending batches (DescribeProducers). */
  get table(): ProducerStateTable {
    return this.#all;
  }

  /**
   * The idempotent batches of an append starting at `nextOffset`, with the offsets they will get, or
   * why the append must not be written. Kafka's rule for an append holding a duplicate: the whole append
   * is answered as that duplicate.
   */
  check(batches: readonly Buffer[], nextOffset: number): ProducerBatch[] | ProducerRefusal {
    const found: ProducerBatch[] = [];
    // Later batches of the same producer in one append are checked against the earlier ones.
    let table: ProducerStateTable | null = null;
    let offset = nextOffset;
    for (const batch of batches) {
      const firstOffset = offset;
      offset += lastOffsetDelta(batch) + 1;
      const producerId = batchProducerId(batch);
      if (producerId < 0n) continue;
      const epoch = batchProducerEpoch(batch);
      const firstSeq = batchBaseSequence(batch);
      const lastSeq = batchLastSequence(batch);
      const view: ProducerStateTable = table ?? this.#all;
      const check = view.check(producerId, epoch, firstSeq, lastSeq);
      if (check.kind === 'duplicate') return { kind: 'duplicate', original: check.batch };
      if (check.kind === 'error') return check;
      const meta: ProducerBatch = { producerId, epoch, firstSeq, lastSeq, firstOffset, lastOffset: offset - 1, timestampMs: Number(batchMaxTimestamp(batch)) };
      found.push(meta);
      if (batches.length > 1) {
        table ??= this.#all.clone();
        table.apply(meta);
      }
    }
    return found;
  }

  /** The append was queued with these (checked) batches. */
  added(pending: PendingAppend, batches: ProducerBatch[]): void {
    pending.producerBatches = batches;
    for (const b of batches) {
      this.#all.apply(b);
      this.#appendOfBatch.set(b, pending);
    }
  }

  /** A retry of a batch already appended: its original offset once (and if) the original is durable. */
  duplicateResult(original: ProducerBatch, logStartOffset: number): Promise<AppendResult> {
    const success: AppendResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: original.firstOffset,
      logAppendTimeMs: -1,
      logStartOffset,
      recordErrors: [],
      duplicate: true,
    };
    const pending = this.#appendOfBatch.get(original);
    if (pending === undefined || pending.settled) return Promise.resolve(success);
    // The original is still on its way: answer like it (a failure is retriable and rolls the state back).
    return pending.promise.then((result) => (result.errorCode === ErrorCode.NONE ? { ...success, logStartOffset: result.logStartOffset, logAppendTimeMs: result.logAppendTimeMs } : result));
  }

  /** The append is in the committed log. */
  committed(pending: PendingAppend): void {
    if (pending.producerBatches !== null) for (const b of pending.producerBatches) this.#committed.apply(b);
  }

  /** Failed appends' batches were never written: the state becomes committed + `unsettled` (in offset order). */
  rollback(unsettled: readonly PendingAppend[]): void {
    const table = this.#committed.clone();
    for (const pending of unsettled) {
      if (pending.producerBatches !== null) for (const b of pending.producerBatches) table.apply(b);
    }
    this.#all = table;
  }

  /** After a re-read: the state of the committed entries only. */
  reset(entries: readonly LogEntry[]): void {
    this.#committed = this.#rebuild(entries);
    this.#all = this.#committed.clone();
  }

  maybeExpire(): void {
    const now = this.#now();
    // Scanning every producer on each append would cost O(producers); once a minute (or per tenth of the
    // expiration, when shorter) is precise enough for an expiry measured in hours.
    if (now - this.#lastExpiryMs < Math.min(60_000, this.#expirationMs / 10)) return;
    this.#lastExpiryMs = now;
    this.#committed.expire(now, this.#expirationMs);
    this.#all.expire(now, this.#expirationMs);
  }

  /** Replays the producer batches persisted in the committed entries, minus expired producers. */
  #rebuild(entries: readonly LogEntry[]): ProducerStateTable {
    const table = new ProducerStateTable();
    for (const entry of entries) {
      if (entry.producers !== undefined) for (const b of entry.producers) table.apply(b);
    }
    table.expire(this.#now(), this.#expirationMs);
    return table;
  }
}
