/**
 * The write side of one owned partition: validates and assigns offsets synchronously in call order,
 * queues batches for the broker-wide FlushPipeline, and settles each append only when its flush was PUT
 * and committed (or failed with a retriable code). See docs/design/storage.md, "Write path".
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { lastOffsetDelta, maxTimestamp as batchMaxTimestamp, patchBaseOffset, patchPartitionLeaderEpoch } from '../../protocol/records/index.ts';
import type { KeyValue } from '../../storage/meta/metadata-store.ts';
import { Backoff } from '../../timing/backoff.ts';
import type { ProducerStateTable } from '../producers/producer-state.ts';
import { checkAppendBatches } from './append-checks.ts';
import { ClaimGuard, type Refence } from './claim-guard.ts';
import type { FlushPartition, FlushScheduler } from './flush-pipeline.ts';
import type { LogEntry } from './log-entry.ts';
import type { OwnershipClaim } from './partition-ownership.ts';
import { PartitionProducers } from './partition-producers.ts';
import type { PartitionState } from './partition-state.ts';
import { PartitionTail, type TailBudget } from './partition-tail.ts';
import { appendFailure, PendingAppend, type AppendResult } from './pending-append.ts';
import type { PendingBytes } from './pending-bytes.ts';
import { UnacknowledgedAppends } from './unacknowledged-appends.ts';

export type { AppendResult, RecordError } from './pending-append.ts';
export type { Refence } from './claim-guard.ts';

export type PartitionLogStatus = 'active' | 'reloading' | 'fenced' | 'closed';

/**
 * Told about a broken write-path invariant (tests turn it into a failure; see checkInvariants). When set,
 * the full check runs after every commit and every re-read; without it only O(1) guards run.
 */
export type InvariantHook = (log: PartitionLog, violation: string) => void;

export class PartitionLog implements FlushPartition {
  readonly #guard: ClaimGuard;
  readonly state: PartitionState;
  readonly tail = new PartitionTail();
  /** The broker's write-path memory budget (owned by the FlushPipeline). */
  readonly #budget: PendingBytes;
  readonly #scheduler: FlushScheduler;
  readonly #tailBudget: TailBudget;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #reloadState: (atLeastRevision: number) => Promise<PartitionState>;
  #status: PartitionLogStatus = 'active';
  #nextOffset: number;
  readonly #producers: PartitionProducers;
  readonly #invariantHook: InvariantHook | null;
  /** Highest committed high watermark seen after a commit: it must never go back. */
  #highestWatermark: number;
  readonly #appends = new UnacknowledgedAppends();

  constructor(options: {
    readonly claim: OwnershipClaim;
    readonly state: PartitionState;
    readonly budget: PendingBytes;
    readonly scheduler: FlushScheduler;
    readonly tailBudget: TailBudget;
    readonly log: Logger;
    readonly now: () => number;
    /** A fresh read of the committed state at a store revision ≥ atLeastRevision. */
    readonly reloadState: (atLeastRevision: number) => Promise<PartitionState>;
    /** producer.id.expiration.ms: producers idle this long are forgotten. */
    readonly producerIdExpirationMs: number;
    readonly invariantHook?: InvariantHook;
    readonly refence: Refence;
  }) {
    this.#guard = new ClaimGuard(options.claim, options.refence, () => this.fence('owner key changed', 'unknown'));
    this.state = options.state;
    this.#budget = options.budget;
    this.#scheduler = options.scheduler;
    this.#tailBudget = options.tailBudget;
    this.#log = options.log;
    this.#now = options.now;
    this.#reloadState = options.reloadState;
    this.#nextOffset = options.state.highWatermark;
    this.#invariantHook = options.invariantHook ?? null;
    this.#highestWatermark = options.state.highWatermark;
    this.#producers = new PartitionProducers(options.state.entries, options.now, options.producerIdExpirationMs);
  }

  /** Idempotent-producer state (DescribeProducers): committed and pending batches. */
  get producers(): ProducerStateTable {
    return this.#producers.table;
  }

  /**
   * The claim as of now: its owner mod revision moves forward when the partition re-fences after an
   * ambiguous outcome. Exclusive tasks (trims, merge swaps) read it inside `exclusive`, where it is stable.
   */
  get claim(): OwnershipClaim {
    return this.#guard.claim;
  }

  get topicId(): string {
    return this.#guard.claim.topicId;
  }

  get partition(): number {
    return this.#guard.claim.partition;
  }

  get epoch(): number {
    return this.#guard.claim.epoch;
  }

  /** Runs `task` when no other exclusive task (trim, merge swap, re-fence, release) of this partition runs. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#guard.exclusive(task);
  }

  /** Fences every older txn of the claim and reads `readKeys` at the fence's revision (ClaimGuard). */
  fenceOlderWrites(readKeys: readonly string[]): Promise<ReadonlyArray<KeyValue | null> | null> {
    return this.#guard.fenceOlderWrites(readKeys);
  }

  /** fenceOlderWrites for a caller already inside `exclusive`. */
  fenceOlderWritesLocked(readKeys: readonly string[]): Promise<ReadonlyArray<KeyValue | null> | null> {
    return this.#guard.fenceOlderWritesLocked(readKeys);
  }

  get status(): PartitionLogStatus {
    return this.#status;
  }

  /** Next offset to assign (log end offset, including unacknowledged appends). */
  get nextOffset(): number {
    return this.#nextOffset;
  }

  get hasQueued(): boolean {
    return this.#appends.hasQueued;
  }

  /**
   * Appends producer batches (views; patched in place). Offsets are assigned before this returns a
   * promise unless the broker's pending-bytes bound makes it wait (then in FIFO order). The promise
   * resolves — never rejects — once the batches are durable and committed, or with an error code.
   */
  append(batches: readonly Buffer[], topicConfigs: Readonly<Record<string, string>>): Promise<AppendResult> {
    const refusal = this.#refusal();
    if (refusal !== null) return Promise.resolve(refusal);
    this.#producers.maybeExpire();
    const checked = checkAppendBatches(batches, topicConfigs, this.#now(), this.state.logStartOffset);
    if ('errorCode' in checked) return Promise.resolve(checked);
    if (this.#budget.mustWait(checked.bytes)) return this.#appendAfterWait(batches, checked.bytes, checked.appendTimeMs);
    return this.#assign(batches, checked.bytes, checked.appendTimeMs, false);
  }

  async #appendAfterWait(batches: readonly Buffer[], bytes: number, appendTimeMs: number): Promise<AppendResult> {
    await this.#budget.waitForRoom(bytes);
    const refusal = this.#refusal();
    if (refusal !== null) {
      this.#budget.cancel(bytes);
      return refusal;
    }
    return this.#assign(batches, bytes, appendTimeMs, true);
  }

  #refusal(): AppendResult | null {
    if (this.#status === 'active') return null;
    if (this.#status === 'reloading') {
      return appendFailure(ErrorCode.KAFKA_STORAGE_ERROR, 'partition is re-reading its committed state after a storage failure; retry', this.state.logStartOffset);
    }
    return appendFailure(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'this broker no longer owns the partition', this.state.logStartOffset); // fenced, closed
  }

  /**
   * Sequence check, offset assignment and producer-state update in one synchronous step, so no other
   * append of this partition can come between them (idempotence.md).
   */
  #assign(batches: readonly Buffer[], bytes: number, appendTimeMs: number, reserved: boolean): Promise<AppendResult> {
    const checked = this.#producers.check(batches, this.#nextOffset);
    if (!Array.isArray(checked)) {
      if (reserved) this.#budget.cancel(bytes);
      if (checked.kind === 'duplicate') return this.#producers.duplicateResult(checked.original, this.state.logStartOffset);
      return Promise.resolve(appendFailure(checked.errorCode, checked.message, this.state.logStartOffset));
    }
    const pending = this.#assignOffsets(batches, bytes, appendTimeMs, reserved);
    if (checked.length > 0) this.#producers.added(pending, checked);
    return pending.promise;
  }

  /** `appendTimeMs`: the LogAppendTime already stamped on the batches (stampBatchTimestamps), or -1. */
  #assignOffsets(batches: readonly Buffer[], bytes: number, appendTimeMs: number, reserved: boolean): PendingAppend {
    const baseOffset = this.#nextOffset;
    let next = baseOffset;
    let maxTs = -1;
    for (const batch of batches) {
      patchBaseOffset(batch, BigInt(next));
      patchPartitionLeaderEpoch(batch, this.epoch);
      const ts = Number(batchMaxTimestamp(batch));
      if (ts > maxTs) maxTs = ts;
      next += lastOffsetDelta(batch) + 1;
    }
    this.#nextOffset = next;
    const pending = new PendingAppend(batches, baseOffset, next - 1, bytes, maxTs, appendTimeMs);
    this.#appends.push(pending);
    this.#budget.queued(bytes, reserved);
    this.#scheduler.queued(this);
    return pending;
  }

  /** Moves queued appends (at least one, then up to maxBytes) into a flush. */
  take(maxBytes: number): PendingAppend[] {
    return this.#appends.take(maxBytes);
  }

  /** The flush's appends are committed at `revision` under `entry`. */
  committed(taken: readonly PendingAppend[], entry: LogEntry, revision: number): void {
    // Read-your-writes: the watch delivers the same put later and is ignored by its revision.
    this.state.applyEntry(entry.baseOffset, entry, revision);
    for (const pending of taken) this.#acknowledge(pending);
    this.#removeSettled();
    this.state.notify();
    if (this.#invariantHook !== null) this.checkInvariants();
  }

  /** The append is in the committed log: acknowledge it (once) and remember its producer batches. */
  #acknowledge(pending: PendingAppend): void {
    // Committed means in the log, whatever the append's promise said: the state must know it.
    this.#producers.committed(pending);
    if (!pending.settled) {
      for (const batch of pending.batches) this.#tailBudget.add(this.tail, batch, Number(batch.readBigInt64BE(0)));
    }
    pending.settle({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: pending.baseOffset,
      logAppendTimeMs: pending.logAppendTimeMs,
      logStartOffset: this.state.logStartOffset,
      recordErrors: [],
    });
  }

  /**
   * After a fenced re-read: the unacknowledged appends (from the front) whose batches the committed
   * entries hold — an entry of their own flush's object covering them, i.e. a commit that applied although
   * it was reported failed or unknown — are acknowledged; the caller fails the rest.
   */
  #acknowledgeCommitted(state: PartitionState): void {
    for (const pending of this.#appends.committedIn(state)) this.#acknowledge(pending);
    this.#removeSettled();
  }

  /**
   * A flush run failed (PUT, commit, or an earlier run of the partition failed first): fails the run's
   * appends and every later unacknowledged append of the partition, and rolls the next offset back to the
   * first of them, so the offsets are reassigned to new data and the log stays contiguous.
   *
   * Only appends that are still unsettled count. A run whose appends were already failed by an earlier
   * rollback is stale: failing "from its base offset" again would fail appends made after that rollback
   * (which now own those offsets) and move the next offset into the middle of them — two acknowledged
   * writes at the same offsets (issue 10, item 1). Unsettled appends are contiguous and in offset order,
   * every committed offset is below the first of them, so the rollback target is never below an offset
   * in flight or committed.
   */
  failAppends(taken: readonly PendingAppend[], errorCode: number, message: string): void {
    const first = taken.find((p) => !p.settled);
    if (first === undefined) return;
    if (this.#status === 'active' && first.baseOffset < this.state.highWatermark) {
      // The committed state already holds offsets of this append: its commit applied after all (a
      // timed-out txn the watch reported) or something else wrote there. Never hand those offsets out
      // again: fence and re-read the committed state instead (that fails the appends).
      this.#log.warn({ topicId: this.topicId, partition: this.partition, from: first.baseOffset, highWatermark: this.state.highWatermark }, 'failed append lies below the committed high watermark; re-reading the partition');
      this.requestReload();
      return;
    }
    if (!this.#appends.settleFrom(first, appendFailure(errorCode, message, this.state.logStartOffset))) return;
    this.#removeSettled();
    this.#nextOffset = first.baseOffset;
    this.#producers.rollback(this.#appends.all());
  }

  /** Fails every unacknowledged append (fenced, closed, re-reading); the caller decides the next offset. */
  #failAll(errorCode: number, message: string): void {
    const reply = appendFailure(errorCode, message, this.state.logStartOffset);
    const first = this.#appends.first;
    for (const pending of this.#appends.all()) pending.settle(reply);
    this.#removeSettled();
    if (first !== undefined) this.#nextOffset = first.baseOffset;
    this.#producers.rollback(this.#appends.all());
  }

  /**
   * The write path's invariants (docs/design/storage.md, "Write-path invariants"): committed entries are
   * sorted, contiguous and do not overlap; the committed high watermark never goes back; unacknowledged
   * appends are contiguous, start at the committed high watermark and end at the next offset. Reports
   * each violation to the hook (and the log); returns whether all held.
   */
  checkInvariants(): boolean {
    if (this.#status !== 'active') return true;
    const hwm = this.state.highWatermark;
    const problems = [
      this.state.checkEntries(),
      hwm < this.#highestWatermark ? `high watermark went back from ${this.#highestWatermark} to ${hwm}` : null,
      this.#appends.sequenceProblem(hwm, this.#nextOffset),
    ].filter((problem) => problem !== null);
    this.#highestWatermark = Math.max(this.#highestWatermark, hwm);
    for (const problem of problems) {
      this.#log.error({ topicId: this.topicId, partition: this.partition, epoch: this.epoch, problem }, 'partition log invariant violated');
      this.#invariantHook?.(this, problem);
    }
    return problems.length === 0;
  }

  /**
   * The claim is no longer valid: nothing more is committed or accepted here. `outcome` 'unknown' (the
   * default): a commit of appends taken by a flush may have applied (a session lost, or an owner key gone
   * while a commit's answer was outstanding — a merge or trim that finds the claim lost cannot know).
   * Those appends get REQUEST_TIMED_OUT, Kafka's "may or may not be written": a client then retries with
   * the same producer epoch and sequence, which the new owner de-duplicates; NOT_LEADER_OR_FOLLOWER would
   * tell it the batch is not written, and an idempotent client that bumps its epoch meanwhile re-sends it
   * as new data (a duplicate no broker can detect). 'known': only the committer, whose own commit was
   * refused by the owner compare (commits run one flush at a time, so no other is outstanding).
   */
  fence(reason: string, outcome: 'known' | 'unknown' = 'unknown'): void {
    if (this.#status === 'fenced' || this.#status === 'closed') return;
    this.#status = 'fenced';
    this.#log.warn({ topicId: this.topicId, partition: this.partition, epoch: this.epoch, reason, outcome }, 'partition ownership lost; failing unacknowledged appends');
    if (outcome === 'unknown') this.#failSentCommits(`this broker lost the partition (${reason}) while the outcome of this write was unknown; retry`);
    this.#failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker no longer owns the partition (${reason})`);
  }

  /**
   * After an unresolved commit the committed log end is unknown: refuse appends until the committed state
   * is re-read, then continue at its high watermark.
   */
  requestReload(): void {
    if (this.#status !== 'active') return;
    this.#status = 'reloading';
    void this.#reload();
  }

  async #reload(): Promise<void> {
    const backoff = new Backoff({ initialMs: 50, maxMs: 2_000 });
    while (this.#status === 'reloading') {
      try {
        // Fence first: a commit whose outcome is unknown may still apply; after the fence it never can,
        // so the read below (at or after the fence) is final and its offsets may be handed out again.
        const fenced = await this.fenceOlderWrites([]);
        if (this.#status !== 'reloading') return;
        if (fenced === null) {
          this.#status = 'active';
          this.fence('owner key changed', 'unknown');
          return;
        }
        const fenceRevision = this.claim.ownerModRevision;
        const state = await this.#reloadState(fenceRevision);
        if (this.#status !== 'reloading') return;
        // Older than our fence: the key was deleted; newer than our claim: someone else wrote it (a
        // later re-fence of ours may have moved the claim past what this read saw — that is fine).
        if (state.ownerModRevision < fenceRevision || state.ownerModRevision > this.claim.ownerModRevision) {
          // The read is still at or after our fence, so the entries it shows are committed: those appends
          // are acknowledged. An unresolved commit it does not show may sit in an entry the new owner has
          // merged already: 'unknown' (REQUEST_TIMED_OUT), never "not written".
          this.#acknowledgeCommitted(state);
          this.#status = 'active';
          this.fence('owner key changed', 'unknown');
          return;
        }
        this.#acknowledgeCommitted(state);
        this.#failAll(ErrorCode.KAFKA_STORAGE_ERROR, 'partition state was re-read after a storage failure; retry');
        this.#nextOffset = state.highWatermark;
        this.#producers.reset(state.entries);
        this.#tailBudget.forget(this.tail);
        this.#status = 'active';
        if (this.#invariantHook !== null) this.checkInvariants();
        this.#log.info({ topicId: this.topicId, partition: this.partition, nextOffset: this.#nextOffset }, 'partition state re-read; appends resume');
        return;
      } catch (error) {
        this.#log.warn({ err: error, topicId: this.topicId, partition: this.partition, retryInMs: backoff.delayMs }, 'cannot re-read partition state; retrying');
        await backoff.wait();
      }
    }
  }

  /**
   * Resolves when every append made so far has settled (acknowledged or failed). A handover waits for
   * this before deleting the owner key, so no acknowledged append is left behind and none is failed
   * after it may have committed.
   */
  settled(): Promise<void> {
    return this.#appends.settled();
  }

  close(): void {
    if (this.#status === 'closed') return;
    // Normally nothing is left (a release waits for `settled`); a re-read still resolving a commit's
    // outcome (a broker shutting down meanwhile) leaves it unknown.
    this.#failSentCommits('the broker released the partition while the outcome of this write was unknown; retry');
    this.#failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition was released by this broker');
    this.#status = 'closed';
    this.#tailBudget.forget(this.tail);
  }

  /** Appends whose commit was sent and not resolved: REQUEST_TIMED_OUT ("may or may not be written"). */
  #failSentCommits(message: string): void {
    const unknown = appendFailure(ErrorCode.REQUEST_TIMED_OUT, message, this.state.logStartOffset);
    for (const pending of this.#appends.inflight) if (pending.commitSent) pending.settle(unknown);
  }

  #removeSettled(): void {
    // Queued appends never reached a flush, so their bytes are returned to the budget here.
    const released = this.#appends.removeSettled();
    if (released > 0) this.#budget.dropQueued(released);
  }
}
