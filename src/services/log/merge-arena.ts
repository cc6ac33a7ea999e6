/**
 * The memory a segment merge reads its inputs into, kept from one merge to the next
 * (docs/design/storage.md, "A merge's inputs allocate nothing").
 *
 * Why: V8 starts a mark-compact for every 64 MiB of external memory (Buffers' bytes) added since the last
 * one, and counts a Buffer until a collection frees it. A merge GETs up to a segment's worth of bytes and
 * holds them for seconds; merging a 150 MB backlog so ran two to three mark-compacts (each 20–30 ms of
 * marking steps and pause on the event loop) in front of producers' acknowledgements. With the arena the
 * filesystem store reads straight into it (`GetOptions.into`), other stores' Buffers are copied in and
 * die young, and the memory is allocated once.
 *
 * It is allocated at its maximum (a segment's size) when the merger starts, or else when a merge first
 * needs it: V8 accounts the whole allocation at once, but only the pages a merge writes become resident,
 * and growing it step by step as merges' inputs vary would add an allocation (and its accounting) per
 * step. `trim()` drops it once no merge has leased it for `idleMs`, so a broker that stops merging from
 * GETs gives the memory back, while one taking bursts more often than that keeps the allocation it
 * already paid for.
 */

/** How long the arena is kept without a lease: a minute, the default age at which WAL entries are merged. */
export const MERGE_ARENA_IDLE_MS = 60_000;

export interface ArenaLease {
  /** One slot per requested size, in order, back to back in the arena. */
  readonly slots: readonly Buffer[];
  /** Ends the lease; no view of the slots may be used (or kept) after it. Idempotent. */
  release(): void;
}

export class MergeArena {
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #buffer: Buffer | null = null;
  #leased = false;
  #lastUsedMs = Number.NEGATIVE_INFINITY;

  constructor(maxBytes: number, idleMs = MERGE_ARENA_IDLE_MS) {
    this.#maxBytes = maxBytes;
    this.#idleMs = idleMs;
  }

  /** Bytes the arena holds now (0 before the first lease and once trimmed). */
  get capacityBytes(): number {
    return this.#buffer?.length ?? 0;
  }

  /**
   * Allocates the arena ahead of the first merge (the merger does at start, before the broker takes
   * traffic), so that the mark-compact V8 starts for its 64 MiB of external memory runs then rather than
   * in front of the first burst's acknowledgements. It counts as a use for `trim`.
   */
  reserve(nowMs: number): void {
    this.#buffer ??= Buffer.allocUnsafeSlow(this.#maxBytes);
    this.#lastUsedMs = nowMs;
  }

  /**
   * Slots for one merge's inputs, or null when another merge holds the arena or the sizes add up to more
   * than the maximum: that merge keeps each GET's own Buffer, as before the arena.
   */
  lease(sizes: readonly number[], nowMs: number): ArenaLease | null {
    let total = 0;
    for (const size of sizes) total += size;
    if (this.#leased || total > this.#maxBytes) return null;
    this.reserve(nowMs);
    const buffer = this.#buffer!;
    const slots: Buffer[] = [];
    let at = 0;
    for (const size of sizes) {
      slots.push(buffer.subarray(at, at + size));
      at += size;
    }
    this.#leased = true;
    let released = false;
    return {
      slots,
      release: () => {
        if (released) return;
        released = true;
        this.#leased = false;
      },
    };
  }

  /** Drops the memory once no merge has leased it for idleMs (never while one holds it). */
  trim(nowMs: number): void {
    if (!this.#leased && nowMs - this.#lastUsedMs >= this.#idleMs) this.#buffer = null;
  }
}
