/**
 * ObjectStore port: the durable home of all record data. Adapters: filesystem (embedded default),
 * memory (unit tests only), s3.
 *
 * Keys are '/'-separated relative paths of [A-Za-z0-9._-] segments (callers escape user input);
 * adapters reject anything else with KSC_OBJECT_INVALID_KEY.
 *
 * Errors are KafscaleError: KSC_OBJECT_NOT_FOUND (get/head of a missing key),
 * KSC_OBJECT_THROTTLED and KSC_OBJECT_UNAVAILABLE (retriable; adapters already retried with backoff).
 */
export interface ObjectInfo {
  readonly key: string;
  readonly sizeBytes: number;
  /** Last modification time, ms since epoch. */
  readonly modifiedMs: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** End, exclusive. */
  readonly end: number;
}

export interface PutOptions {
  readonly signal?: AbortSignal;
  /**
   * A hint that this put is background work (segment merging) whose latency matters less than not
   * delaying foreground puts (WAL flushes that producers wait for). The filesystem adapter then writes and
   * syncs in small steps so that a large put never holds the disk's sync queue; other adapters ignore it.
   * Durability is the same either way: put resolves only when the object is durable.
   */
  readonly background?: boolean;
  /**
   * Background puts only: awaited before each step the adapter takes (the filesystem adapter's synced
   * write steps), so the caller can hold the next step back while foreground work runs (io-priority.ts).
   */
  readonly beforeStep?: () => Promise<void>;
  /**
   * The caller guarantees that the key is new and that nothing reads it before this put resolves (a WAL
   * object: only the commit that follows the put refers to it). The filesystem adapter then writes the
   * object in place under its key — no temp file, no rename — and syncs the file and its directory at
   * once instead of one after the other (one journal commit fewer in front of a producer's ack). A crash
   * mid-put leaves a partial object that no entry references, removed by the object collector like any
   * orphan of a failed flush. Durability on resolve is the same. Other adapters ignore it.
   */
  readonly newKey?: boolean;
}

export interface GetOptions {
  /** Whole object when absent. */
  readonly range?: ByteRange;
  readonly signal?: AbortSignal;
  /**
   * A hint that this get is background work (read-ahead) that must not delay foreground requests (WAL
   * flush PUTs, a consumer's own GETs): the S3 adapter gives it a bounded share of its request slots and
   * serves foreground requests first; other adapters ignore it.
   */
  readonly background?: boolean;
  /**
   * A buffer to read the bytes into, when its length is exactly what the get returns: the filesystem
   * adapter then reads straight into it and returns it, so a large read allocates nothing (the merger's
   * reused arena, merge-arena.ts). Other adapters, or a length that does not match, return a Buffer of
   * their own: callers compare what they get back.
   */
  readonly into?: Buffer;
}

export interface ObjectStore {
  /**
   * Writes the whole object atomically: readers see either nothing or all of it. Overwrites. Reads
   * `body` only until the returned promise settles: the caller may reuse that memory afterwards (the
   * merge arena does, merge-arena.ts), so an adapter that keeps the bytes copies them.
   */
  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<void>;
  /** Whole object, or a byte range of it. A range past the end is clipped to the object's size. */
  get(key: string, options?: GetOptions): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo>;
  /** All objects whose key starts with prefix, sorted by key. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes keys; missing keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
