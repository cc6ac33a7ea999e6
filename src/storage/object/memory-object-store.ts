/**
 * In-memory ObjectStore for unit tests (never a runtime fallback: config fails fast instead).
 * Copies on put and get so callers cannot alias stored bytes, like a real store.
 * `beforeOperation` lets fault tests inject errors or latency per operation and key.
 */
import type { ByteRange, ObjectInfo, ObjectStore } from './object-store.ts';
import { assertValidKey, assertValidPrefix, clipRange, closedError, notFound, throwIfAborted } from './object-key.ts';

export type ObjectStoreOperation = 'put' | 'get' | 'head' | 'list' | 'delete';

export interface MemoryObjectStoreOptions {
  /** Called before each operation (for delete: once per key); may throw or await to inject faults. */
  readonly beforeOperation?: (operation: ObjectStoreOperation, key: string) => void | Promise<void>;
}

interface StoredObject {
  readonly data: Buffer;
  readonly modifiedMs: number;
}

export class MemoryObjectStore implements ObjectStore {
  readonly #objects = new Map<string, StoredObject>();
  readonly #beforeOperation: MemoryObjectStoreOptions['beforeOperation'];
  #closed = false;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.#beforeOperation = options.beforeOperation;
  }

  /** Number of objects held (for tests asserting cleanup). */
  get size(): number {
    return this.#objects.size;
  }

  async #enter(operation: ObjectStoreOperation, key: string): Promise<void> {
    if (this.#closed) throw closedError('memory');
    if (this.#beforeOperation !== undefined) await this.#beforeOperation(operation, key);
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: { readonly signal?: AbortSignal }): Promise<void> {
    assertValidKey(key);
    throwIfAborted(options?.signal);
    await this.#enter('put', key);
    throwIfAborted(options?.signal);
    const data = Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.concat(body as readonly Buffer[]);
    this.#objects.set(key, { data, modifiedMs: Date.now() });
  }

  async get(key: string, options?: { readonly range?: ByteRange; readonly signal?: AbortSignal }): Promise<Buffer> {
    assertValidKey(key);
    throwIfAborted(options?.signal);
    await this.#enter('get', key);
    const stored = this.#objects.get(key);
    if (stored === undefined) throw notFound(key);
    const { start, end } = clipRange(options?.range, stored.data.length);
    return Buffer.from(stored.data.subarray(start, end));
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    await this.#enter('head', key);
    const stored = this.#objects.get(key);
    if (stored === undefined) throw notFound(key);
    return { key, sizeBytes: stored.data.length, modifiedMs: stored.modifiedMs };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    await this.#enter('list', prefix);
    // Snapshot first: the port promises sorted order, and a caller may delete while iterating.
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const stored = this.#objects.get(key);
      if (stored !== undefined) yield { key, sizeBytes: stored.data.length, modifiedMs: stored.modifiedMs };
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) assertValidKey(key);
    for (const key of keys) {
      await this.#enter('delete', key);
      this.#objects.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
