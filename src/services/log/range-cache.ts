/**
 * Byte-bounded LRU of object ranges (one committed log entry's bytes each), with in-flight GETs shared
 * so concurrent readers of the same range cause one GET (SharedLoads: a reader's signal ends only its
 * own wait; the GET is aborted when no reader is left).
 */
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { SharedLoads } from './shared-loads.ts';

export class RangeCache {
  readonly maxBytes: number;
  readonly #objects: ObjectStore;
  /** Map iteration order is insertion order: re-inserting on hit makes the first key the LRU one. */
  readonly #ranges = new Map<string, Buffer>();
  readonly #inflight = new SharedLoads<Buffer>();
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
    return this.#inflight.load(id, (shared) => this.#fetch(id, objectKey, start, end, shared), signal, this.#joined);
  }

  readonly #joined = (): void => {
    this.hits++;
  };

  async #fetch(id: string, objectKey: string, start: number, end: number, signal: AbortSignal): Promise<Buffer> {
    this.gets++;
    const data = await this.#objects.get(objectKey, { range: { start, end }, signal });
    this.#insert(id, data);
    return data;
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
