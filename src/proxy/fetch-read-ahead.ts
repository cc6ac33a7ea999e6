/**
 * Per client connection: answers to sub-fetches that arrived after the proxy had already answered the
 * client (one owner had data first), kept for the client's next Fetch of the same partition at the same
 * offset, and the sub-fetches still in flight. So a Fetch over several owners never waits for the
 * slowest owner, and no fetched data is thrown away: what arrives late is served next time (see
 * docs/design/proxy.md, "Fetch over several owners").
 *
 * Entries are keyed by partition and fetch offset: records at an offset never change, so an entry is
 * valid for exactly that request; a client that moved on (seek, rebalance) never matches it again and
 * the entry ages out. Memory is bounded by one answer per partition the connection fetches.
 */

type Struct = Record<string, unknown>;

/** An answer older than this is dropped (the high watermark in it would be stale). */
const MAX_AGE_MS = 10_000;

interface Entry {
  readonly fetchOffset: bigint;
  readonly answer: Struct;
  readonly atMs: number;
  readonly bytes: number;
}

/** Record bytes kept by every connection's read-ahead of one proxy, against a bound. */
export class ReadAheadBudget {
  readonly maxBytes: number;
  usedBytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get available(): boolean {
    return this.usedBytes < this.maxBytes;
  }
}

function recordBytes(answer: Struct): number {
  const records = answer['records'];
  return records instanceof Buffer ? records.length : 0;
}

export class FetchReadAhead {
  readonly #budget: ReadAheadBudget;
  readonly #ready = new Map<string, Entry>();
  /** partition key → fetch offset being fetched, and whether it is a long poll. */
  readonly #inFlight = new Map<string, { fetchOffset: bigint; longPoll: boolean }>();
  /** Last high watermark, last stable offset and log start offset seen per partition, for placeholders. */
  readonly #offsets = new Map<string, { highWatermark: bigint; lastStableOffset: bigint; logStartOffset: bigint }>();
  #waiters: Array<() => void> = [];
  #sweptAtMs = Date.now();

  constructor(budget: ReadAheadBudget = new ReadAheadBudget(Number.POSITIVE_INFINITY)) {
    this.#budget = budget;
  }

  /** Whether fetching ahead of the client (answers nobody asked for yet) fits the proxy's budget. */
  get canFetchAhead(): boolean {
    return this.#budget.available;
  }

  /** The kept answer for this partition at this offset, or null; an entry for another offset or too old is dropped. */
  peek(key: string, fetchOffset: bigint): Struct | null {
    const entry = this.#ready.get(key);
    if (entry === undefined) return null;
    if (entry.fetchOffset !== fetchOffset || Date.now() - entry.atMs > MAX_AGE_MS) {
      this.#drop(key, entry);
      return null;
    }
    return entry.answer;
  }

  /** Like peek(), and removes the entry: an answer is served once. */
  take(key: string, fetchOffset: bigint): Struct | null {
    const answer = this.peek(key, fetchOffset);
    const entry = this.#ready.get(key);
    if (answer !== null && entry !== undefined) this.#drop(key, entry);
    return answer;
  }

  inFlight(key: string, fetchOffset: bigint): boolean {
    return this.#inFlight.get(key)?.fetchOffset === fetchOffset;
  }

  /** Being fetched without a wait (its answer is due at once, unlike a long poll's). */
  inFlightPrompt(key: string, fetchOffset: bigint): boolean {
    const entry = this.#inFlight.get(key);
    return entry !== undefined && entry.fetchOffset === fetchOffset && !entry.longPoll;
  }

  markInFlight(key: string, fetchOffset: bigint, longPoll: boolean): void {
    this.#inFlight.set(key, { fetchOffset, longPoll });
  }

  /** A sub-fetch answered (answer) or failed (null) for this partition at this offset. */
  settle(key: string, fetchOffset: bigint, answer: Struct | null): void {
    if (this.#inFlight.get(key)?.fetchOffset === fetchOffset) this.#inFlight.delete(key);
    this.#sweep();
    if (answer !== null) {
      const previous = this.#ready.get(key);
      if (previous !== undefined) this.#drop(key, previous);
      const bytes = recordBytes(answer);
      this.#budget.usedBytes += bytes;
      this.#ready.set(key, { fetchOffset, answer, atMs: Date.now(), bytes });
      const highWatermark = answer['highWatermark'];
      if (typeof highWatermark === 'bigint' && highWatermark >= 0n) {
        this.#offsets.set(key, {
          highWatermark,
          lastStableOffset: (answer['lastStableOffset'] as bigint | undefined) ?? highWatermark,
          logStartOffset: (answer['logStartOffset'] as bigint | undefined) ?? -1n,
        });
      }
    }
  }

  /** Wakes every wait() after a batch of settle() calls. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next notify() or after timeoutMs, whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve();
      }, Math.max(0, timeoutMs));
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
    });
  }

  /** The last offsets seen for a partition (high watermark −1 when never seen). */
  offsets(key: string): { highWatermark: bigint; lastStableOffset: bigint; logStartOffset: bigint } {
    return this.#offsets.get(key) ?? { highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n };
  }

  /** Drops answers nobody took in time (a partition the client stopped fetching, e.g. after a rebalance). */
  #sweep(): void {
    const now = Date.now();
    if (now - this.#sweptAtMs < MAX_AGE_MS) return;
    this.#sweptAtMs = now;
    for (const [key, entry] of this.#ready) if (now - entry.atMs > MAX_AGE_MS) this.#drop(key, entry);
  }

  #drop(key: string, entry: Entry): void {
    this.#ready.delete(key);
    this.#budget.usedBytes -= entry.bytes;
  }

  clear(): void {
    for (const [key, entry] of this.#ready) this.#drop(key, entry);
    this.#inFlight.clear();
    this.#offsets.clear();
    this.notify();
  }
}
