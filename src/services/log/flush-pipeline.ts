/**
 * The broker-wide flush pipeline (docs/design/storage.md): packs the pending batches of ALL dirty
 * partitions into one WAL object per flush, PUTs it, then commits one log entry per partition guarded by
 * the partition's owner key (LogCommitter). PUTs of later flushes overlap earlier commits; commits run one
 * flush at a time in flush order, so entries become visible in offset order per partition. PUTs per
 * second grow with bytes, not with partitions. The pipeline owns the write path's memory budget
 * (PendingBytes) and hands it to every partition.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { KeyValue, MetadataStore } from '../../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { retainedBatches, type ProducerBatch } from '../producers/producer-state.ts';
import type { FlushObserver } from './flush-observer.ts';
import type { IoPriority } from './io-priority.ts';
import { LogCommitter, type Run } from './log-commit.ts';
import { encodeLogEntry, type LogEntry } from './log-entry.ts';
import type { OwnershipClaim } from './partition-ownership.ts';
import type { PendingAppend } from './pending-append.ts';
import { PendingBytes } from './pending-bytes.ts';
import { encodeWalObject, type WalPartitionRun } from './wal-object.ts';

export interface FlushOptions {
  /** Wait this long after data becomes pending before starting a flush (flush.linger.ms). */
  readonly lingerMs?: number;
  /**
   * The linger when no flush is in flight (default: lingerMs). Waiting saves a PUT only if more data
   * arrives meanwhile; on an idle pipeline at light load it rarely does, and the wait is pure latency.
   * While flushes run, data queues behind them anyway and lingerMs applies (docs/design/flush-profiles.md).
   */
  readonly idleLingerMs?: number;
  /** Close an object at this many bytes of batches (flush.max.bytes). */
  readonly maxBytes?: number;
  /** Flushes (PUT + commit) running at once (max.inflight). */
  readonly maxInflight?: number;
  /** Bound on queued + in-flight bytes of the broker; appends beyond it wait. */
  readonly maxPendingBytes?: number;
}


/**
 * What the pipeline needs of an owned partition (PartitionLog): its queued appends, its claim, and where
 * a flush's outcome for its appends goes.
 */
export interface FlushPartition {
  readonly topicId: string;
  readonly partition: number;
  readonly epoch: number;
  readonly claim: OwnershipClaim;
  readonly status: 'active' | 'reloading' | 'fenced' | 'closed';
  readonly hasQueued: boolean;
  /** Moves queued appends (at least one, then up to maxBytes) into a flush. */
  take(maxBytes: number): PendingAppend[];
  /** The appends are committed under `entry` at `revision`. */
  committed(taken: readonly PendingAppend[], entry: LogEntry, revision: number): void;
  /** The appends failed (and every later one of the partition): the offsets are handed out again. */
  failAppends(taken: readonly PendingAppend[], errorCode: number, message: string): void;
  /** The claim is lost ('unknown', the default: a commit may have applied; 'known': the committer's own refused commit). */
  fence(reason: string, outcome?: 'known' | 'unknown'): void;
  /** The committed log end is unknown: fence, re-read, then resume. */
  requestReload(): void;
  /** Fences every older txn of the claim and reads `readKeys` in the same txn (null: claim lost). */
  fenceOlderWrites(readKeys: readonly string[]): Promise<ReadonlyArray<KeyValue | null> | null>;
}

/** What a partition tells the pipeline (its bytes go to the PendingBytes budget). */
export interface FlushScheduler {
  /** The partition queued an append. */
  queued(partition: FlushPartition): void;
}

const NAMESPACE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

interface Flush {
  readonly objectKey: string;
  readonly runs: Run[];
  readonly bytes: number;
  readonly put: Promise<unknown>;
  readonly objectBytes: number;
  readonly startedMs: number;
}

export class FlushPipeline implements FlushScheduler {
  /** The write path's memory budget: queued + in-flight bytes of every partition. */
  readonly budget: PendingBytes;
  readonly #objects: ObjectStore;
  readonly #committer: LogCommitter;
  readonly #log: Logger;
  readonly #brokerId: number;
  readonly #namespace: string;
  readonly #incarnation = randomBytes(4).toString('hex');
  readonly #now: () => number;
  readonly #lingerMs: number;
  readonly #idleLingerMs: number;
  readonly #maxBytes: number;
  readonly #maxInflight: number;
  readonly #observer: FlushObserver | null;
  /** Partitions with queued appends, in the order they became dirty. */
  readonly #dirty = new Set<FlushPartition>();
  #inflight = 0;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #commitChain: Promise<void> = Promise.resolve();
  readonly #idle = new Set<() => void>();
  #closed = false;
  readonly #io: IoPriority | null;

  constructor(options: {
    readonly objects: ObjectStore;
    readonly store: MetadataStore;
    readonly log: Logger;
    readonly brokerId: number;
    readonly namespace: string;
    readonly now: () => number;
    /** Every value given (LogService fills in LOG_DEFAULTS). */
    readonly flush: Required<Omit<FlushOptions, 'idleLingerMs'>> & Pick<FlushOptions, 'idleLingerMs'>;
    readonly observer?: FlushObserver;
    /** Each flush (PUT + commit) is marked foreground work here, so merges yield to it. */
    readonly io?: IoPriority;
  }) {
    if (!NAMESPACE.test(options.namespace)) {
      throw new KafscaleError('KSC_CONFIG_INVALID', `object namespace '${options.namespace}' must be '/'-separated segments of [A-Za-z0-9._-] (KAFSCALE_S3_NAMESPACE)`);
    }
    this.#objects = options.objects;
    this.#committer = new LogCommitter(options.store, options.log);
    this.#log = options.log;
    this.#brokerId = options.brokerId;
    this.#namespace = options.namespace;
    this.#now = options.now;
    this.#lingerMs = options.flush.lingerMs;
    this.#idleLingerMs = options.flush.idleLingerMs ?? options.flush.lingerMs;
    this.#maxBytes = options.flush.maxBytes;
    this.#maxInflight = options.flush.maxInflight;
    this.budget = new PendingBytes(options.flush.maxPendingBytes);
    this.#observer = options.observer ?? null;
    this.#io = options.io ?? null;
  }

  get pendingBytes(): number {
    return this.budget.bytes;
  }

  // FlushScheduler --------------------------------------------------------------------------------

  queued(partition: FlushPartition): void {
    this.#dirty.add(partition);
    this.#schedule();
  }

  // Lifecycle ------------------------------------------------------------------------------------

  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    this.#flushSoon(true);
    return new Promise<void>((resolve) => this.#idle.add(resolve));
  }

  /** Flushes what is pending, then stops. Idempotent. */
  async close(): Promise<void> {
    await this.drain();
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
  }

  // Flushing -------------------------------------------------------------------------------------

  #isIdle(): boolean {
    return this.#dirty.size === 0 && this.#inflight === 0;
  }

  #schedule(): void {
    if (this.#closed || this.#dirty.size === 0 || this.#inflight >= this.#maxInflight) return;
    const lingerMs = this.#inflight === 0 ? this.#idleLingerMs : this.#lingerMs;
    if (this.budget.queuedBytes >= this.#maxBytes || lingerMs <= 0) this.#flushSoon(true);
    else this.#flushSoon(false, lingerMs);
  }

  #flushSoon(now: boolean, lingerMs = this.#lingerMs): void {
    if (now) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      // After this turn of the event loop: appends made meanwhile (one Produce request, or several read
      // in the same poll) share the object. setImmediate, not setTimeout(0): Node runs a 0 ms timer no
      // sooner than 1 ms later, a millisecond added to every acks=all produce on a lightly loaded broker.
      this.#immediate ??= setImmediate(() => this.#onTimer());
    } else if (this.#timer === null && this.#immediate === null) {
      this.#timer = setTimeout(() => this.#onTimer(), lingerMs);
    }
  }

  #onTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    while (this.#dirty.size > 0 && this.#inflight < this.#maxInflight) this.#startFlush();
  }

  #startFlush(): void {
    const runs: WalPartitionRun[] = [];
    const planned: { log: FlushPartition; taken: PendingAppend[] }[] = [];
    let bytes = 0;
    for (const log of this.#dirty) {
      if (bytes >= this.#maxBytes) break;
      const taken = log.take(Math.max(1, this.#maxBytes - bytes));
      if (!log.hasQueued) this.#dirty.delete(log);
      if (taken.length === 0) continue;
      const batches: Buffer[] = [];
      let maxTs = -1;
      for (const pending of taken) {
        for (const batch of pending.batches) batches.push(batch);
        bytes += pending.bytes;
        if (pending.maxTimestamp > maxTs) maxTs = pending.maxTimestamp;
      }
      const first = taken[0] as PendingAppend;
      const last = taken.at(-1) as PendingAppend;
      runs.push({ topicId: log.topicId, partition: log.partition, baseOffset: first.baseOffset, lastOffset: last.lastOffset, maxTimestamp: maxTs, batches });
      planned.push({ log, taken });
    }
    this.budget.taken(bytes);
    if (runs.length === 0) {
      this.#checkIdle();
      return;
    }
    const createdMs = this.#now();
    const objectKey = `${this.#namespace}/wal/${String(createdMs).padStart(13, '0')}-${String(this.#brokerId).padStart(10, '0')}-${this.#incarnation}-${String(++this.#seq).padStart(10, '0')}.wal`;
    const encoded = encodeWalObject(this.#brokerId, createdMs, runs);
    const flushRuns: Run[] = planned.map(({ log, taken }, i) => {
      const dir = encoded.directory[i]!;
      for (const pending of taken) pending.objectKey = objectKey;
      // Producer state rides in the entry's value: committed in the same guarded put as the data's entry.
      let producers: ProducerBatch[] | null = null;
      for (const pending of taken) {
        if (pending.producerBatches !== null) (producers ??= []).push(...pending.producerBatches);
      }
      const entry: LogEntry = {
        baseOffset: dir.baseOffset,
        lastOffset: dir.lastOffset,
        objectKey,
        byteStart: dir.byteStart,
        byteEnd: dir.byteEnd,
        maxTimestamp: dir.maxTimestamp,
        batchCount: dir.batchCount,
        epoch: log.epoch,
        ...(producers === null ? {} : { producers: retainedBatches(producers) }),
      };
      return { log, taken, entry, entryKey: MetaKeys.partitionLogEntry(log.topicId, log.partition, entry.baseOffset), entryValue: encodeLogEntry(entry) };
    });
    this.#inflight++;
    // The PUT starts now; its outcome is examined in commit order. A rejection is handled there.
    // newKey: the key is this flush's own, and only the commit that follows the PUT refers to it.
    const put = this.#objects.put(objectKey, encoded.chunks, { newKey: true }).then(() => null, (error: unknown) => error ?? new Error('PUT failed'));
    const flush: Flush = { objectKey, runs: flushRuns, bytes, put, objectBytes: encoded.sizeBytes, startedMs: performance.now() };
    this.#commitChain = this.#commitChain.then(() => this.#finish(flush)).catch((error: unknown) => {
      this.#log.error({ err: error, objectKey }, 'flush failed unexpectedly');
      // What was committed is unknown: each partition fences and re-reads before assigning offsets again.
      // A run whose commit was sent may have applied: its appends are left to the re-read, which
      // acknowledges what the committed state shows and fails the rest.
      const unsent = flush.runs.filter((run) => !run.taken.some((pending) => pending.commitSent));
      this.#committer.fail(unsent, ErrorCode.KAFKA_STORAGE_ERROR, 'internal error while committing the flush');
      for (const run of flush.runs) run.log.requestReload();
    }).finally(() => {
      this.#observeFlush(flush);
      this.#inflight--;
      this.budget.flushed(bytes);
      this.#schedule();
      this.#checkIdle();
    });
    if (this.#io !== null) void this.#io.track(this.#commitChain);
  }

  /** The PUT has settled by now (#finish awaited it), so its outcome is one microtask away. */
  #observeFlush(flush: Flush): void {
    const observer = this.#observer;
    if (observer === null) return;
    const durationMs = performance.now() - flush.startedMs;
    void flush.put.then((putError) => observer.flushed(putError === null ? 'ok' : 'error', durationMs, flush.objectBytes));
  }

  async #finish(flush: Flush): Promise<void> {
    const putError = await flush.put;
    if (putError !== null) {
      this.#log.warn({ err: putError, objectKey: flush.objectKey, partitions: flush.runs.length }, 'WAL object PUT failed; failing the flush');
      this.#committer.fail(flush.runs, ErrorCode.KAFKA_STORAGE_ERROR, `object store write failed: ${(putError as Error).message ?? String(putError)}`);
      return;
    }
    await this.#committer.commit(flush.runs);
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }
}
