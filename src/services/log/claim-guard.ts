/**
 * The ownership claim of one owned partition as the write path uses it: re-fencing after ambiguous
 * outcomes (the claim's owner mod revision only moves forward) and the chain of exclusive tasks of the
 * partition (trims, merge swaps, re-fences, release). See docs/design/storage.md, "Re-fence".
 */
import type { KeyValue } from '../../storage/meta/metadata-store.ts';
import type { OwnershipClaim, Refenced } from './partition-ownership.ts';

/** Re-puts the owner key guarded by the claim, reading `readKeys` at that revision (PartitionOwnership.refence). */
export type Refence = (claim: OwnershipClaim, readKeys: readonly string[]) => Promise<Refenced | null>;

export class ClaimGuard {
  #claim: OwnershipClaim;
  readonly #refence: Refence;
  /** Told when a fence owed before an exclusive task finds the claim lost. */
  readonly #onLost: () => void;
  /** Tail of the chain of exclusive tasks (trims, merge swaps, re-fences) of this partition. */
  #exclusive: Promise<unknown> = Promise.resolve();
  #fencePending = false;

  constructor(claim: OwnershipClaim, refence: Refence, onLost: () => void) {
    this.#claim = claim;
    this.#refence = refence;
    this.#onLost = onLost;
  }

  /**
   * The claim as of now: its owner mod revision moves forward when the partition re-fences after an
   * ambiguous outcome. Exclusive tasks (trims, merge swaps) read it inside `exclusive`, where it is stable.
   */
  get claim(): OwnershipClaim {
    return this.#claim;
  }

  /**
   * Runs `task` when no other exclusive task of this partition runs: trims (which compute their deletions
   * before their txns), merge swaps, and re-fences (which move the claim's mod revision — a trim or swap
   * in flight across one would fail its owner compare and fence the partition for nothing).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#exclusive.catch(() => undefined).then(async () => {
      // A txn of this claim may still apply (an ambiguous outcome whose fence failed): fence it first.
      if (this.#fencePending && (await this.fenceOlderWritesLocked([])) === null) this.#onLost();
      return task();
    });
    this.#exclusive = next;
    return next;
  }

  /**
   * Fences every older txn of this partition's claim and reads `readKeys` at the fence's revision
   * (issue 10, item 5). Null when the claim is lost (the caller fences the partition). Throws on store
   * faults (the outcome is then unknown; callers fail and re-read, which fences again).
   */
  fenceOlderWrites(readKeys: readonly string[]): Promise<ReadonlyArray<KeyValue | null> | null> {
    return this.exclusive(() => this.fenceOlderWritesLocked(readKeys));
  }

  /** fenceOlderWrites for a caller already inside `exclusive`. */
  async fenceOlderWritesLocked(readKeys: readonly string[]): Promise<ReadonlyArray<KeyValue | null> | null> {
    // Until a fence succeeds, every exclusive task fences first (a throw leaves this set).
    this.#fencePending = true;
    const refenced = await this.#refence(this.#claim, readKeys);
    this.#fencePending = false;
    if (refenced === null) return null;
    // Only ever forward: a slower re-fence can never hand back an older revision.
    if (refenced.claim.ownerModRevision > this.#claim.ownerModRevision) this.#claim = refenced.claim;
    return refenced.reads;
  }
}
