import type { Compare, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { packOps, packTxns } from '../../storage/meta/txn-packer.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';

/** One committed offset. Offsets are int64 on the wire and stay bigint here. */
export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  readonly commitTimestampMs: number;
  /** Set only by OffsetCommit v2–v4 with a retention time; null means the group-level rule applies. */
  readonly expireTimestampMs: number | null;
}

interface StoredOffset {
  readonly o: string;
  readonly e: number;
  readonly m: string | null;
  readonly t: number;
  readonly x: number | null;
}

/**
 * Committed offsets, one metadata key per (group, topic, partition): an OffsetCommit writes only the
 * partitions it names (no read-modify-write of a big per-group value), and any number of partitions
 * fits because a commit is packed into as few transactions as the store's limits allow (txn-packer.ts). Every transaction is guarded by the group state key's mod revision, so
 * a coordinator that lost the group cannot write offsets any more.
 */
export class OffsetStore {
  readonly #store: MetadataStore;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /**
   * Writes offsets in guarded transactions; `firstOps` (e.g. creating the group's state key) go into the
   * first one, and `guardRevision` is what the group key's mod revision must be before it. Returns the
   * group key's revision afterwards (changed only if firstOps wrote it), and how many offsets were
   * written before a guard failed (those after it were not). Store faults are thrown.
   */
  async commit(
    groupId: string,
    guardRevision: number,
    offsets: readonly CommittedOffset[],
    firstOps: readonly TxnOp[] = [],
  ): Promise<{ written: number; conflict: boolean; groupRevision: number }> {
    const groupKey = MetaKeys.group(groupId);
    const writesGroupKey = firstOps.some((op) => op.type === 'put' && op.key === groupKey);
    const guard = (revision: number): Compare[] => [{ key: groupKey, target: 'modRevision', op: '==', value: revision }];
    // firstOps are one item, so they go whole into the first transaction; there is always one (the guard).
    const items: (readonly TxnOp[])[] = [firstOps, ...offsets.map((offset) => [putOp(groupId, offset)])];
    const txns = packTxns(items, (ops) => ({ success: ops }), { shared: { compare: guard(guardRevision) } });
    let revision = guardRevision;
    let written = 0;
    for (let i = 0; i < txns.length; i++) {
      const chunk = txns[i] as (readonly TxnOp[])[];
      const result = await this.#store.txn({ compare: guard(revision), success: chunk.flat() });
      if (!result.succeeded) return { written, conflict: true, groupRevision: revision };
      if (i === 0 && writesGroupKey) revision = result.revision;
      written += i === 0 ? chunk.length - 1 : chunk.length;
    }
    return { written, conflict: false, groupRevision: revision };
  }

  /** All committed offsets of a group, sorted by topic then partition. */
  async fetchAll(groupId: string): Promise<CommittedOffset[]> {
    const prefix = MetaKeys.groupOffsetsPrefix(groupId);
    const { kvs } = await this.#store.range(prefix);
    const offsets: CommittedOffset[] = [];
    for (const kv of kvs) {
      const rest = kv.key.slice(prefix.length);
      const slash = rest.lastIndexOf('/');
      if (slash <= 0) continue;
      const stored = JSON.parse(kv.value.toString('utf8')) as StoredOffset;
      offsets.push({
        topic: decodeURIComponent(rest.slice(0, slash)),
        partition: Number(rest.slice(slash + 1)),
        offset: BigInt(stored.o),
        leaderEpoch: stored.e,
        metadata: stored.m,
        commitTimestampMs: stored.t,
        expireTimestampMs: stored.x,
      });
    }
    return offsets;
  }

  /** Partitions of one topic that have a committed offset in a group (a prefix read of that topic's keys only). */
  async partitionsOf(groupId: string, topic: string): Promise<number[]> {
    // Same layout as MetaKeys.groupOffset: {groupOffsetsPrefix}{enc(topic)}/{partition:010}.
    const prefix = `${MetaKeys.groupOffsetsPrefix(groupId)}${encodeURIComponent(topic)}/`;
    const { kvs } = await this.#store.range(prefix);
    return kvs.map((kv) => Number(kv.key.slice(prefix.length))).filter((partition) => Number.isInteger(partition));
  }

  /** Deletes the named offsets in guarded transactions packed within the store's limits. */
  async delete(groupId: string, guardRevision: number, partitions: readonly { topic: string; partition: number }[]): Promise<boolean> {
    const compare: Compare[] = [{ key: MetaKeys.group(groupId), target: 'modRevision', op: '==', value: guardRevision }];
    const ops = partitions.map((p): TxnOp => ({ type: 'delete', key: MetaKeys.groupOffset(groupId, p.topic, p.partition) }));
    for (const success of packOps(ops, { shared: { compare } })) {
      const result = await this.#store.txn({ compare, success });
      if (!result.succeeded) return false;
    }
    return true;
  }
}

function putOp(groupId: string, offset: CommittedOffset): TxnOp & { type: 'put' } {
  const stored: StoredOffset = {
    o: offset.offset.toString(),
    e: offset.leaderEpoch,
    m: offset.metadata,
    t: offset.commitTimestampMs,
    x: offset.expireTimestampMs,
  };
  return { type: 'put', key: MetaKeys.groupOffset(groupId, offset.topic, offset.partition), value: Buffer.from(JSON.stringify(stored)) };
}
