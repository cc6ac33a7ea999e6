/**
 * Partition ownership (docs/design/storage.md, "Ownership and fencing"). The owner key lives under the
 * broker's session lease, so it disappears with the session; the separate, unleased epoch key makes the
 * epoch rise on every change of owner. Log commits compare the owner key's mod revision taken here, so a
 * broker that lost its session — or was replaced — can never commit again.
 */
import type { Compare, KeyValue, Lease, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { packTxns } from '../../storage/meta/txn-packer.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { decodeJson, encodeJson, MAX_EPOCH_HISTORY, type EpochStart, type OwnerRecord } from './log-entry.ts';

export interface OwnershipClaim {
  readonly topicId: string;
  readonly partition: number;
  readonly brokerId: number;
  readonly epoch: number;
  readonly ownerKey: string;
  /**
   * Mod revision of the owner key as this claim last wrote it (the acquire, or a later re-fence): every
   * commit, trim and merge swap compares the owner key against it.
   */
  readonly ownerModRevision: number;
  readonly lease: Lease;
  readonly acquiredMs: number;
}

/** The claim after a re-fence, and what the fencing txn read at that same revision. */
export interface Refenced {
  readonly claim: OwnershipClaim;
  readonly reads: ReadonlyArray<KeyValue | null>;
}

export type AcquireOutcome =
  | { readonly acquired: true; readonly claim: OwnershipClaim }
  | { readonly acquired: false; readonly owner: OwnerRecord | null };

/**
 * One partition's outcome of a batched acquire: decided (acquired or held by another owner), left to
 * the one-partition path (`acquire`: its guarded txn lost a race, so it is decided again on fresh
 * reads), or failed with the store's error (the claim may have applied: the next acquire takes our own
 * key over).
 */
export type BatchAcquireOutcome =
  | AcquireOutcome
  /**
   * A partition never owned before, claimed with its epoch start in the same txn: `snapshot` is the
   * partition's keys at the claim's revision (read inside the txn), `history` the epoch start it wrote.
   */
  | { readonly acquired: 'fresh'; readonly claim: OwnershipClaim; readonly snapshot: PartitionSnapshot; readonly history: EpochStart[] }
  | { readonly acquired: 'one-by-one' }
  | { readonly acquired: 'error'; readonly error: unknown };

/** One partition's outcome of a batched epoch-start record: like recordEpochStart, or left to it. */
export type BatchEpochOutcome =
  | { readonly ok: boolean; readonly history: EpochStart[] }
  | 'one-by-one'
  | { readonly error: unknown };

/** A partition's keys (under MetaKeys.partitionPrefix, in no particular order) as of `revision`. */
export interface PartitionSnapshot {
  readonly kvs: readonly KeyValue[];
  readonly revision: number;
}

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
}

export interface EpochStartRequest {
  readonly claim: OwnershipClaim;
  readonly history: readonly EpochStart[];
  readonly startOffset: number;
}

interface ClaimCandidate {
  readonly index: number;
  readonly ref: PartitionRef;
  readonly ownerKey: string;
  readonly epoch: number;
  readonly compare: Compare[];
  readonly success: TxnOp[];
  /** Never owned (no epoch key): the claim also reads the partition and records epoch 1 from offset 0. */
  readonly fresh: { readonly history: EpochStart[]; readonly puts: ReadonlyArray<{ key: string; value: Buffer; lease: string | null }> } | null;
}

function nextHistory(claim: OwnershipClaim, history: readonly EpochStart[], startOffset: number): EpochStart[] {
  return [...history.filter((e) => e.epoch < claim.epoch), { epoch: claim.epoch, startOffset }].slice(-MAX_EPOCH_HISTORY);
}

export class PartitionOwnership {
  readonly #store: MetadataStore;
  readonly #brokerId: number;
  readonly #lease: Lease;

  constructor(store: MetadataStore, brokerId: number, lease: Lease) {
    this.#store = store;
    this.#brokerId = brokerId;
    this.#lease = lease;
  }

  get lease(): Lease {
    return this.#lease;
  }

  /**
   * Takes the partition if nobody owns it — or if the owner key carries this broker's own session lease:
   * an earlier acquire of this session that applied but was reported failed (a timeout), or whose later
   * steps failed before the key could be released. Such a key is taken over in one guarded txn (compare
   * its mod revision and lease), so the new claim's mod revision fences anything the earlier claim might
   * still have in flight; otherwise every retry would fail the "no owner" compare and the partition would
   * stay unwritable until the session ends (issue 10, item 2). The epoch rises on every claim, takeovers
   * included. Otherwise reports the current owner (null if it vanished meanwhile).
   */
  async acquire(topicId: string, partition: number, nowMs: number = Date.now()): Promise<AcquireOutcome> {
    const ownerKey = MetaKeys.partitionOwner(topicId, partition);
    const epochKey = MetaKeys.partitionEpoch(topicId, partition);
    let current: OwnerRecord | null = null;
    // A race with another broker (or a late txn of ours) is decided again on fresh reads, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      const [ownerKv, epochKv] = await Promise.all([this.#store.get(ownerKey), this.#store.get(epochKey)]);
      if (ownerKv !== null && ownerKv.lease !== this.#lease.id) return { acquired: false, owner: decodeJson<OwnerRecord>(ownerKv.value) };
      const { epoch, compare, success } = this.#claimPart(ownerKey, epochKey, ownerKv, epochKv, nowMs);
      const result = await this.#store.txn({ compare, success, failure: [{ type: 'get', key: ownerKey }] });
      if (result.succeeded) {
        return {
          acquired: true,
          claim: { topicId, partition, brokerId: this.#brokerId, epoch, ownerKey, ownerModRevision: result.revision, lease: this.#lease, acquiredMs: nowMs },
        };
      }
      const held = result.results[0];
      const heldKv = held !== null && held !== undefined && typeof held === 'object' && !Array.isArray(held) ? held : null;
      current = heldKv === null ? null : decodeJson<OwnerRecord>(heldKv.value);
      if (heldKv !== null && heldKv.lease !== this.#lease.id) break;
    }
    return { acquired: false, owner: current };
  }

  /**
   * The guarded claim of one partition, given its owner and epoch keys as read: the owner key absent (or
   * ours, by lease, at the mod revision read) and the epoch key unchanged; puts the owner key under our
   * lease and the epoch + 1.
   */
  #claimPart(ownerKey: string, epochKey: string, ownerKv: KeyValue | null, epochKv: KeyValue | null, nowMs: number): { epoch: number; compare: Compare[]; success: TxnOp[] } {
    const lastEpoch = epochKv === null ? 0 : decodeJson<{ epoch: number }>(epochKv.value).epoch;
    const epoch = lastEpoch + 1;
    const owner: OwnerRecord = { brokerId: this.#brokerId, epoch, acquiredMs: nowMs };
    return {
      epoch,
      compare: [
        ownerKv === null
          ? { key: ownerKey, target: 'createRevision', op: '==', value: 0 }
          : { key: ownerKey, target: 'modRevision', op: '==', value: ownerKv.modRevision },
        ...(ownerKv === null ? [] : [{ key: ownerKey, target: 'lease' as const, op: '==' as const, value: this.#lease.id }]),
        { key: epochKey, target: 'modRevision', op: '==', value: epochKv?.modRevision ?? 0 },
      ],
      success: [
        { type: 'put', key: ownerKey, value: encodeJson(owner), lease: this.#lease.id },
        { type: 'put', key: epochKey, value: encodeJson({ epoch }) },
      ],
    };
  }

  /**
   * `acquire` for many partitions in few store round trips (a fresh topic's partitions, a broker's start):
   * the owner and epoch keys are read for all, then the claims of every partition nobody else owns go out
   * in as few txns as the store's limits allow (txn-packer.ts), all sent at once — the embedded store
   * commits them together, one fsync instead of one per partition. Each partition's claim is exactly
   * the one `acquire` makes (the same compares and puts), so a packed txn applies all its claims or none:
   * when any compare fails (another broker raced us, a key changed since the read), its partitions are
   * left to `acquire`, which decides each on fresh reads. A txn that throws may have applied: its
   * partitions report the error, and the next acquire takes our own key over (as after a lone acquire).
   */
  async acquireMany(partitions: readonly PartitionRef[], nowMs: number = Date.now()): Promise<BatchAcquireOutcome[]> {
    const outcomes: BatchAcquireOutcome[] = new Array<BatchAcquireOutcome>(partitions.length);
    const candidates: ClaimCandidate[] = [];
    await Promise.all(partitions.map(async (ref, index) => {
      const ownerKey = MetaKeys.partitionOwner(ref.topicId, ref.partition);
      const epochKey = MetaKeys.partitionEpoch(ref.topicId, ref.partition);
      try {
        const [ownerKv, epochKv] = await Promise.all([this.#store.get(ownerKey), this.#store.get(epochKey)]);
        if (ownerKv !== null && ownerKv.lease !== this.#lease.id) {
          outcomes[index] = { acquired: false, owner: decodeJson<OwnerRecord>(ownerKv.value) };
          return;
        }
        const part = this.#claimPart(ownerKey, epochKey, ownerKv, epochKv, nowMs);
        if (ownerKv !== null || epochKv !== null) {
          candidates.push({ index, ref, ownerKey, ...part, fresh: null });
          return;
        }
        // Never owned: no claim ever existed, so nothing was ever committed (every write under the
        // partition is guarded by an owner key, and each claim writes the epoch key, which is never
        // deleted while the topic lives). The claim records epoch 1 starting at offset 0 in the same txn,
        // guarded by the epoch history and log start being absent, and reads the partition's keys first
        // (at the revision just before the claim, in the same atomic txn) to confirm it: one store
        // commit for the whole acquire instead of claim, load and epoch-start record one after another.
        const historyKey = MetaKeys.partitionEpochHistory(ref.topicId, ref.partition);
        const history: EpochStart[] = [{ epoch: part.epoch, startOffset: 0 }];
        const historyPut = { type: 'put' as const, key: historyKey, value: encodeJson(history) };
        const puts = part.success.flatMap((op) => (op.type === 'put' ? [{ key: op.key, value: op.value, lease: op.lease ?? null }] : []));
        candidates.push({
          index, ref, ownerKey, epoch: part.epoch,
          compare: [
            ...part.compare,
            { key: historyKey, target: 'createRevision', op: '==', value: 0 },
            { key: MetaKeys.partitionLogStart(ref.topicId, ref.partition), target: 'createRevision', op: '==', value: 0 },
          ],
          success: [{ type: 'range', prefix: MetaKeys.partitionPrefix(ref.topicId, ref.partition) }, ...part.success, historyPut],
          fresh: { history, puts: [...puts, { key: historyKey, value: historyPut.value, lease: null }] },
        });
      } catch (error) {
        outcomes[index] = { acquired: 'error', error };
      }
    }));
    candidates.sort((a, b) => a.index - b.index);
    await Promise.all(packTxns(candidates, (c) => ({ compare: c.compare, success: c.success })).map(async (group) => {
      let result;
      try {
        result = await this.#store.txn({ compare: group.flatMap((c) => c.compare), success: group.flatMap((c) => c.success) });
      } catch (error) {
        for (const c of group) outcomes[c.index] = { acquired: 'error', error };
        return;
      }
      let at = 0;
      for (const c of group) {
        const first = at;
        at += c.success.length;
        if (!result.succeeded) {
          outcomes[c.index] = { acquired: 'one-by-one' };
          continue;
        }
        const revision = result.revision;
        const claim: OwnershipClaim = { topicId: c.ref.topicId, partition: c.ref.partition, brokerId: this.#brokerId, epoch: c.epoch, ownerKey: c.ownerKey, ownerModRevision: revision, lease: this.#lease, acquiredMs: nowMs };
        if (c.fresh === null) {
          outcomes[c.index] = { acquired: true, claim };
          continue;
        }
        // The keys before the claim plus the claim's own puts: the partition as of the claim's revision.
        const written = new Set(c.fresh.puts.map((put) => put.key));
        const before = (result.results[first] as KeyValue[]).filter((kv) => !written.has(kv.key));
        const own = c.fresh.puts.map((put): KeyValue => ({ key: put.key, value: put.value, createRevision: revision, modRevision: revision, version: 1, lease: put.lease }));
        outcomes[c.index] = { acquired: 'fresh', claim, snapshot: { kvs: [...before, ...own], revision }, history: c.fresh.history };
      }
    }));
    return outcomes;
  }

  /**
   * `recordEpochStart` for many claims in as few txns as fit, each guarded by every claim it carries. A
   * txn refused because one of its claims was fenced leaves its claims to `recordEpochStart`, which
   * decides each alone; a txn that throws reports the error for its claims.
   */
  async recordEpochStarts(requests: readonly EpochStartRequest[]): Promise<BatchEpochOutcome[]> {
    const outcomes: BatchEpochOutcome[] = new Array<BatchEpochOutcome>(requests.length);
    const items = requests.map((request, index) => ({ index, claim: request.claim, history: nextHistory(request.claim, request.history, request.startOffset) }));
    const partOf = (item: (typeof items)[number]): { compare: Compare[]; success: TxnOp[] } => ({
      compare: [{ key: item.claim.ownerKey, target: 'modRevision', op: '==', value: item.claim.ownerModRevision }],
      success: [{ type: 'put', key: MetaKeys.partitionEpochHistory(item.claim.topicId, item.claim.partition), value: encodeJson(item.history) }],
    });
    await Promise.all(packTxns(items, partOf).map(async (group) => {
      try {
        const parts = group.map(partOf);
        const result = await this.#store.txn({ compare: parts.flatMap((p) => p.compare), success: parts.flatMap((p) => p.success) });
        for (const item of group) outcomes[item.index] = result.succeeded ? { ok: true, history: item.history } : 'one-by-one';
      } catch (error) {
        for (const item of group) outcomes[item.index] = { error };
      }
    }));
    return outcomes;
  }

  /**
   * Appends `{epoch, startOffset}` to the leader-epoch history, guarded like a commit. Returns false when
   * the claim is no longer valid (fenced).
   */
  async recordEpochStart(claim: OwnershipClaim, history: readonly EpochStart[], startOffset: number): Promise<{ ok: boolean; history: EpochStart[] }> {
    const next = nextHistory(claim, history, startOffset);
    const result = await this.#store.txn({
      compare: [{ key: claim.ownerKey, target: 'modRevision', op: '==', value: claim.ownerModRevision }],
      success: [{ type: 'put', key: MetaKeys.partitionEpochHistory(claim.topicId, claim.partition), value: encodeJson(next) }],
    });
    return { ok: result.succeeded, history: next };
  }

  /**
   * Fences every txn this claim may still have in flight (issue 10, item 5): re-puts the owner key with
   * the same value, guarded by the claim's mod revision, so any older txn — they all compare that
   * revision — can never apply afterwards. The keys in `readKeys` are read in the same txn, i.e. at the
   * fence's revision: what they show is final for every write of the old claim. Returns null when the
   * owner key is no longer this claim's (fenced by another owner or by the store).
   *
   * A re-fence that timed out may have applied: the key then carries our lease and epoch at a newer mod
   * revision that only we can have written, so it is adopted and fenced once more for a definite answer.
   */
  async refence(claim: OwnershipClaim, readKeys: readonly string[]): Promise<Refenced | null> {
    let current = claim;
    for (let attempt = 0; attempt < 2; attempt++) {
      const value = encodeJson({ brokerId: current.brokerId, epoch: current.epoch, acquiredMs: current.acquiredMs } satisfies OwnerRecord);
      const reads: TxnOp[] = readKeys.map((key) => ({ type: 'get', key }));
      const result = await this.#store.txn({
        compare: [{ key: current.ownerKey, target: 'modRevision', op: '==', value: current.ownerModRevision }],
        success: [{ type: 'put', key: current.ownerKey, value, lease: current.lease.id }, ...reads],
        failure: [{ type: 'get', key: current.ownerKey }],
      });
      if (result.succeeded) {
        return { claim: { ...current, ownerModRevision: result.revision }, reads: result.results.slice(1) as Array<KeyValue | null> };
      }
      const owner = result.results[0] as KeyValue | null | undefined;
      if (owner === null || owner === undefined || owner.lease !== current.lease.id) return null;
      const record = decodeJson<OwnerRecord>(owner.value);
      if (record.brokerId !== current.brokerId || record.epoch !== current.epoch || owner.modRevision < current.ownerModRevision) return null;
      current = { ...current, ownerModRevision: owner.modRevision };
    }
    return null;
  }

  /** Gives the partition up (only if still ours). */
  async release(claim: OwnershipClaim): Promise<void> {
    await this.#store.txn({
      compare: [{ key: claim.ownerKey, target: 'modRevision', op: '==', value: claim.ownerModRevision }],
      success: [{ type: 'delete', key: claim.ownerKey }],
    });
  }
}
