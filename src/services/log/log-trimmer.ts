/**
 * Moves a partition's log start offset forward and drops the log entries wholly below it — the one
 * primitive behind DeleteRecords and retention (docs/design/storage.md, "Retention, DeleteRecords and
 * object collection"). Only the owner trims: every txn compares the owner key's mod revision of the claim,
 * exactly like a flush commit, so a fenced broker can never move the start or delete entries.
 *
 * Order matters for readers on other brokers: `start` is advanced in the FIRST txn (together with the
 * first chunk of deletions), so no reader ever sees a gap between the log start and the first entry.
 * Entries are dropped only from the front, keeping the rest contiguous. Objects are NOT deleted here: a
 * WAL object is shared by many partitions; the ObjectCollector deletes it once nothing references it.
 */
import type { Compare, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { packOps } from '../../storage/meta/txn-packer.ts';
import { LogKeys, MetaKeys } from '../cluster/meta-keys.ts';
import { encodeJson, type LogEntry } from './log-entry.ts';
import type { PartitionLog } from './partition-log.ts';

export interface TrimResult {
  /** False when the claim is no longer valid (fenced): nothing more was changed. */
  readonly ok: boolean;
  readonly logStartOffset: number;
  readonly droppedEntries: number;
}

export class LogTrimmer {
  readonly #store: MetadataStore;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /**
   * Advances the log start offset to `newStart` (never backwards; callers keep it ≤ the high watermark)
   * and deletes every entry whose last offset is below it. Applies the changes to the owner's state at
   * once (read-your-writes); the watch delivers the same changes later and is ignored by revision.
   */
  trim(log: PartitionLog, newStart: number): Promise<TrimResult> {
    return this.exclusive(log, () => this.#trim(log, newStart));
  }

  /**
   * Runs `task` when no trim (or other exclusive task) of this partition runs. The merger swaps its
   * entries through this: a trim computes the entries to drop before its txns, so a swap landing in
   * between would have its new entry deleted by key.
   */
  exclusive<T>(log: PartitionLog, task: () => Promise<T>): Promise<T> {
    // Trims of one partition also run one at a time, so a slower, older trim can never move `start` back.
    return log.exclusive(task);
  }

  async #trim(log: PartitionLog, newStart: number): Promise<TrimResult> {
    const { claim, state } = log;
    if (log.status === 'fenced' || log.status === 'closed') return { ok: false, logStartOffset: state.logStartOffset, droppedEntries: 0 };
    const start = Math.max(newStart, state.logStartOffset);
    const dropped: LogEntry[] = [];
    for (const entry of state.entries) {
      if (entry.lastOffset >= start) break;
      dropped.push(entry);
    }
    const ops: TxnOp[] = [];
    const moveStart = start > state.logStartOffset;
    if (moveStart) ops.push({ type: 'put', key: MetaKeys.partitionLogStart(claim.topicId, claim.partition), value: encodeJson({ logStartOffset: start }) });
    for (const entry of dropped) ops.push({ type: 'delete', key: MetaKeys.partitionLogEntry(claim.topicId, claim.partition, entry.baseOffset) });
    let done = 0;
    const ownerGuard = (): Compare[] => [{ key: claim.ownerKey, target: 'modRevision', op: '==', value: claim.ownerModRevision }];
    for (const chunk of packOps(ops, { shared: { compare: ownerGuard() } })) {
      let result;
      try {
        result = await this.#store.txn({ compare: ownerGuard(), success: chunk });
      } catch (error) {
        // Did it apply? If it applies later, after a merge re-put one of its keys with more offsets, its
        // delete-by-key would drop committed data: fence it before anything else runs (issue 10, item 5).
        await log.fenceOlderWritesLocked([]).catch(() => undefined);
        throw error;
      }
      if (!result.succeeded) {
        log.fence('owner key changed while trimming the log');
        return { ok: false, logStartOffset: state.logStartOffset, droppedEntries: done };
      }
      for (const op of chunk) {
        if (op.type === 'put') {
          state.applyLogStart(start, result.revision);
        } else if (op.type === 'delete') {
          const baseOffset = LogKeys.baseOffsetOf(op.key);
          if (baseOffset !== null && state.applyEntry(baseOffset, null, result.revision)) done++;
        }
      }
      state.notify();
    }
    return { ok: true, logStartOffset: state.logStartOffset, droppedEntries: done };
  }
}
