import type { KafscaleMetrics } from '../../telemetry/metrics.ts';
import { RequestObserver } from '../request-observer.ts';
import type { GetOptions, ObjectInfo, ObjectStore } from './object-store.ts';

/**
 * Counts and times every object-store call (kafscale_object_store_*), whatever the adapter. PUT and
 * GET counts per GB — the cost figures of an object-storage broker — come from these counters.
 */
export class InstrumentedObjectStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #calls: RequestObserver;

  constructor(inner: ObjectStore, metrics: KafscaleMetrics) {
    this.#inner = inner;
    this.#calls = new RequestObserver(metrics.objectStoreRequestsTotal, metrics.objectStoreRequestDurationSeconds);
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: { readonly signal?: AbortSignal }): Promise<void> {
    return this.#calls.observe('put', this.#inner.put(key, body, options));
  }

  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.#calls.observe('get', this.#inner.get(key, options));
  }

  head(key: string): Promise<ObjectInfo> {
    return this.#calls.observe('head', this.#inner.head(key));
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.#calls.observeIteration('list', this.#inner.list(prefix));
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.#calls.observe('delete', this.#inner.delete(keys));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
