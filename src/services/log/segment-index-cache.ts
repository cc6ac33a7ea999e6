/**
 * Parsed `.index` objects of segments, byte-bounded LRU, one GET per index shared by concurrent readers
 * (FetchCache). An index is immutable (every segment key is written once), so a cached copy never goes
 * stale.
 */
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { FetchCache } from './fetch-cache.ts';
import { decodeSegmentIndex, type IndexEntry } from './segment-format.ts';

export class SegmentIndexCache {
  readonly #objects: ObjectStore;
  readonly #indexes: FetchCache<readonly IndexEntry[], string>;

  constructor(objects: ObjectStore, maxBytes: number) {
    this.#objects = objects;
    this.#indexes = new FetchCache({ maxSize: maxBytes, sizeOf, load: (indexKey, signal) => this.#fetch(indexKey, signal) });
  }

  /** Index GETs issued. */
  get gets(): number {
    return this.#indexes.loads;
  }

  get(indexKey: string, signal?: AbortSignal): Promise<readonly IndexEntry[]> {
    return this.#indexes.get(indexKey, indexKey, signal);
  }

  /** The cached index, without a GET or counting as a use. */
  peek(indexKey: string): readonly IndexEntry[] | undefined {
    return this.#indexes.peek(indexKey);
  }

  /** Keeps the parsed index of a segment written here (a merge), so its first reader needs no GET. */
  set(indexKey: string, entries: readonly IndexEntry[]): void {
    this.#indexes.set(indexKey, entries);
  }

  async #fetch(indexKey: string, signal: AbortSignal): Promise<readonly IndexEntry[]> {
    return decodeSegmentIndex(await this.#objects.get(indexKey, { signal })).entries;
  }
}

/** Rough in-memory cost of a parsed index (two or three numbers and an object per entry). */
function sizeOf(entries: readonly IndexEntry[]): number {
  return 64 + entries.length * 56;
}
