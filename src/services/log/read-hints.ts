/**
 * Where a connection's consumer is about to start reading (docs/design/read-ahead.md, "Hints").
 *
 * A consumer starting from the beginning asks ListOffsets(earliest) for each of its partitions, then
 * fetches; librdkafka's first Fetch often names only the partition whose answer came first, and the
 * others follow one Fetch later — on a cold log, one whole GET latency later. ListOffsets records each
 * answer here, and the connection's next Fetch starts reading all of them at once. Keyed by connection, so
 * a tool that only lists offsets (lag monitors) never causes a GET. Bounded: hints per connection, and
 * connections (least recently hinted forgotten); a hint is used once, and not after `ttlMs`.
 */

export interface ReadHint {
  readonly topicId: string;
  readonly partition: number;
  readonly offset: number;
  readonly atMs: number;
}

export interface ReadHintsOptions {
  readonly maxReaders: number;
  readonly maxHintsPerReader: number;
  readonly ttlMs: number;
  readonly now?: () => number;
}

export class ReadHints {
  readonly #maxReaders: number;
  readonly #maxHintsPerReader: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Per reader (connection id), hints by `topicId/partition`; least recently hinted reader first. */
  readonly #byReader = new Map<number, Map<string, ReadHint>>();

  constructor(options: ReadHintsOptions) {
    this.#maxReaders = options.maxReaders;
    this.#maxHintsPerReader = options.maxHintsPerReader;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** Readers with hints (tests). */
  get readers(): number {
    return this.#byReader.size;
  }

  add(readerId: number, topicId: string, partition: number, offset: number): void {
    let hints = this.#byReader.get(readerId);
    if (hints === undefined) {
      hints = new Map();
      if (this.#byReader.size >= this.#maxReaders) this.#byReader.delete(this.#byReader.keys().next().value as number);
    } else {
      this.#byReader.delete(readerId); // re-inserted below: most recently hinted last
    }
    this.#byReader.set(readerId, hints);
    const key = `${topicId}/${partition}`;
    hints.delete(key);
    if (hints.size >= this.#maxHintsPerReader) return; // the first ones are kept: a consumer fetches those first
    hints.set(key, { topicId, partition, offset, atMs: this.#now() });
  }

  /** The reader's hints not older than ttlMs, removed (each is used once). */
  take(readerId: number): ReadHint[] {
    const hints = this.#byReader.get(readerId);
    if (hints === undefined) return [];
    this.#byReader.delete(readerId);
    const oldest = this.#now() - this.#ttlMs;
    return [...hints.values()].filter((hint) => hint.atMs >= oldest);
  }
}
