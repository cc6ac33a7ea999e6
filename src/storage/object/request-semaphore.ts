/**
 * FIFO counting semaphore bounding in-flight requests to a remote store. Waiters are served in arrival
 * order, so a burst of list pages cannot starve the flush pipeline's PUTs.
 *
 * Background requests (read-ahead GETs, merge PUTs) are a second class: they hold at most
 * `backgroundLimit` permits together, and a released permit goes to a foreground waiter first. So however
 * much a broker reads ahead or merges, a WAL flush PUT or a consumer's own GET never queues behind it for
 * more than the permits background work already holds.
 */
export class RequestSemaphore {
  readonly #limit: number;
  readonly #backgroundLimit: number;
  #inFlight = 0;
  #backgroundInFlight = 0;
  readonly #waiters: (() => void)[] = [];
  readonly #backgroundWaiters: (() => void)[] = [];

  /** `backgroundLimit` defaults to half the limit (at least 1). */
  constructor(limit: number, backgroundLimit = Math.max(1, Math.floor(limit / 2))) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    if (!Number.isInteger(backgroundLimit) || backgroundLimit < 1 || backgroundLimit > limit) {
      throw new RangeError(`background limit must be an integer in [1, ${limit}], got ${backgroundLimit}`);
    }
    this.#limit = limit;
    this.#backgroundLimit = backgroundLimit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get backgroundInFlight(): number {
    return this.#backgroundInFlight;
  }

  get waiting(): number {
    return this.#waiters.length + this.#backgroundWaiters.length;
  }

  /** Resolves when a permit is held; the caller must call release(background) exactly once afterwards. */
  acquire(background = false): Promise<void> {
    if (background) {
      if (this.#inFlight < this.#limit && this.#backgroundInFlight < this.#backgroundLimit && this.#waiters.length === 0) {
        this.#inFlight++;
        this.#backgroundInFlight++;
        return Promise.resolve();
      }
      return new Promise((resolve) => this.#backgroundWaiters.push(resolve));
    }
    if (this.#inFlight < this.#limit) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(background = false): void {
    this.#inFlight--;
    if (background) this.#backgroundInFlight--;
    // Foreground first; a background waiter only within its own share.
    const next = this.#waiters.shift();
    if (next !== undefined) {
      this.#inFlight++;
      next();
      return;
    }
    if (this.#backgroundInFlight < this.#backgroundLimit && this.#inFlight < this.#limit) {
      const waiter = this.#backgroundWaiters.shift();
      if (waiter === undefined) return;
      this.#inFlight++;
      this.#backgroundInFlight++;
      waiter();
    }
  }
}
