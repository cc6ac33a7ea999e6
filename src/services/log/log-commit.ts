/**
 * The commit half of a flush (docs/design/storage.md, "Write path and flush pipeline", "Failures"): one
 * log entry per partition, put-if-absent and guarded by the partition's owner key, packed into as few
 * txns as the store's limits allow (txn-packer.ts) and sent in parallel — each partition's entry lives in
 * exactly one txn, so partial success is per partition. Refused and ambiguous outcomes are resolved here.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Compare, KeyValue, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { packTxns } from '../../storage/meta/txn-packer.ts';
import type { FlushPartition } from './flush-pipeline.ts';
import { decodeLogEntry, type LogEntry } from './log-entry.ts';
import type { PendingAppend } from './pending-append.ts';

/** One partition's share of a flush: its appends and the entry that commits them. */
export interface Run {
  readonly log: FlushPartition;
  readonly taken: PendingAppend[];
  readonly entry: LogEntry;
  readonly entryKey: string;
  readonly entryValue: Buffer;
}

export class LogCommitter {
  readonly #store: MetadataStore;
  readonly #log: Logger;

  constructor(store: MetadataStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Commits the runs of a flush whose object was PUT; every append ends acknowledged, failed or fenced. */
  async commit(runs: readonly Run[]): Promise<void> {
    await Promise.all(packTxns(this.#liveRuns(runs), txnPart).map((chunk) => this.#commitChunk(chunk, true)));
  }

  fail(runs: readonly Run[], errorCode: number, message: string): void {
    for (const run of runs) run.log.failAppends(run.taken, errorCode, message);
  }

  /**
   * The runs that may still be committed. A run whose appends failed meanwhile (an earlier flush of the
   * partition failed, fenced, reloading) must not be: that would leave a gap, or put data at offsets that
   * were handed out again. Its still-unsettled appends (none, normally) are failed.
   */
  #liveRuns(runs: readonly Run[]): Run[] {
    const live: Run[] = [];
    for (const run of runs) {
      if (run.taken.some((p) => p.settled) || run.log.status !== 'active') {
        run.log.failAppends(run.taken, ErrorCode.KAFKA_STORAGE_ERROR, 'an earlier write of this partition failed; retry');
        continue;
      }
      live.push(run);
    }
    return live;
  }

  async #commitChunk(runs: Run[], retry: boolean): Promise<void> {
    const compare: Compare[] = [];
    const success: TxnOp[] = [];
    const failure: TxnOp[] = [];
    for (const run of runs) {
      const part = txnPart(run);
      compare.push(...part.compare);
      success.push(...part.success);
      failure.push(...part.failure);
    }
    for (const run of runs) for (const pending of run.taken) pending.commitSent = true;
    let result;
    try {
      result = await this.#store.txn({ compare, success, failure });
    } catch (error) {
      this.#log.warn({ err: error, partitions: runs.length }, 'log commit failed or timed out; resolving by re-reading');
      await Promise.all(runs.map((run) => this.#resolveAmbiguous(run)));
      return;
    }
    if (result.succeeded) {
      for (const run of runs) run.log.committed(run.taken, run.entry, result.revision);
      return;
    }
    const again: Run[] = [];
    runs.forEach((run, i) => {
      const owner = result.results[i * 2] as KeyValue | null;
      const existing = result.results[i * 2 + 1] as KeyValue | null;
      if (owner === null || owner.modRevision !== run.log.claim.ownerModRevision) {
        run.log.fence('owner key changed or expired', 'known');
      } else if (existing !== null) {
        this.#resolveExisting(run, existing);
      } else {
        again.push(run);
      }
    });
    if (again.length === 0) return;
    if (retry) {
      const live = this.#liveRuns(again);
      if (live.length > 0) await this.#commitChunk(live, false);
    } else {
      this.fail(again, ErrorCode.KAFKA_STORAGE_ERROR, 'log commit was refused; retry');
    }
  }

  /** An entry already sits at our base offset: ours (an earlier ambiguous attempt) or a conflict. */
  #resolveExisting(run: Run, existing: KeyValue): void {
    let theirs: LogEntry | null = null;
    try {
      theirs = decodeLogEntry(existing.value);
    } catch {
      theirs = null;
    }
    if (theirs !== null && theirs.objectKey === run.entry.objectKey && theirs.lastOffset === run.entry.lastOffset) {
      run.log.committed(run.taken, theirs, existing.modRevision);
      return;
    }
    run.log.failAppends(run.taken, ErrorCode.KAFKA_STORAGE_ERROR, 'committed state changed under this broker; retry');
    run.log.requestReload();
  }

  /**
   * The commit txn threw (timeout, store down): it may have applied, or may still apply. First fence
   * every older txn of the claim (a guarded re-put of the owner key) and read the entry key in that same
   * txn: whatever it shows is final, because the lost txn compares the old owner revision and can never
   * apply afterwards. Only then may the offsets be handed out again — put-if-absent alone protects only
   * while the key exists, and merges and trims delete keys (issue 10, item 5).
   */
  async #resolveAmbiguous(run: Run): Promise<void> {
    let reads: ReadonlyArray<KeyValue | null> | null;
    try {
      reads = await run.log.fenceOlderWrites([run.entryKey]);
    } catch (error) {
      // The re-read fences before it reads, then acknowledges the appends its entries show committed
      // (this run's, if the txn applied) and fails the rest: a retry of a committed batch would be a
      // duplicate for a non-idempotent producer.
      this.#log.warn({ err: error, topicId: run.log.topicId, partition: run.log.partition }, 'cannot tell whether the log commit applied; re-reading the partition');
      run.log.requestReload();
      return;
    }
    if (reads === null) {
      run.log.fence('owner key changed or expired', 'unknown');
      return;
    }
    const existing = reads[0] ?? null;
    if (existing !== null) {
      this.#resolveExisting(run, existing);
      return;
    }
    run.log.failAppends(run.taken, ErrorCode.KAFKA_STORAGE_ERROR, 'log commit failed; retry');
  }
}

/**
 * A run's part of a commit txn: the owner compare (the claim as of now: a re-fence moves it) and
 * put-if-absent of the entry — even a commit that was reported failed but applied later cannot be
 * overwritten; the failure branch reads both keys back, in this order (owner, entry).
 */
function txnPart(run: Run): { compare: Compare[]; success: TxnOp[]; failure: TxnOp[] } {
  const claim = run.log.claim;
  return {
    compare: [
      { key: claim.ownerKey, target: 'modRevision', op: '==', value: claim.ownerModRevision },
      { key: run.entryKey, target: 'createRevision', op: '==', value: 0 },
    ],
    success: [{ type: 'put', key: run.entryKey, value: run.entryValue }],
    failure: [{ type: 'get', key: claim.ownerKey }, { type: 'get', key: run.entryKey }],
  };
}
