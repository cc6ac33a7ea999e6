/**
 * Per-partition idempotent-producer state (docs/design/idempotence.md): for every producer id the
 * current epoch and the metadata of its last 5 batches — exactly what Kafka's ProducerStateManager keeps
 * for a non-transactional producer. The partition owner checks every batch against it *before* offsets
 * are assigned, in the same synchronous step, so check, state update and offset assignment are atomic.
 *
 * Producer ids are bigint (int64 on the wire, chosen by the client in its batches); offsets and
 * timestamps are numbers (see log-entry.ts for why that is safe).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';

/** Kafka keeps this many batches per producer for duplicate detection (the client's max in-flight is 5). */
export const PRODUCER_BATCHES_RETAINED = 5;

/** Kafka's producer.id.expiration.ms default: one day. */
export const PRODUCER_ID_EXPIRATION_MS_DEFAULT = 86_400_000;

/** One idempotent batch as remembered for duplicate detection and persisted beside its log entry. */
export interface ProducerBatch {
  readonly producerId: bigint;
  readonly epoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** The batch's max timestamp: what producer.id.expiration.ms is measured against (as in Kafka). */
  readonly timestampMs: number;
}

export interface ProducerEntry {
  readonly producerId: bigint;
  epoch: number;
  /** Oldest first, at most PRODUCER_BATCHES_RETAINED, all of `epoch`. */
  batches: ProducerBatch[];
  lastTimestampMs: number;
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  /** An exact retry of a remembered batch: answer with its original offsets, append nothing. */
  | { readonly kind: 'duplicate'; readonly batch: ProducerBatch }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

const APPEND: SequenceCheck = { kind: 'append' };
const INT32_MAX = 0x7fffffff;

/** Kafka's inSequence: the next sequence, wrapping from Int.MaxValue to 0 (KIP-98). */
function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateTable {
  readonly #producers = new Map<bigint, ProducerEntry>();

  get size(): number {
    return this.#producers.size;
  }

  get(producerId: bigint): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.#producers.values();
  }

  /**
   * Kafka's rules (UnifiedLog.analyzeAndValidateProducerState + ProducerAppendInfo), in Kafka's order:
   * a duplicate of one of the remembered batches of the same epoch wins; then a lower epoch is
   * INVALID_PRODUCER_EPOCH; a higher epoch must start at sequence 0; the same epoch must continue the
   * last sequence. A producer this partition has no state for (new, expired, or its batches removed by
   * retention) is accepted at any sequence: since KIP-360 (Kafka 2.5) brokers no longer answer
   * UNKNOWN_PRODUCER_ID, clients handle the resulting state by themselves.
   */
  check(producerId: bigint, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return APPEND;
    if (epoch === entry.epoch) {
      for (const b of entry.batches) {
        if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', batch: b };
      }
    }
    if (epoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer ${producerId} sent epoch ${epoch}, older than its current epoch ${entry.epoch}` };
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) {
        return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} started epoch ${epoch} at sequence ${firstSeq}; a new epoch starts at 0` };
      }
      return APPEND;
    }
    const last = entry.batches.at(-1);
    if (last !== undefined && !inSequence(last.lastSeq, firstSeq)) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} epoch ${epoch}: expected sequence ${last.lastSeq === INT32_MAX ? 0 : last.lastSeq + 1}, got ${firstSeq}` };
    }
    return APPEND;
  }

  /** Records an appended batch (after check said 'append', or when replaying committed state). */
  apply(batch: ProducerBatch): void {
    let entry = this.#producers.get(batch.producerId);
    if (entry === undefined) {
      entry = { producerId: batch.producerId, epoch: batch.epoch, batches: [], lastTimestampMs: batch.timestampMs };
      this.#producers.set(batch.producerId, entry);
    } else if (batch.epoch > entry.epoch) {
      entry.epoch = batch.epoch;
      entry.batches = [];
    } else if (batch.epoch < entry.epoch) {
      return; // never produced by check(); committed history cannot go back in epochs
    }
    entry.batches.push(batch);
    if (entry.batches.length > PRODUCER_BATCHES_RETAINED) entry.batches.shift();
    if (batch.timestampMs > entry.lastTimestampMs) entry.lastTimestampMs = batch.timestampMs;
  }

  /** Drops producers whose last batch is older than `expirationMs` (producer.id.expiration.ms). */
  expire(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.#producers) {
      if (nowMs - entry.lastTimestampMs >= expirationMs) {
        this.#producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  clone(): ProducerStateTable {
    const copy = new ProducerStateTable();
    for (const [id, entry] of this.#producers) {
      copy.#producers.set(id, { producerId: id, epoch: entry.epoch, batches: entry.batches.slice(), lastTimestampMs: entry.lastTimestampMs });
    }
    return copy;
  }
}

/**
 * The rows persisted in one log entry: per producer, its last PRODUCER_BATCHES_RETAINED batches of the
 * entry (older ones can never be needed: replay keeps only the last 5 anyway), in offset order.
 */
export function retainedBatches(batches: readonly ProducerBatch[]): ProducerBatch[] {
  if (batches.length <= PRODUCER_BATCHES_RETAINED) return batches.slice();
  const counts = new Map<bigint, number>();
  const keep: ProducerBatch[] = [];
  for (let i = batches.length - 1; i >= 0; i--) {
    const b = batches[i] as ProducerBatch;
    const n = counts.get(b.producerId) ?? 0;
    if (n >= PRODUCER_BATCHES_RETAINED) continue;
    counts.set(b.producerId, n + 1);
    keep.push(b);
  }
  return keep.reverse();
}

/** Compact JSON row: [producerId (string: int64), epoch, firstSeq, lastSeq, firstOffset, lastOffset, timestampMs]. */
export type StoredProducerBatch = [string, number, number, number, number, number, number];

export function encodeProducerBatches(batches: readonly ProducerBatch[]): StoredProducerBatch[] {
  return batches.map((b) => [b.producerId.toString(), b.epoch, b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset, b.timestampMs]);
}

export function decodeProducerBatches(rows: unknown): ProducerBatch[] {
  if (!Array.isArray(rows)) return [];
  const out: ProducerBatch[] = [];
  for (const row of rows as unknown[]) {
    if (!Array.isArray(row) || row.length < 7 || typeof row[0] !== 'string') continue;
    const [id, epoch, firstSeq, lastSeq, firstOffset, lastOffset, timestampMs] = row as StoredProducerBatch;
    out.push({ producerId: BigInt(id), epoch, firstSeq, lastSeq, firstOffset, lastOffset, timestampMs });
  }
  return out;
}

/**
 * Producer rows a merged log entry may hold: no segment can carry more (≈ 70 bytes each when encoded, so
 * ≈ 350 KB), which keeps every merge's swap txn far inside the metadata store's byte limit.
 */
export const MAX_PRODUCER_ROWS_PER_ENTRY = 5_000;

/**
 * The rows a merge carries into its entry: per producer its last PRODUCER_BATCHES_RETAINED batches, minus
 * producers idle for `expirationMs` at `nowMs` (producer.id.expiration.ms, as the owner's table expires
 * them) — without this a segment re-merged again and again would carry every producer that ever wrote to
 * the partition until its swap txn no longer fits. Beyond `maxRows` the least recently active producers
 * are left out (their state lives on in the owner's table; only a failover forgets them early).
 */
export function liveProducerRows(batches: readonly ProducerBatch[], nowMs: number, expirationMs: number, maxRows = MAX_PRODUCER_ROWS_PER_ENTRY): ProducerBatch[] {
  const lastSeen = new Map<bigint, number>();
  for (const b of batches) {
    const seen = lastSeen.get(b.producerId);
    if (seen === undefined || b.timestampMs > seen) lastSeen.set(b.producerId, b.timestampMs);
  }
  for (const [id, last] of lastSeen) if (nowMs - last >= expirationMs) lastSeen.delete(id);
  let kept = retainedBatches(batches.filter((b) => lastSeen.has(b.producerId)));
  if (kept.length > maxRows) {
    const byRecency = [...lastSeen.entries()].sort((a, b) => b[1] - a[1]);
    const allowed = new Set<bigint>();
    let rows = 0;
    const perProducer = new Map<bigint, number>();
    for (const b of kept) perProducer.set(b.producerId, (perProducer.get(b.producerId) ?? 0) + 1);
    for (const [id] of byRecency) {
      const n = perProducer.get(id) ?? 0;
      if (rows + n > maxRows) break;
      rows += n;
      allowed.add(id);
    }
    kept = kept.filter((b) => allowed.has(b.producerId));
  }
  return kept;
}
