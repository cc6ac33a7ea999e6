/**
 * The write side of one owned partition: validates and assigns offsets synchronously in call order,
 * queues batches for the broker-wide FlushPipeline, and settles each append only when its flush was PUT
 * and committed (or failed with a retriable code). See docs/design/storage.md, "Write path".
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import {
  baseSequence as batchBaseSequence,
  lastOffsetDelta,
  lastSequence as batchLastSequence,
  maxTimestamp as batchMaxTimestamp,
  patchBaseOffset,
  patchPartitionLeaderEpoch,
  producerEpoch as batchProducerEpoch,
  producerId as batchProducerId,
  stampBatchTimestamps,
  validateBatch,
} from '../../protocol/records/index.ts';
import { PRODUCER_ID_EXPIRATION_MS_DEFAULT, ProducerStateTable, type ProducerBatch } from '../producers/producer-state.ts';
import { timestampRules, topicConfigNumber } from '../cluster/topic-configs.ts';
import type { KeyValue } from '../../storage/meta/metadata-store.ts';
import type { OwnershipClaim, Refenced } from './partition-ownership.ts';
import type { PartitionState } from './partition-state.ts';
import { PartitionTail, type TailBudget } from './partition-tail.ts';

export interface RecordError {
  readonly batchIndex: number;
  readonly message: string;
}

export interface AppendResult {
  /** ErrorCode.NONE once durable; otherwise a Kafka error code (retriable ones: the producer retries). */
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** Offset of the first record appended, or -1 on error. */
  readonly baseOffset: number;
  /** The broker time stamped on LogAppendTime topics, else -1. */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** Per-batch problems (INVALID_RECORD / CORRUPT_MESSAGE), Kafka's ProduceResponse recordErrors. */
  readonly recordErrors: readonly RecordError[];
  /**
   * True when the append was an exact retry of an idempotent batch already written: nothing was
   * appended and baseOffset is the original batch's offset. Kafka answers such a retry with NONE and
   * the original offset (the Java client also accepts DUPLICATE_SEQUENCE_NUMBER as success), so the
   * Produce handler needs no special case. Absent = false.
   */
  readonly duplicate?: boolean;
}

/** One append call's batches on their way to durability. */
export class PendingAppend {
  readonly log: PartitionLog;
  readonly batches: readonly Buffer[];
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: number;
  readonly maxTimestamp: number;
  readonly logAppendTimeMs: number;
  /** The idempotent batches of this append, with their offsets (null: none). */
  producerBatches: ProducerBatch[] | null = null;
  /** The WAL object of the flush that took this append (null: still queued). */
  objectKey: string | null = null;
  settled = false;
  /** Set when a commit carrying this append was sent to the metadata store: from then on, until it is
   * resolved, whether the append is written is unknown to anyone but the store. */
  commitSent = false;
  readonly #resolve: (result: AppendResult) => void;
  readonly promise: Promise<AppendResult>;

  constructor(log: PartitionLog, batches: readonly Buffer[], baseOffset: number, lastOffset: number, bytes: number, maxTimestamp: number, logAppendTimeMs: number) {
    this.log = log;
    this.batches = batches;
    this.baseOffset = baseOffset;
    this.lastOffset = lastOffset;
    this.bytes = bytes;
    this.maxTimestamp = maxTimestamp;
    this.logAppendTimeMs = logAppendTimeMs;
    let resolve!: (result: AppendResult) => void;
    this.promise = new Promise<AppendResult>((r) => {
      resolve = r;
    });
    this.#resolve = resolve;
  }

  settle(result: AppendResult): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(result);
  }
}

/** What PartitionLog needs from the broker-wide pipeline. */
export interface FlushScheduler {
  /** True when `bytes` more would exceed the pending-bytes bound (or others already wait). */
  mustWait(bytes: number): boolean;
  waitForRoom(bytes: number): Promise<void>;
  /** `reserved`: the bytes were already counted when the append was woken from waitForRoom. */
  enqueued(log: PartitionLog, bytes: number, reserved: boolean): void;
  /** A woken append was refused after all: return its reservation. */
  cancelReservation(bytes: number): void;
  /** Queued appends failed before any flush took them. */
  released(bytes: number): void;
}

export type PartitionLogStatus = 'active' | 'reloading' | 'fenced' | 'closed';

/**
 * Told about a broken write-path invariant (tests turn it into a failure; see checkInvariants). When set,
 * the full check runs after every commit and every re-read; without it only O(1) guards run.
 */
export type InvariantHook = (log: PartitionLog, violation: string) => void;

function failure(errorCode: number, errorMessage: string, logStartOffset: number, recordErrors: readonly RecordError[] = []): AppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset, recordErrors };
}

/** Re-puts the owner key guarded by the claim, reading `readKeys` at that revision (PartitionOwnership.refence). */
export type Refence = (claim: OwnershipClaim, readKeys: readonly string[]) => Promise<Refenced | null>;

export class PartitionLog {
  #claim: OwnershipClaim;
  readonly #refence: Refence;
  /** Tail of the chain of exclusive tasks (trims, merge swaps, re-fences) of this partition. */
  #exclusive: Promise<unknown> = Promise.resolve();
  #fencePending = false;
  readonly state: PartitionState;
  readonly tail = new PartitionTail();
  readonly #scheduler: FlushScheduler;
  readonly #tailBudget: TailBudget;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #reloadState: (atLeastRevision: number) => Promise<PartitionState>;
  #status: PartitionLogStatus = 'active';
  #nextOffset: number;
  readonly #producerIdExpirationMs: number;
  /** Producer state of committed entries only: what a new owner would rebuild. */
  #committedProducers: ProducerStateTable;
  /** Committed + every unsettled append, in offset order: what new batches are checked against. */
  #producers: ProducerStateTable;
  /** The append that wrote a remembered batch, while it may still be unsettled (retries wait on it). */
  readonly #appendOfBatch = new WeakMap<ProducerBatch, PendingAppend>();
  #lastExpiryMs: number;
  readonly #invariantHook: InvariantHook | null;
  /** Highest committed high watermark seen after a commit: it must never go back. */
  #highestWatermark: number;
  /** Appended, not yet taken by a flush, in offset order. */
  #queued: PendingAppend[] = [];
  /** Taken by a flush, not yet settled, in offset order. */
  #inflight: PendingAppend[] = [];

  constructor(options: {
    readonly claim: OwnershipClaim;
    readonly state: PartitionState;
    readonly scheduler: FlushScheduler;
    readonly tailBudget: TailBudget;
    readonly log: Logger;
    readonly now: () => number;
    /** A fresh read of the committed state at a store revision ≥ atLeastRevision. */
    readonly reloadState: (atLeastRevision: number) => Promise<PartitionState>;
    /** producer.id.expiration.ms: producers idle this long are forgotten (Kafka's default: 1 day). */
    readonly producerIdExpirationMs?: number;
    readonly invariantHook?: InvariantHook;
    readonly refence: Refence;
  }) {
    this.#claim = options.claim;
    this.#refence = options.refence;
    this.state = options.state;
    this.#scheduler = options.scheduler;
    this.#tailBudget = options.tailBudget;
    this.#log = options.log;
    this.#now = options.now;
    this.#reloadState = options.reloadState;
    this.#nextOffset = options.state.highWatermark;
    this.#producerIdExpirationMs = options.producerIdExpirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT;
    this.#lastExpiryMs = this.#now();
    this.#invariantHook = options.invariantHook ?? null;
    this.#highestWatermark = options.state.highWatermark;
    this.#committedProducers = this.#rebuildProducers(options.state);
    this.#producers = this.#committedProducers.clone();
  }

  /** Idempotent-producer state (DescribeProducers): committed and pending batches. */
  get producers(): ProducerStateTable {
    return this.#producers;
  }

  /**
   * The claim as of now: its owner mod revision moves forward when the partition re-fences after an
   * ambiguous outcome. Exclusive tasks (trims, merge swaps) read it inside `exclusive`, where it is stable.
   */
  get claim(): OwnershipClaim {
    return this.#claim;
  }

  get topicId(): string {
    return this.#claim.topicId;
  }

  get partition(): number {
    return this.#claim.partition;
  }

  get epoch(): number {
    return this.#claim.epoch;
  }

  /**
   * Runs `task` when no other exclusive task of this partition runs: trims (which compute their deletions
   * before their txns), merge swaps, and re-fences (which move the claim's mod revision — a trim or swap
   * in flight across one would fail its owner compare and fence the partition for nothing).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#exclusive.catch(() => undefined).then(async () => {
      // A txn of this claim may still apply (an ambiguous outcome whose fence failed): fence it first.
      if (this.#fencePending && (await this.fenceOlderWritesLocked([])) === null) this.fence('owner key changed', 'unknown');
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

  get status(): PartitionLogStatus {
    return this.#status;
  }

  /** Next offset to assign (log end offset, including unacknowledged appends). */
  get nextOffset(): number {
    return this.#nextOffset;
  }

  get hasQueued(): boolean {
    return this.#queued.length > 0;
  }

  /**
   * Appends producer batches (views; patched in place). Offsets are assigned before this returns a
   * promise unless the broker's pending-bytes bound makes it wait (then in FIFO order). The promise
   * resolves — never rejects — once the batches are durable and committed, or with an error code.
   */
  append(batches: readonly Buffer[], topicConfigs: Readonly<Record<string, string>>): Promise<AppendResult> {
    const refusal = this.#refusal();
    if (refusal !== null) return Promise.resolve(refusal);
    this.#maybeExpireProducers();
    const maxMessageBytes = topicConfigNumber(topicConfigs, 'max.message.bytes');
    const timestamps = timestampRules(topicConfigs, this.#now());
    let bytes = 0;
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i] as Buffer;
      const problem = validateBatch(batch);
      if (problem !== null) {
        const code = ErrorCode[problem.kafkaError];
        const recordErrors = problem.kafkaError === 'INVALID_RECORD' ? [{ batchIndex: i, message: problem.message }] : [];
        return Promise.resolve(failure(code, problem.message, this.state.logStartOffset, recordErrors));
      }
      if (batch.length > maxMessageBytes) {
        return Promise.resolve(failure(
          ErrorCode.MESSAGE_TOO_LARGE,
          `record batch of ${batch.length} bytes is larger than max.message.bytes (${maxMessageBytes}) of the topic`,
          this.state.logStartOffset,
        ));
      }
      // After validation, before the producer check: maxTimestamp is the records' own from here on.
      const stamped = stampBatchTimestamps(batch, timestamps);
      if (stamped !== null) {
        const recordErrors = stamped.kafkaError === 'CORRUPT_MESSAGE' ? [] : [{ batchIndex: stamped.recordIndex ?? i, message: stamped.message }];
        return Promise.resolve(failure(ErrorCode[stamped.kafkaError], stamped.message, this.state.logStartOffset, recordErrors));
      }
      bytes += batch.length;
    }
    if (batches.length === 0) return Promise.resolve(failure(ErrorCode.CORRUPT_MESSAGE, 'produce request carried no record batch', this.state.logStartOffset));
    const appendTimeMs = timestamps.logAppendTimeMs;
    if (this.#scheduler.mustWait(bytes)) return this.#appendAfterWait(batches, bytes, appendTimeMs);
    return this.#assign(batches, bytes, appendTimeMs, false);
  }

  async #appendAfterWait(batches: readonly Buffer[], bytes: number, appendTimeMs: number): Promise<AppendResult> {
    await this.#scheduler.waitForRoom(bytes);
    const refusal = this.#refusal();
    if (refusal !== null) {
      this.#scheduler.cancelReservation(bytes);
      return refusal;
    }
    return this.#assign(batches, bytes, appendTimeMs, true);
  }

  #refusal(): AppendResult | null {
    switch (this.#status) {
      case 'active':
        return null;
      case 'reloading':
        return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'partition is re-reading its committed state after a storage failure; retry', this.state.logStartOffset);
      case 'fenced':
      case 'closed':
        return failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'this broker no longer owns the partition', this.state.logStartOffset);
    }
  }

  /**
   * Sequence check, offset assignment and producer-state update in one synchronous step, so no other
   * append of this partition can come between them (idempotence.md).
   */
  #assign(batches: readonly Buffer[], bytes: number, appendTimeMs: number, reserved: boolean): Promise<AppendResult> {
    const checked = this.#checkProducers(batches);
    if (!Array.isArray(checked)) {
      if (reserved) this.#scheduler.cancelReservation(bytes);
      return checked;
    }
    const pending = this.#assignOffsets(batches, bytes, appendTimeMs, reserved);
    if (checked.length > 0) {
      pending.producerBatches = checked;
      for (const b of checked) {
        this.#producers.apply(b);
        this.#appendOfBatch.set(b, pending);
      }
    }
    return pending.promise;
  }

  /**
   * The idempotent batches of the append with the offsets they will get, or the answer when the
   * append must not be written (a duplicate, or a sequence/epoch error). Kafka's rule for an append
   * holding a duplicate: the whole append is answered as that duplicate.
   */
  #checkProducers(batches: readonly Buffer[]): ProducerBatch[] | Promise<AppendResult> {
    const found: ProducerBatch[] = [];
    // Later batches of the same producer in one append are checked against the earlier ones.
    let table: ProducerStateTable | null = null;
    let offset = this.#nextOffset;
    for (const batch of batches) {
      const firstOffset = offset;
      offset += lastOffsetDelta(batch) + 1;
      const producerId = batchProducerId(batch);
      if (producerId < 0n) continue;
      const epoch = batchProducerEpoch(batch);
      const firstSeq = batchBaseSequence(batch);
      const lastSeq = batchLastSequence(batch);
      const view: ProducerStateTable = table ?? this.#producers;
      const check = view.check(producerId, epoch, firstSeq, lastSeq);
      if (check.kind === 'duplicate') return this.#duplicateResult(check.batch);
      if (check.kind === 'error') return Promise.resolve(failure(check.errorCode, check.message, this.state.logStartOffset));
      const meta: ProducerBatch = { producerId, epoch, firstSeq, lastSeq, firstOffset, lastOffset: offset - 1, timestampMs: Number(batchMaxTimestamp(batch)) };
      found.push(meta);
      if (batches.length > 1) {
        table ??= this.#producers.clone();
        table.apply(meta);
      }
    }
    return found;
  }

  /** A retry of a batch already appended: its original offset once (and if) the original is durable. */
  #duplicateResult(original: ProducerBatch): Promise<AppendResult> {
    const success: AppendResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: original.firstOffset,
      logAppendTimeMs: -1,
      logStartOffset: this.state.logStartOffset,
      recordErrors: [],
      duplicate: true,
    };
    const pending = this.#appendOfBatch.get(original);
    if (pending === undefined || pending.settled) return Promise.resolve(success);
    // The original is still on its way: answer like it (a failure is retriable and rolls the state back).
    return pending.promise.then((result) => (result.errorCode === ErrorCode.NONE ? { ...success, logStartOffset: result.logStartOffset, logAppendTimeMs: result.logAppendTimeMs } : result));
  }

  /** `appendTimeMs`: the LogAppendTime already stamped on the batches (stampBatchTimestamps), or -1. */
  #assignOffsets(batches: readonly Buffer[], bytes: number, appendTimeMs: number, reserved: boolean): PendingAppend {
    const baseOffset = this.#nextOffset;
    let next = baseOffset;
    let maxTs = -1;
    for (const batch of batches) {
      patchBaseOffset(batch, BigInt(next));
      patchPartitionLeaderEpoch(batch, this.#claim.epoch);
      const ts = Number(batchMaxTimestamp(batch));
      if (ts > maxTs) maxTs = ts;
      next += lastOffsetDelta(batch) + 1;
    }
    this.#nextOffset = next;
    const pending = new PendingAppend(this, batches, baseOffset, next - 1, bytes, maxTs, appendTimeMs);
    this.#queued.push(pending);
    this.#scheduler.enqueued(this, bytes, reserved);
    return pending;
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

  /** The flush's appends are committed at `revision` under `entry`. */
  committed(taken: readonly PendingAppend[], entryKey: string, entryValue: Buffer, revision: number): void {
    // Read-your-writes: the watch delivers the same put later and is ignored by its revision.
    const suffix = `log/${entryKey.slice(entryKey.lastIndexOf('/') + 1)}`;
    this.state.apply(suffix, { key: entryKey, value: entryValue, createRevision: revision, modRevision: revision, version: 1, lease: null }, revision);
    for (const pending of taken) this.#acknowledge(pending);
    this.#removeSettled();
    this.state.notify();
    if (this.#invariantHook !== null) this.checkInvariants();
  }

  /** The append is in the committed log: acknowledge it (once) and remember its producer batches. */
  #acknowledge(pending: PendingAppend): void {
    // Committed means in the log, whatever the append's promise said: the state must know it.
    if (pending.producerBatches !== null) for (const b of pending.producerBatches) this.#committedProducers.apply(b);
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
    for (const pending of [...this.#inflight, ...this.#queued]) {
      const entry = state.entries[state.entryIndexOf(pending.baseOffset)];
      if (pending.objectKey === null || entry === undefined || entry.objectKey !== pending.objectKey || entry.lastOffset < pending.lastOffset) break;
      this.#acknowledge(pending);
    }
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
    const sequence = [...this.#inflight, ...this.#queued];
    const from = sequence.indexOf(first);
    if (from === -1) return;
    const reply = failure(errorCode, message, this.state.logStartOffset);
    for (let i = from; i < sequence.length; i++) (sequence[i] as PendingAppend).settle(reply);
    this.#removeSettled();
    this.#nextOffset = first.baseOffset;
    this.#rollbackProducers();
  }

  /** Fails every unacknowledged append (fenced, closed, re-reading); the caller decides the next offset. */
  #failAll(errorCode: number, message: string): void {
    const reply = failure(errorCode, message, this.state.logStartOffset);
    const first = this.#inflight[0] ?? this.#queued[0];
    for (const list of [this.#inflight, this.#queued]) for (const pending of list) pending.settle(reply);
    this.#removeSettled();
    if (first !== undefined) this.#nextOffset = first.baseOffset;
    this.#rollbackProducers();
  }

  /**
   * The write path's invariants (docs/design/storage.md, "Write-path invariants"): committed entries are
   * sorted, contiguous and do not overlap; the committed high watermark never goes back; unacknowledged
   * appends are contiguous, start at the committed high watermark and end at the next offset. Reports
   * each violation to the hook (and the log); returns whether all held.
   */
  checkInvariants(): boolean {
    if (this.#status !== 'active') return true;
    const problems: string[] = [];
    const entryProblem = this.state.checkEntries();
    if (entryProblem !== null) problems.push(entryProblem);
    const hwm = this.state.highWatermark;
    if (hwm < this.#highestWatermark) problems.push(`high watermark went back from ${this.#highestWatermark} to ${hwm}`);
    this.#highestWatermark = Math.max(this.#highestWatermark, hwm);
    const sequence = [...this.#inflight, ...this.#queued];
    let expected = hwm;
    for (const pending of sequence) {
      if (pending.baseOffset !== expected) {
        problems.push(`unacknowledged append at ${pending.baseOffset}..${pending.lastOffset} where ${expected} was expected`);
        break;
      }
      expected = pending.lastOffset + 1;
    }
    if (problems.length === 0 && expected !== this.#nextOffset) problems.push(`next offset ${this.#nextOffset} but appends end at ${expected}`);
    for (const problem of problems) this.#violation(problem);
    return problems.length === 0;
  }

  #violation(problem: string): void {
    this.#log.error({ topicId: this.topicId, partition: this.partition, epoch: this.epoch, problem }, 'partition log invariant violated');
    this.#invariantHook?.(this, problem);
  }

  /** The failed appends' batches were never written: check state = committed + what is still pending. */
  #rollbackProducers(): void {
    const table = this.#committedProducers.clone();
    for (const list of [this.#inflight, this.#queued]) {
      for (const pending of list) {
        if (pending.producerBatches !== null) for (const b of pending.producerBatches) table.apply(b);
      }
    }
    this.#producers = table;
  }

  /** Replays the producer batches persisted in the committed entries, minus expired producers. */
  #rebuildProducers(state: PartitionState): ProducerStateTable {
    const table = new ProducerStateTable();
    for (const entry of state.entries) {
      if (entry.producers !== undefined) for (const b of entry.producers) table.apply(b);
    }
    table.expire(this.#now(), this.#producerIdExpirationMs);
    return table;
  }

  #maybeExpireProducers(): void {
    const now = this.#now();
    // Scanning every producer on each append would cost O(producers); once a minute (or per tenth of the
    // expiration, when shorter) is precise enough for an expiry measured in hours.
    if (now - this.#lastExpiryMs < Math.min(60_000, this.#producerIdExpirationMs / 10)) return;
    this.#lastExpiryMs = now;
    this.#committedProducers.expire(now, this.#producerIdExpirationMs);
    this.#producers.expire(now, this.#producerIdExpirationMs);
  }

  /**
   * The claim is no longer valid: nothing more is committed or accepted here. `outcome` 'unknown': a
   * commit of appends taken by a flush may have applied (a session lost or an owner key gone while a
   * commit's outcome was unresolved). Those appends get REQUEST_TIMED_OUT, Kafka's "may or may not be
   * written": a client then retries with the same producer epoch and sequence, which the new owner
   * de-duplicates; NOT_LEADER_OR_FOLLOWER would tell it the batch is not written, and an idempotent
   * client that bumps its epoch meanwhile re-sends it as new data (a duplicate no broker can detect).
   */
  fence(reason: string, outcome: 'known' | 'unknown' = 'known'): void {
    if (this.#status === 'fenced' || this.#status === 'closed') return;
    this.#status = 'fenced';
    this.#log.warn({ topicId: this.topicId, partition: this.partition, epoch: this.epoch, reason, outcome }, 'partition ownership lost; failing unacknowledged appends');
    if (outcome === 'unknown') {
      const unknown = failure(ErrorCode.REQUEST_TIMED_OUT, `this broker lost the partition (${reason}) while the outcome of this write was unknown; retry`, this.state.logStartOffset);
      for (const pending of this.#inflight) if (pending.commitSent) pending.settle(unknown);
    }
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
    let delayMs = 50;
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
        const fenceRevision = this.#claim.ownerModRevision;
        const state = await this.#reloadState(fenceRevision);
        if (this.#status !== 'reloading') return;
        // Older than our fence: the key was deleted; newer than our claim: someone else wrote it (a
        // later re-fence of ours may have moved the claim past what this read saw — that is fine).
        if (state.ownerModRevision < fenceRevision || state.ownerModRevision > this.#claim.ownerModRevision) {
          this.#status = 'active';
          this.fence('owner key changed');
          return;
        }
        this.#acknowledgeCommitted(state);
        this.#failAll(ErrorCode.KAFKA_STORAGE_ERROR, 'partition state was re-read after a storage failure; retry');
        this.#nextOffset = state.highWatermark;
        this.#committedProducers = this.#rebuildProducers(state);
        this.#producers = this.#committedProducers.clone();
        this.#tailBudget.forget(this.tail);
        this.#status = 'active';
        if (this.#invariantHook !== null) this.checkInvariants();
        this.#log.info({ topicId: this.topicId, partition: this.partition, nextOffset: this.#nextOffset }, 'partition state re-read; appends resume');
        return;
      } catch (error) {
        this.#log.warn({ err: error, topicId: this.topicId, partition: this.partition, retryInMs: delayMs }, 'cannot re-read partition state; retrying');
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
        delayMs = Math.min(delayMs * 2, 2_000);
      }
    }
  }

  /**
   * Resolves when every append made so far has settled (acknowledged or failed). A handover waits for
   * this before deleting the owner key, so no acknowledged append is left behind and none is failed
   * after it may have committed.
   */
  async settled(): Promise<void> {
    if (this.#queued.length === 0 && this.#inflight.length === 0) return;
    await Promise.allSettled([...this.#queued, ...this.#inflight].map((p) => p.promise));
  }

  close(): void {
    if (this.#status === 'closed') return;
    this.#failAll(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition was released by this broker');
    this.#status = 'closed';
    this.#tailBudget.forget(this.tail);
  }

  #removeSettled(): void {
    if (this.#inflight.some((p) => p.settled)) this.#inflight = this.#inflight.filter((p) => !p.settled);
    if (this.#queued.some((p) => p.settled)) {
      // Queued appends never reached a flush, so their bytes are returned to the budget here.
      let released = 0;
      for (const p of this.#queued) if (p.settled) released += p.bytes;
      this.#queued = this.#queued.filter((p) => !p.settled);
      this.#scheduler.released(released);
    }
  }
}
