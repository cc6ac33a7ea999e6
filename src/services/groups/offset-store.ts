import { MAX_TXN_BYTES, MAX_TXN_OPS, type MetadataStore, type TxnOp } from '../../storage/meta/metadata-store.ts';
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

/** Room left in every transaction for the compare and for a group-state put in the first chunk. */
const TXN_SLACK_BYTES = 16_384;

/**
 * Committed offsets, one metadata key per (group, topic, partition): an OffsetCommit writes only the
 * partitions it names (no read-modify-write of a big per-group value), and any number of partitions
 * fits because a commit is packed into as few transactions as the limits allow (≤ MAX_TXN_OPS ops
 * and ≤ MAX_TXN_BYTES each). Every transaction is guarded by the group state key's mod revision, so
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
    let revision = guardRevision;
    let written = 0;
    let index = 0;
    let first = true;
    while (first || index < offsets.length) {
      const ops: TxnOp[] = first ? [...firstOps] : [];
      let bytes = ops.reduce((total, op) => total + (op.type === 'put' ? op.key.length + op.value.length : 0), 0);
      const start = index;
      while (index < offsets.length && ops.length < MAX_TXN_OPS) {
        const offset = offsets[index] as CommittedOffset;
        const op = putOp(groupId, offset);
        const opBytes = op.key.length + op.value.length;
        if (ops.length > 0 && bytes + opBytes > MAX_TXN_BYTES - TXN_SLACK_BYTES) break;
        ops.push(op);
        bytes += opBytes;
        index++;
      }
      const result = await this.#store.txn({ compare: [{ key: groupKey, target: 'modRevision', op: '==', value: revision }], success: ops });
      if (!result.succeeded) return { written, conflict: true, groupRevision: revision };
      if (first && writesGroupKey) revision = result.revision;
      written += index - start;
      first = false;
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

  /** Deletes the named offsets in guarded transactions of at most MAX_TXN_OPS deletes. */
  async delete(groupId: string, guardRevision: number, partitions: readonly { topic: string; partition: number }[]): Promise<boolean> {
    const groupKey = MetaKeys.group(groupId);
    for (let i = 0; i < partitions.length; i += MAX_TXN_OPS) {
      const ops: TxnOp[] = partitions.slice(i, i + MAX_TXN_OPS).map((p) => ({ type: 'delete', key: MetaKeys.groupOffset(groupId, p.topic, p.partition) }));
      const result = await this.#store.txn({ compare: [{ key: groupKey, target: 'modRevision', op: '==', value: guardRevision }], success: ops });
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
