/**
 * Parsed `.index` objects of segments, byte-bounded LRU, one GET per index shared by concurrent readers.
 * An index is immutable (every segment key is written once), so a cached copy never goes stale.
 */
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { decodeSegmentIndex, type IndexEntry } from './segment-format.ts';
import { SharedLoads } from './shared-loads.ts';

export class SegmentIndexCache {
  readonly #objects: ObjectStore;
  readonly #maxBytes: number;
  readonly #indexes = new Map<string, readonly IndexEntry[]>();
  readonly #inflight = new SharedLoads<readonly IndexEntry[]>();
  #bytes = 0;
  gets = 0;

  constructor(objects: ObjectStore, maxBytes: number) {
    this.#objects = objects;
    this.#maxBytes = maxBytes;
  }

  get(indexKey: string, signal?: AbortSignal): Promise<readonly IndexEntry[]> {
    const hit = this.#indexes.get(indexKey);
    if (hit !== undefined) {
      this.#indexes.delete(indexKey);
      this.#indexes.set(indexKey, hit);
      return Promise.resolve(hit);
    }
    return this.#inflight.load(indexKey, (shared) => this.#fetch(indexKey, shared), signal);
  }

  async #fetch(indexKey: string, signal: AbortSignal): Promise<readonly IndexEntry[]> {
    this.gets++;
    const { entries } = decodeSegmentIndex(await this.#objects.get(indexKey, { signal }));
    this.#insert(indexKey, entries);
    return entries;
  }

  #insert(key: string, entries: readonly IndexEntry[]): void {
    const size = sizeOf(entries);
    if (size > this.#maxBytes) return;
    this.#indexes.set(key, entries);
    this.#bytes += size;
    for (const [k, v] of this.#indexes) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#indexes.delete(k);
      this.#bytes -= sizeOf(v);
    }
  }
}

/** Rough in-memory cost of a parsed index (two or three numbers and an object per entry). */
function sizeOf(entries: readonly IndexEntry[]): number {
  return 64 + entries.length * 56;
}
