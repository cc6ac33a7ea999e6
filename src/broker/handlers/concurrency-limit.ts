/**
 * At most `limit` tasks of one request running at once (reads of the partitions of one Fetch or
 * ListOffsets): concurrent enough that a cold read of many partitions does not pay one object GET after
 * another, bounded so that one request cannot open hundreds of GETs.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  readonly #queue: Array<() => void> = [];
  #running = 0;

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`ConcurrencyLimit: limit must be an integer >= 1, got ${limit}`);
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#queue.push(resolve));
    else this.#running++;
    try {
      return await task();
    } finally {
      const next = this.#queue.shift();
      // The slot passes straight to the next task, so #running stays counted.
      if (next === undefined) this.#running--;
      else next();
    }
  }
}
