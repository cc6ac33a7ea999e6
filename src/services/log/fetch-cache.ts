/**
 * A size-bounded LRU (lru-cache) whose misses are loaded once however many readers ask: lru-cache's
 * fetchMethod coalesces concurrent fetches of a key. What it does not do is honour each reader's
 * AbortSignal — a shared fetch follows the FIRST caller's signal, so one consumer that disconnects would
 * fail every other reader of the same range. Readers' signals are therefore never handed to lru-cache:
 * each one ends only its own wait, and the load (its own AbortController) is aborted when its last reader
 * has gone, after it was deleted from the cache so that a later reader starts a fresh one.
 */
import { LRUCache } from 'lru-cache';

/** Loads the value of a key that is not cached; `context` is what the first reader passed to `get`. */
export type FetchLoader<V, C> = (context: C, signal: AbortSignal) => Promise<V>;

/** One load in flight and the readers still waiting for it (a reader without a signal never leaves). */
class Load {
  readonly controller = new AbortController();
  readers = 0;
}

/** Keeps a shared load's rejection from counting as unhandled when every reader has left it. */
function observed(): void {}

export class FetchCache<V extends object, C> {
  /** Context unknown to lru-cache (its conditional option types do not resolve for a generic C). */
  readonly #cache: LRUCache<string, V, unknown>;
  readonly #loader: FetchLoader<V, C>;
  /** Loads in flight by key. */
  readonly #loads = new Map<string, Load>();
  /** Loads started (object GETs). */
  loads = 0;
  /** Reads served without a load of their own (cached, or joined to one in flight); for metrics. */
  hits = 0;

  constructor(options: { readonly maxSize: number; readonly sizeOf: (value: V) => number; readonly load: FetchLoader<V, C> }) {
    this.#loader = options.load;
    this.#cache = new LRUCache<string, V, unknown>({
      // lru-cache needs a positive bound; with 0 (no cache) only a 1-byte value would fit: none is that small.
      maxSize: Math.max(1, options.maxSize),
      sizeCalculation: (value) => Math.max(1, options.sizeOf(value)),
      // The load's signal is our own (aborted only when no reader is left): an eviction of a load in
      // flight (lru-cache aborts the signal it hands out) must not fail the readers waiting for it.
      ignoreFetchAbort: true,
      fetchMethod: (key, _stale, { context }) => this.#start(key, context as C),
    });
  }

  /** Bytes (by sizeOf) of the values held. */
  get size(): number {
    return this.#cache.calculatedSize;
  }

  /** Cached, or being loaded. */
  has(key: string): boolean {
    return this.#loads.has(key) || this.#cache.has(key);
  }

  /** The cached value of `key` without loading it or counting as a use (undefined while loading). */
  peek(key: string): V | undefined {
    return this.#cache.peek(key);
  }

  /** Forgets a cached value; a load in flight is left to its readers. */
  delete(key: string): void {
    if (!this.#loads.has(key)) this.#cache.delete(key);
  }

  /** Stores a value loaded elsewhere; a load in flight for the key wins (it stores its own). */
  set(key: string, value: V): void {
    if (!this.#loads.has(key)) this.#cache.set(key, value);
  }

  /**
   * The value of `key`, loaded with `context` when neither cached nor loading. `signal` ends this
   * reader's wait only (rejecting with its reason); the load stops when no reader is left.
   */
  get(key: string, context: C, signal?: AbortSignal): Promise<V> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    // The hit path without lru-cache's async fetch (a load in flight reads as a miss here).
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.hits++;
      return Promise.resolve(hit);
    }
    const status: LRUCache.Status<string, V, unknown> = {};
    // Never undefined: the loader resolves a value or rejects, and aborts are ignored (ignoreFetchAbort).
    const shared = this.#cache.fetch(key, { context, status }) as Promise<V>;
    if (status.fetch !== 'miss') this.hits++;
    const load = status.fetch === 'hit' ? undefined : this.#loads.get(key);
    if (load === undefined) return shared;
    load.readers++;
    if (signal === undefined) return shared;
    return new Promise<V>((resolve, reject) => {
      const onAbort = (): void => {
        this.#leave(key, load);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(
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

  /** fetchMethod: runs synchronously inside the `fetch` of a miss. */
  #start(key: string, context: C): Promise<V> {
    const load = new Load();
    this.#loads.set(key, load);
    this.loads++;
    const promise = this.#loader(context, load.controller.signal).finally(() => {
      if (this.#loads.get(key) === load) this.#loads.delete(key);
    });
    promise.then(undefined, observed);
    return promise;
  }

  #leave(key: string, load: Load): void {
    load.readers--;
    if (load.readers > 0) return;
    // Nobody wants it any more: forget it first, so a later reader starts a fresh load.
    if (this.#loads.get(key) === load) {
      this.#loads.delete(key);
      this.#cache.delete(key);
    }
    load.controller.abort(new Error('every reader of this object range has gone'));
  }
}
