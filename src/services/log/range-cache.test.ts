import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import type { ByteRange, ObjectStore } from '../../storage/object/object-store.ts';
import { RangeCache } from './range-cache.ts';
import { encodeSegmentIndex } from './segment-format.ts';
import { SegmentIndexCache } from './segment-index-cache.ts';

/** A real in-memory store whose GETs wait for `release()` and honour their AbortSignal like S3 does. */
class GatedStore {
  readonly inner = new MemoryObjectStore();
  readonly signals: AbortSignal[] = [];
  #gate = Promise.withResolvers<void>();
  /** Keys whose GETs wait for the gate (default: every key). */
  readonly #gated: (key: string) => boolean;

  constructor(gated: (key: string) => boolean = () => true) {
    this.#gated = gated;
  }

  release(): void {
    this.#gate.resolve();
  }

  readonly store: ObjectStore = {
    put: (key, body, options) => this.inner.put(key, body, options),
    head: (key) => this.inner.head(key),
    list: (prefix) => this.inner.list(prefix),
    delete: (keys) => this.inner.delete(keys),
    close: () => this.inner.close(),
    get: async (key: string, options?: { readonly range?: ByteRange; readonly signal?: AbortSignal }) => {
      const signal = options?.signal;
      if (!this.#gated(key)) return this.inner.get(key, options);
      if (signal !== undefined) this.signals.push(signal);
      const aborted = new Promise<never>((_, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
      aborted.catch(() => {});
      await Promise.race([this.#gate.promise, aborted]);
      return this.inner.get(key, options);
    },
  };
}

describe('RangeCache', () => {
  test('readers share one GET; the first reader aborting does not fail the second', async () => {
    const gated = new GatedStore();
    await gated.inner.put('wal/1', Buffer.from('0123456789'));
    const cache = new RangeCache(gated.store, 1024);
    const first = new AbortController();
    const second = new AbortController();
    const a = cache.get('wal/1', 2, 6, first.signal);
    const b = cache.get('wal/1', 2, 6, second.signal);
    assert.equal(cache.gets, 1, 'the second reader joins the GET in flight');
    first.abort(new Error('consumer disconnected'));
    await assert.rejects(a, /consumer disconnected/);
    assert.equal(gated.signals[0]?.aborted, false, 'the shared GET keeps running for the reader left');
    gated.release();
    assert.equal((await b).toString(), '2345');
    assert.equal((await cache.get('wal/1', 2, 6)).toString(), '2345', 'and the range is cached');
    assert.equal(cache.gets, 1);
  });

  test('the GET is aborted when its last reader leaves, and a later reader starts a fresh one', async () => {
    const gated = new GatedStore();
    await gated.inner.put('wal/2', Buffer.from('abcdef'));
    const cache = new RangeCache(gated.store, 1024);
    const readers = [new AbortController(), new AbortController()];
    const reads = readers.map((c) => cache.get('wal/2', 0, 3, c.signal));
    for (const c of readers) c.abort(new Error('gone'));
    for (const r of reads) await assert.rejects(r, /gone/);
    assert.equal(gated.signals[0]?.aborted, true, 'nobody is left: the GET itself is cancelled');
    assert.equal(cache.has('wal/2', 0, 3), false);
    const again = cache.get('wal/2', 0, 3);
    assert.equal(cache.gets, 2);
    gated.release();
    assert.equal((await again).toString(), 'abc');
  });

  test('a reader without a signal keeps the shared GET alive; a failed GET fails every reader and is not cached', async () => {
    const gated = new GatedStore();
    await gated.inner.put('wal/3', Buffer.from('xyz'));
    const cache = new RangeCache(gated.store, 1024);
    const aborting = new AbortController();
    const a = cache.get('wal/3', 0, 3, aborting.signal);
    const b = cache.get('wal/3', 0, 3);
    aborting.abort(new Error('left'));
    await assert.rejects(a, /left/);
    assert.equal(gated.signals[0]?.aborted, false);
    gated.release();
    assert.equal((await b).toString(), 'xyz');

    const missing = [cache.get('wal/none', 0, 3), cache.get('wal/none', 0, 3, new AbortController().signal)];
    for (const read of missing) await assert.rejects(read, { code: 'KSC_OBJECT_NOT_FOUND' });
    assert.equal(cache.has('wal/none', 0, 3), false);
  });

  test('an already-aborted signal fails at once without a GET', async () => {
    const gated = new GatedStore();
    const cache = new RangeCache(gated.store, 1024);
    await assert.rejects(cache.get('wal/4', 0, 1, AbortSignal.abort(new Error('closed'))), /closed/);
    assert.equal(cache.gets, 0);
  });

  test('holds at most maxBytes, dropping the least recently used range first', async () => {
    const objects = new MemoryObjectStore();
    await objects.put('wal/5', Buffer.from('0123456789abcdef'));
    const cache = new RangeCache(objects, 10);
    await cache.get('wal/5', 0, 4);
    await cache.get('wal/5', 4, 8);
    await cache.get('wal/5', 0, 4); // touched: now the most recently used
    await cache.get('wal/5', 8, 12);
    assert.equal(cache.bytes, 8);
    assert.equal(cache.has('wal/5', 0, 4), true);
    assert.equal(cache.has('wal/5', 4, 8), false, 'the least recently used range was evicted');
    assert.equal(cache.has('wal/5', 8, 12), true);
    assert.deepEqual({ gets: cache.gets, hits: cache.hits }, { gets: 3, hits: 1 });
    await cache.get('wal/5', 0, 16);
    assert.equal(cache.has('wal/5', 0, 16), false, 'a range larger than the whole cache is served, not kept');
    assert.equal(cache.bytes, 8);
  });

  test('a GET evicted from the cache while in flight still answers every reader', async () => {
    const gated = new GatedStore((key) => key.startsWith('slow/'));
    await gated.inner.put('slow/1', Buffer.from('slow'));
    await gated.inner.put('wal/6', Buffer.from('0123456789'));
    const cache = new RangeCache(gated.store, 8);
    const first = new AbortController();
    const reads = [cache.get('slow/1', 0, 4, first.signal), cache.get('slow/1', 0, 4, new AbortController().signal)];
    // Other ranges fill the cache past its bound: the load in flight is the least recently used entry.
    await cache.get('wal/6', 0, 4);
    await cache.get('wal/6', 4, 8);
    await cache.get('wal/6', 6, 10);
    assert.equal(gated.signals[0]?.aborted, false, 'eviction never cancels the GET');
    first.abort(new Error('first reader left'));
    await assert.rejects(reads[0] as Promise<Buffer>, /first reader left/);
    gated.release();
    assert.equal((await (reads[1] as Promise<Buffer>)).toString(), 'slow');
  });
});

describe('SegmentIndexCache', () => {
  test('readers share one index GET; one reader aborting does not fail the others', async () => {
    const gated = new GatedStore();
    const entries = [{ offset: 100, position: 0 }, { offset: 110, position: 4096 }];
    await gated.inner.put('seg/1.index', encodeSegmentIndex(entries, 4096));
    const cache = new SegmentIndexCache(gated.store, 1024 * 1024);
    const leaving = new AbortController();
    const a = cache.get('seg/1.index', leaving.signal);
    const b = cache.get('seg/1.index', new AbortController().signal);
    const c = cache.get('seg/1.index');
    assert.equal(cache.gets, 1);
    leaving.abort(new Error('fetch session closed'));
    await assert.rejects(a, /fetch session closed/);
    assert.equal(gated.signals[0]?.aborted, false);
    gated.release();
    assert.deepEqual(await b, await c);
    assert.equal((await b).length, 2);
    await cache.get('seg/1.index');
    assert.equal(cache.gets, 1, 'the parsed index is cached');
  });
});
