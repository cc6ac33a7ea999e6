import type { KafscaleMetrics } from '../../telemetry/metrics.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from './object-store.ts';

/**
 * Counts and times every object-store call (kafscale_object_store_*), whatever the adapter. PUT and
 * GET counts per GB — the cost figures of an object-storage broker — come from these counters.
 */
export class InstrumentedObjectStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #metrics: KafscaleMetrics;

  constructor(inner: ObjectStore, metrics: KafscaleMetrics) {
    this.#inner = inner;
    this.#metrics = metrics;
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: { readonly signal?: AbortSignal }): Promise<void> {
    return this.#observe('put', this.#inner.put(key, body, options));
  }

  get(key: string, options?: { readonly range?: ByteRange; readonly signal?: AbortSignal }): Promise<Buffer> {
    return this.#observe('get', this.#inner.get(key, options));
  }

  head(key: string): Promise<ObjectInfo> {
    return this.#observe('head', this.#inner.head(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const stop = this.#metrics.objectStoreRequestDurationSeconds.startTimer({ operation: 'list' });
    let outcome = 'ok';
    try {
      yield* this.#inner.list(prefix);
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      stop();
      this.#metrics.objectStoreRequestsTotal.inc({ operation: 'list', outcome });
    }
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.#observe('delete', this.#inner.delete(keys));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #observe<T>(operation: string, call: Promise<T>): Promise<T> {
    const stop = this.#metrics.objectStoreRequestDurationSeconds.startTimer({ operation });
    try {
      const value = await call;
      this.#metrics.objectStoreRequestsTotal.inc({ operation, outcome: 'ok' });
      return value;
    } catch (error) {
      this.#metrics.objectStoreRequestsTotal.inc({ operation, outcome: 'error' });
      throw error;
    } finally {
      stop();
    }
  }
}
