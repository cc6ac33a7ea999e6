/**
 * FIFO counting semaphore bounding in-flight requests to a remote store. Waiters are served in arrival
 * order, so a burst of list pages cannot starve the flush pipeline's PUTs.
 */
export class RequestSemaphore {
  readonly #limit: number;
  #inFlight = 0;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves when a permit is held; the caller must call release() exactly once afterwards. */
  acquire(): Promise<void> {
    if (this.#inFlight < this.#limit) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    // The permit passes straight to the next waiter, so inFlight stays the same.
    if (next !== undefined) next();
    else this.#inFlight--;
  }
}
