/**
 * Byte-bounded LRU of object ranges (one committed log entry's bytes, or one segment block, each), with
 * in-flight GETs shared so concurrent readers of the same range cause one GET (FetchCache: a reader's
 * signal ends only its own wait; the GET is aborted when no reader is left).
 */
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { FetchCache } from './fetch-cache.ts';

interface RangeRef {
  readonly objectKey: string;
  readonly start: number;
  readonly end: number;
}

export class RangeCache {
  readonly maxBytes: number;
  readonly #objects: ObjectStore;
  readonly #ranges: FetchCache<Buffer, RangeRef>;

  constructor(objects: ObjectStore, maxBytes: number) {
    this.#objects = objects;
    this.maxBytes = maxBytes;
    this.#ranges = new FetchCache({ maxSize: maxBytes, sizeOf: (data) => data.length, load: (range, signal) => this.#fetch(range, signal) });
  }

  /** Object GETs issued. */
  get gets(): number {
    return this.#ranges.loads;
  }

  /** Reads served without a GET of their own (cached, or joined to one in flight); for metrics. */
  get hits(): number {
    return this.#ranges.hits;
  }

  get bytes(): number {
    return this.#ranges.size;
  }

  has(objectKey: string, start: number, end: number): boolean {
    return this.#ranges.has(`${objectKey}@${start}-${end}`);
  }

  /** The cached bytes of the range, or undefined: never a GET (the merger reads hot inputs from here). */
  peek(objectKey: string, start: number, end: number): Buffer | undefined {
    return this.#ranges.peek(`${objectKey}@${start}-${end}`);
  }

  /** Forgets a range no entry names any more (a merge replaced it). */
  delete(objectKey: string, start: number, end: number): void {
    this.#ranges.delete(`${objectKey}@${start}-${end}`);
  }

  /** Keeps bytes read elsewhere (read-ahead) for later readers of the same range. */
  set(objectKey: string, start: number, end: number, data: Buffer): void {
    this.#ranges.set(`${objectKey}@${start}-${end}`, data);
  }

  get(objectKey: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
    return this.#ranges.get(`${objectKey}@${start}-${end}`, { objectKey, start, end }, signal);
  }

  #fetch(range: RangeRef, signal: AbortSignal): Promise<Buffer> {
    return this.#objects.get(range.objectKey, { range: { start: range.start, end: range.end }, signal });
  }
}
