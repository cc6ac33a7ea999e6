/**
 * Byte-bounded LRU of object ranges (one committed log entry's bytes each), with in-flight GETs shared
 * so concurrent readers of the same range cause one GET.
 */
import type { ObjectStore } from '../../storage/object/object-store.ts';

export class RangeCache {
  readonly maxBytes: number;
  readonly #objects: ObjectStore;
  /** Map iteration order is insertion order: re-inserting on hit makes the first key the LRU one. */
  readonly #ranges = new Map<string, Buffer>();
  readonly #inflight = new Map<string, Promise<Buffer>>();
  #bytes = 0;
  gets = 0;
  /** Reads served without a GET of their own (cached, or joined to one in flight); for metrics. */
  hits = 0;

  constructor(objects: ObjectStore, maxBytes: number) {
    this.#objects = objects;
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(objectKey: string, start: number, end: number): boolean {
    const id = `${objectKey}@${start}-${end}`;
    return this.#ranges.has(id) || this.#inflight.has(id);
  }

  get(objectKey: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
    const id = `${objectKey}@${start}-${end}`;
    const hit = this.#ranges.get(id);
    if (hit !== undefined) {
      this.hits++;
      this.#ranges.delete(id);
      this.#ranges.set(id, hit);
      return Promise.resolve(hit);
    }
    const pending = this.#inflight.get(id);
    if (pending !== undefined) {
      this.hits++;
      return pending;
    }
    this.gets++;
    const promise = this.#objects
      .get(objectKey, signal === undefined ? { range: { start, end } } : { range: { start, end }, signal })
      .then((data) => {
        this.#insert(id, data);
        return data;
      })
      .finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, promise);
    return promise;
  }

  #insert(id: string, data: Buffer): void {
    if (data.length > this.maxBytes) return;
    this.#ranges.set(id, data);
    this.#bytes += data.length;
    for (const [key, value] of this.#ranges) {
      if (this.#bytes <= this.maxBytes) break;
      this.#ranges.delete(key);
      this.#bytes -= value.length;
    }
  }
}
