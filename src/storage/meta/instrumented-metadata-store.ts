import type { KafscaleMetrics } from '../../telemetry/metrics.ts';
import { RequestObserver } from '../request-observer.ts';
import type { KeyValue, Lease, MetadataStore, RangeResult, Txn, TxnResult, Watch, WatchHandler, WatchOptions } from './metadata-store.ts';

/**
 * Counts and times every metadata-store call (kafscale_metadata_store_*), whatever the adapter. Every
 * produce acknowledgement waits for one `txn` (the log commit), so its latency is part of produce
 * latency; errors here are what COORDINATOR_NOT_AVAILABLE and REQUEST_TIMED_OUT answers come from.
 * Operations: get, range, put, delete (also deletePrefix), txn, lease (grant), watch (start), revision.
 */
export class InstrumentedMetadataStore implements MetadataStore {
  readonly #inner: MetadataStore;
  readonly #calls: RequestObserver;

  constructor(inner: MetadataStore, metrics: KafscaleMetrics) {
    this.#inner = inner;
    this.#calls = new RequestObserver(metrics.metadataStoreRequestsTotal, metrics.metadataStoreRequestDurationSeconds);
  }

  get(key: string): Promise<KeyValue | null> {
    return this.#calls.observe('get', this.#inner.get(key));
  }

  range(prefix: string, options?: { readonly limit?: number }): Promise<RangeResult> {
    return this.#calls.observe('range', this.#inner.range(prefix, options));
  }

  /** Counted as one `range` per page. */
  async *rangePages(prefix: string, options: { readonly pageSize: number }): AsyncIterable<RangeResult> {
    const pages = this.#inner.rangePages(prefix, options)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.#calls.observe('range', pages.next());
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await pages.return?.();
    }
  }

  put(key: string, value: Buffer, options?: { readonly lease?: string }): Promise<number> {
    return this.#calls.observe('put', this.#inner.put(key, value, options));
  }

  delete(key: string): Promise<number> {
    return this.#calls.observe('delete', this.#inner.delete(key));
  }

  deletePrefix(prefix: string): Promise<number> {
    return this.#calls.observe('delete', this.#inner.deletePrefix(prefix));
  }

  txn(txn: Txn): Promise<TxnResult> {
    return this.#calls.observe('txn', this.#inner.txn(txn));
  }

  grantLease(ttlMs: number): Promise<Lease> {
    return this.#calls.observe('lease', this.#inner.grantLease(ttlMs));
  }

  watch(prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch> {
    return this.#calls.observe('watch', this.#inner.watch(prefix, options, handler));
  }

  revision(): Promise<number> {
    return this.#calls.observe('revision', this.#inner.revision());
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
