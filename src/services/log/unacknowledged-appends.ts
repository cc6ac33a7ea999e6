/**
 * The unacknowledged appends of one owned partition, in offset order: those taken by a flush (in flight)
 * followed by those still queued. Invariant 1 of docs/design/storage.md ("Write-path invariants"): they
 * are contiguous, start at the committed high watermark and end at the partition's next offset.
 */
import type { AppendResult, PendingAppend } from './pending-append.ts';
import type { PartitionState } from './partition-state.ts';

export class UnacknowledgedAppends {
  /** Taken by a flush, not yet settled, in offset order. */
  #inflight: PendingAppend[] = [];
  /** Appended, not yet taken by a flush, in offset order. */
  #queued: PendingAppend[] = [];

  get hasQueued(): boolean {
    return this.#queued.length > 0;
  }

  get isEmpty(): boolean {
    return this.#inflight.length === 0 && this.#queued.length === 0;
  }

  /** The first in offset order (the oldest in flight, else the oldest queued). */
  get first(): PendingAppend | undefined {
    return this.#inflight[0] ?? this.#queued[0];
  }

  get inflight(): readonly PendingAppend[] {
    return this.#inflight;
  }

  /** Every one, in offset order (a copy). */
  all(): PendingAppend[] {
    return [...this.#inflight, ...this.#queued];
  }

  push(pending: PendingAppend): void {
    this.#queued.push(pending);
  }

  /** Moves queued appends (at least one, then up to maxBytes) into a flush. */
  take(maxBytes: number): PendingAppend[] {
    let count = 0;
    let bytes = 0;
    for (const pending of this.#queued) {
      if (count > 0 && bytes + pending.bytes > maxBytes) break;
      bytes += pending.bytes;
      count++;
    }
    const taken = this.#queued.splice(0, count);
    for (const pending of taken) this.#inflight.push(pending);
    return taken;
  }

  /**
   * The appends, from the front, whose batches `state`'s committed entries hold: an entry of their own
   * flush's object covering them (a commit that applied although it was reported failed or unknown).
   */
  committedIn(state: PartitionState): PendingAppend[] {
    const covered: PendingAppend[] = [];
    for (const pending of this.all()) {
      const entry = state.entries[state.entryIndexOf(pending.baseOffset)];
      if (pending.objectKey === null || entry === undefined || entry.objectKey !== pending.objectKey || entry.lastOffset < pending.lastOffset) break;
      covered.push(pending);
    }
    return covered;
  }

  /** Settles `first` and every later one with `reply`; false when `first` is not held here. */
  settleFrom(first: PendingAppend, reply: AppendResult): boolean {
    const sequence = this.all();
    const from = sequence.indexOf(first);
    if (from === -1) return false;
    for (let i = from; i < sequence.length; i++) (sequence[i] as PendingAppend).settle(reply);
    return true;
  }

  /** Forgets the settled ones; returns the bytes of those still queued (never reached a flush), or 0. */
  removeSettled(): number {
    if (this.#inflight.some((p) => p.settled)) this.#inflight = this.#inflight.filter((p) => !p.settled);
    if (!this.#queued.some((p) => p.settled)) return 0;
    let released = 0;
    for (const p of this.#queued) if (p.settled) released += p.bytes;
    this.#queued = this.#queued.filter((p) => !p.settled);
    return released;
  }

  /** Invariant 1: what is wrong with the sequence from `highWatermark` to `nextOffset`, or null. */
  sequenceProblem(highWatermark: number, nextOffset: number): string | null {
    let expected = highWatermark;
    for (const pending of this.all()) {
      if (pending.baseOffset !== expected) return `unacknowledged append at ${pending.baseOffset}..${pending.lastOffset} where ${expected} was expected`;
      expected = pending.lastOffset + 1;
    }
    return expected === nextOffset ? null : `next offset ${nextOffset} but appends end at ${expected}`;
  }

  /** Resolves when every append held now has settled (acknowledged or failed). */
  async settled(): Promise<void> {
    if (this.isEmpty) return;
    await Promise.allSettled(this.all().map((p) => p.promise));
  }
}
