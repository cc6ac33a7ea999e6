/**
 * One load per key shared by every concurrent reader (an object GET), cancelled only when no reader is
 * left: each reader's AbortSignal ends that reader's own wait, and the shared load is aborted when the
 * last reader has gone. So a consumer that disconnects never fails another consumer's read of the same
 * range, and a range nobody wants any more stops being downloaded.
 */
export type Loader<T> = (signal: AbortSignal) => Promise<T>;

class Inflight<T> {
  readonly controller: AbortController;
  readonly promise: Promise<T>;
  /** Readers still waiting; a reader without a signal never leaves. */
  waiters: number;

  constructor(controller: AbortController, promise: Promise<T>) {
    this.controller = controller;
    this.promise = promise;
    this.waiters = 0;
  }
}

/** Keeps a shared load's rejection from counting as unhandled while its readers observe it their own way. */
function observed(): void {}

export class SharedLoads<T> {
  readonly #inflight = new Map<string, Inflight<T>>();

  /** True while a load of `id` is running. */
  has(id: string): boolean {
    return this.#inflight.has(id);
  }

  /** Loads running now (tests, metrics). */
  get size(): number {
    return this.#inflight.size;
  }

  /**
   * The result of the load of `id` running now, or of `load` started now. `joined` is told whether the
   * caller joined a running load (for hit metrics).
   */
  load(id: string, load: Loader<T>, signal?: AbortSignal, joined?: () => void): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    let entry = this.#inflight.get(id);
    if (entry === undefined) {
      const controller = new AbortController();
      const promise = load(controller.signal).finally(() => {
        if (this.#inflight.get(id) === started) this.#inflight.delete(id);
      });
      promise.then(undefined, observed);
      const started = new Inflight<T>(controller, promise);
      this.#inflight.set(id, started);
      entry = started;
    } else {
      joined?.();
    }
    entry.waiters++;
    if (signal === undefined) return entry.promise;
    return this.#wait(id, entry, signal);
  }

  #wait(id: string, entry: Inflight<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.#leave(id, entry);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error as Error);
        },
      );
    });
  }

  #leave(id: string, entry: Inflight<T>): void {
    entry.waiters--;
    if (entry.waiters > 0) return;
    // Nobody wants it any more: forget it first, so a later reader starts a fresh load.
    if (this.#inflight.get(id) === entry) this.#inflight.delete(id);
    entry.controller.abort(new Error('every reader of this object range has gone'));
  }
}
