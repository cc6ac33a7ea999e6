/**
 * The broker's memory budget for the write path: bytes appended and not yet settled by a flush (queued
 * in partitions, taken by a flush in flight) are bounded by `maxBytes`; an append beyond it waits, FIFO,
 * so call order is kept. This is the one place that counts those bytes: partitions add and drop queued
 * bytes, the flush pipeline moves them into a flush and frees them when the flush has settled
 * (docs/design/storage.md, "Write path and flush pipeline").
 */

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
}

export class PendingBytes {
  readonly maxBytes: number;
  /** Queued + in flight + reserved by woken waiters (the memory bound). */
  #bytes = 0;
  /** Queued in partitions, not yet taken by a flush (the flush trigger). */
  #queuedBytes = 0;
  readonly #waiters: Waiter[] = [];
  /** Waiters woken with a reservation that have not queued (or cancelled) yet. */
  #woken = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True when `bytes` more would exceed the bound, or others already wait (they go first). */
  mustWait(bytes: number): boolean {
    // Woken waiters have not assigned their offsets yet: newcomers queue behind them (call order).
    // An append larger than the whole bound still goes through alone, or it could never be written.
    return this.#waiters.length > 0 || this.#woken > 0 || (this.#bytes > 0 && this.#bytes + bytes > this.maxBytes);
  }

  /** Resolves, in call order, once `bytes` fit; the caller then holds a reservation: queued() or cancel() it. */
  waitForRoom(bytes: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push({ bytes, resolve });
    });
  }

  /** An append's bytes were queued; `reserved`: they were counted when it was woken from waitForRoom. */
  queued(bytes: number, reserved: boolean): void {
    if (reserved) this.#woken--;
    else this.#bytes += bytes;
    this.#queuedBytes += bytes;
    if (reserved) this.#wake();
  }

  /** A woken append was refused after all: its reservation is returned. */
  cancel(bytes: number): void {
    this.#woken--;
    this.#bytes -= bytes;
    this.#wake();
  }

  /** Queued bytes whose appends failed before any flush took them. */
  dropQueued(bytes: number): void {
    this.#bytes -= bytes;
    this.#queuedBytes -= bytes;
    this.#wake();
  }

  /** A flush took queued bytes; they count against the bound until flushed(). */
  taken(bytes: number): void {
    this.#queuedBytes -= bytes;
  }

  /** A flush settled (committed or failed): its bytes are free. */
  flushed(bytes: number): void {
    this.#bytes -= bytes;
    this.#wake();
  }

  /** Wakes waiting appends in FIFO order while they fit; each woken one holds a reservation. */
  #wake(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0] as Waiter;
      if (this.#bytes > 0 && this.#bytes + waiter.bytes > this.maxBytes) return;
      this.#waiters.shift();
      this.#bytes += waiter.bytes;
      this.#woken++;
      waiter.resolve();
    }
  }
}
