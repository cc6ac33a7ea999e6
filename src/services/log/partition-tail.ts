/**
 * The owner's in-memory copy of recently acknowledged (committed) batches, so hot consumers are served
 * without a GET. Bounded broker-wide by TailBudget: the oldest batches of any partition go first.
 */
import { batchSizeBytes, lastOffset as batchLastOffset } from '../../protocol/records/index.ts';

export class PartitionTail {
  readonly #batches: Buffer[] = [];
  readonly #bases: number[] = [];
  readonly #lasts: number[] = [];
  #head = 0;
  bytes = 0;

  get firstOffset(): number {
    return this.#head < this.#bases.length ? (this.#bases[this.#head] as number) : Number.POSITIVE_INFINITY;
  }

  /** Appends committed batches (offset order, contiguous with what is held — else the tail restarts). */
  push(batch: Buffer, baseOffset: number): void {
    const last = Number(batchLastOffset(batch));
    const previous = this.#lasts.at(-1);
    if (previous !== undefined && this.#head < this.#lasts.length && previous + 1 !== baseOffset) this.clear();
    this.#batches.push(batch);
    this.#bases.push(baseOffset);
    this.#lasts.push(last);
    this.bytes += batchSizeBytes(batch);
  }

  /** Drops the oldest batch; returns the bytes freed. */
  evictOldest(): number {
    if (this.#head >= this.#batches.length) return 0;
    const freed = batchSizeBytes(this.#batches[this.#head] as Buffer);
    this.#batches[this.#head] = EMPTY;
    this.#head++;
    this.bytes -= freed;
    if (this.#head > 1024 && this.#head * 2 > this.#batches.length) this.#compact();
    return freed;
  }

  clear(): void {
    this.#batches.length = 0;
    this.#bases.length = 0;
    this.#lasts.length = 0;
    this.#head = 0;
    this.bytes = 0;
  }

  /**
   * Whole batches from the one containing `offset`, below `endOffset` (the high watermark), adding up to
   * maxBytes except that the first batch always goes (KIP-74). Null when the tail does not hold `offset`.
   */
  read(offset: number, endOffset: number, maxBytes: number, out: Buffer[]): { bytes: number; nextOffset: number } | null {
    if (offset < this.firstOffset) return null;
    let lo = this.#head;
    let hi = this.#lasts.length - 1;
    let index = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#lasts[mid] as number) < offset) lo = mid + 1;
      else {
        index = mid;
        hi = mid - 1;
      }
    }
    if (index === -1) return null;
    let bytes = 0;
    let next = offset;
    for (let i = index; i < this.#batches.length; i++) {
      if ((this.#bases[i] as number) >= endOffset) break;
      const batch = this.#batches[i] as Buffer;
      const size = batch.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(batch);
      bytes += size;
      next = (this.#lasts[i] as number) + 1;
      if (bytes >= maxBytes) break;
    }
    return { bytes, nextOffset: next };
  }

  #compact(): void {
    this.#batches.splice(0, this.#head);
    this.#bases.splice(0, this.#head);
    this.#lasts.splice(0, this.#head);
    this.#head = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** Broker-wide bound on tail bytes: evicts in acknowledgement order across partitions. */
export class TailBudget {
  readonly maxBytes: number;
  #bytes = 0;
  readonly #order: PartitionTail[] = [];
  #head = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(tail: PartitionTail, batch: Buffer, baseOffset: number): void {
    if (this.maxBytes <= 0) return;
    const before = tail.bytes;
    tail.push(batch, baseOffset);
    this.#bytes += tail.bytes - before;
    this.#order.push(tail);
    while (this.#bytes > this.maxBytes && this.#head < this.#order.length) {
      const victim = this.#order[this.#head] as PartitionTail;
      this.#head++;
      this.#bytes -= victim.evictOldest();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** A tail that restarted or was dropped: its bytes no longer count. */
  forget(tail: PartitionTail): void {
    this.#bytes -= tail.bytes;
    tail.clear();
  }
}
