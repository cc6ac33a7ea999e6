/**
 * The broker-wide flush pipeline (docs/design/storage.md): packs the pending batches of ALL dirty
 * partitions into one WAL object per flush, PUTs it, then commits one log entry per partition guarded by
 * the partition's owner key. PUTs of later flushes overlap earlier commits; commits run one flush at a
 * time in flush order, so entries become visible in offset order per partition. PUTs per second grow
 * with bytes, not with partitions.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Compare, KeyValue, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { MAX_TXN_BYTES, MAX_TXN_OPS } from '../../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { retainedBatches, type ProducerBatch } from '../producers/producer-state.ts';
import { decodeLogEntry, encodeLogEntry, type LogEntry } from './log-entry.ts';
import type { FlushObserver } from './flush-observer.ts';
import type { FlushScheduler, PartitionLog, PendingAppend } from './partition-log.ts';
import { encodeWalObject, type WalPartitionRun } from './wal-object.ts';

export interface FlushOptions {
  /** Wait this long after data becomes pending before starting a flush (flush.linger.ms). */
  readonly lingerMs?: number;
  /** Close an object at this many bytes of batches (flush.max.bytes). */
  readonly maxBytes?: number;
  /** Flushes (PUT + commit) running at once (max.inflight). */
  readonly maxInflight?: number;
  /** Bound on queued + in-flight bytes of the broker; appends beyond it wait. */
  readonly maxPendingBytes?: number;
}

export const FLUSH_DEFAULTS = {
  lingerMs: 2,
  maxBytes: 8 * 1024 * 1024,
  maxInflight: 2,
  maxPendingBytes: 64 * 1024 * 1024,
} as const satisfies Required<FlushOptions>;

/** Two compares and one put per partition: 60 partitions keep every list of a txn under MAX_TXN_OPS. */
const PARTITIONS_PER_TXN = Math.floor(MAX_TXN_OPS / 2) - 4;
/** Leave half of the byte limit for framing and the failure branch's reads. */
const TXN_BYTE_BUDGET = Math.floor(MAX_TXN_BYTES / 2);

const NAMESPACE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

interface Run {
  readonly log: PartitionLog;
  readonly taken: PendingAppend[];
  readonly entry: LogEntry;
  readonly entryKey: string;
  readonly entryValue: Buffer;
}

interface Flush {
  readonly objectKey: string;
  readonly runs: Run[];
  readonly bytes: number;
  readonly put: Promise<unknown>;
  readonly objectBytes: number;
  readonly startedMs: number;
}

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
}

export class FlushPipeline implements FlushScheduler {
  readonly #objects: ObjectStore;
  readonly #store: MetadataStore;
  readonly #log: Logger;
  readonly #brokerId: number;
  readonly #namespace: string;
  readonly #incarnation = randomBytes(4).toString('hex');
  readonly #now: () => number;
  readonly #lingerMs: number;
  readonly #maxBytes: number;
  readonly #maxInflight: number;
  readonly #maxPendingBytes: number;
  readonly #observer: FlushObserver | null;
  /** Partitions with queued appends, in the order they became dirty. */
  readonly #dirty = new Set<PartitionLog>();
  #queuedBytes = 0;
  /** Queued + in-flight bytes (the memory bound). */
  #pendingBytes = 0;
  readonly #waiters: Waiter[] = [];
  #woken = 0;
  #inflight = 0;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #commitChain: Promise<void> = Promise.resolve();
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(options: {
    readonly objects: ObjectStore;
    readonly store: MetadataStore;
    readonly log: Logger;
    readonly brokerId: number;
    readonly namespace: string;
    readonly now?: () => number;
    readonly flush?: FlushOptions;
    readonly observer?: FlushObserver;
  }) {
    if (!NAMESPACE.test(options.namespace)) {
      throw new KafscaleError('KSC_CONFIG_INVALID', `object namespace '${options.namespace}' must be '/'-separated segments of [A-Za-z0-9._-] (KAFSCALE_S3_NAMESPACE)`);
    }
    this.#objects = options.objects;
    this.#store = options.store;
    this.#log = options.log;
    this.#brokerId = options.brokerId;
    this.#namespace = options.namespace;
    this.#now = options.now ?? Date.now;
    this.#lingerMs = options.flush?.lingerMs ?? FLUSH_DEFAULTS.lingerMs;
    this.#maxBytes = options.flush?.maxBytes ?? FLUSH_DEFAULTS.maxBytes;
    this.#maxInflight = options.flush?.maxInflight ?? FLUSH_DEFAULTS.maxInflight;
    this.#maxPendingBytes = options.flush?.maxPendingBytes ?? FLUSH_DEFAULTS.maxPendingBytes;
    this.#observer = options.observer ?? null;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  // FlushScheduler --------------------------------------------------------------------------------

  mustWait(bytes: number): boolean {
    // Woken waiters have not assigned their offsets yet: newcomers queue behind them (call order).
    // An append larger than the whole bound still goes through alone, or it could never be written.
    return this.#waiters.length > 0 || this.#woken > 0 || (this.#pendingBytes > 0 && this.#pendingBytes + bytes > this.#maxPendingBytes);
  }

  waitForRoom(bytes: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push({ bytes, resolve });
    });
  }

  enqueued(log: PartitionLog, bytes: number, reserved: boolean): void {
    if (reserved) this.#woken--;
    else this.#pendingBytes += bytes;
    this.#queuedBytes += bytes;
    this.#dirty.add(log);
    if (reserved) this.#wakeWaiters();
    this.#schedule();
  }

  cancelReservation(bytes: number): void {
    this.#woken--;
    this.#pendingBytes -= bytes;
    this.#wakeWaiters();
  }

  released(bytes: number): void {
    this.#pendingBytes -= bytes;
    this.#queuedBytes -= bytes;
    this.#wakeWaiters();
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
    this.#timer = null;
  }

  // Flushing -------------------------------------------------------------------------------------

  #isIdle(): boolean {
    return this.#dirty.size === 0 && this.#inflight === 0;
  }

  #schedule(): void {
    if (this.#closed || this.#dirty.size === 0 || this.#inflight >= this.#maxInflight) return;
    if (this.#queuedBytes >= this.#maxBytes || this.#lingerMs <= 0) this.#flushSoon(true);
    else this.#flushSoon(false);
  }

  #flushSoon(now: boolean): void {
    if (now) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      // A macrotask later: appends made in the same tick (one Produce request) share the object.
      this.#timer = setTimeout(() => this.#onTimer(), 0);
    } else if (this.#timer === null) {
      this.#timer = setTimeout(() => this.#onTimer(), this.#lingerMs);
    }
  }

  #onTimer(): void {
    this.#timer = null;
    while (this.#dirty.size > 0 && this.#inflight < this.#maxInflight) this.#startFlush();
  }

  #startFlush(): void {
    const runs: WalPartitionRun[] = [];
    const planned: { log: PartitionLog; taken: PendingAppend[] }[] = [];
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
    this.#queuedBytes -= bytes;
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
    const put = this.#objects.put(objectKey, encoded.chunks).then(() => null, (error: unknown) => error ?? new Error('PUT failed'));
    const flush: Flush = { objectKey, runs: flushRuns, bytes, put, objectBytes: encoded.sizeBytes, startedMs: performance.now() };
    this.#commitChain = this.#commitChain.then(() => this.#finish(flush)).catch((error: unknown) => {
      this.#log.error({ err: error, objectKey }, 'flush failed unexpectedly');
      this.#failRuns(flush.runs, ErrorCode.KAFKA_STORAGE_ERROR, 'internal error while committing the flush');
      // What was committed is unknown: each partition fences and re-reads before assigning offsets again.
      for (const run of flush.runs) run.log.requestReload();
    }).finally(() => {
      this.#observeFlush(flush);
      this.#inflight--;
      this.#pendingBytes -= bytes;
      this.#wakeWaiters();
      this.#schedule();
      this.#checkIdle();
    });
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
      this.#failRuns(flush.runs, ErrorCode.KAFKA_STORAGE_ERROR, `object store write failed: ${(putError as Error).message ?? String(putError)}`);
      return;
    }
    await Promise.all(chunkRuns(this.#liveRuns(flush.runs)).map((chunk) => this.#commitChunk(chunk, true)));
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
      compare.push({ key: run.log.claim.ownerKey, target: 'modRevision', op: '==', value: run.log.claim.ownerModRevision });
      // Put-if-absent: even a commit that was reported failed but applied later cannot be overwritten.
      compare.push({ key: run.entryKey, target: 'createRevision', op: '==', value: 0 });
      success.push({ type: 'put', key: run.entryKey, value: run.entryValue });
      failure.push({ type: 'get', key: run.log.claim.ownerKey }, { type: 'get', key: run.entryKey });
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
      for (const run of runs) run.log.committed(run.taken, run.entryKey, run.entryValue, result.revision);
      return;
    }
    const again: Run[] = [];
    runs.forEach((run, i) => {
      const owner = result.results[i * 2] as KeyValue | null;
      const existing = result.results[i * 2 + 1] as KeyValue | null;
      if (owner === null || owner.modRevision !== run.log.claim.ownerModRevision) {
        run.log.fence('owner key changed or expired');
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
      for (const run of again) run.log.failAppends(run.taken, ErrorCode.KAFKA_STORAGE_ERROR, 'log commit was refused; retry');
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
      run.log.committed(run.taken, run.entryKey, existing.value, existing.modRevision);
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

  #failRuns(runs: readonly Run[], errorCode: number, message: string): void {
    for (const run of runs) run.log.failAppends(run.taken, errorCode, message);
  }

  /** Wakes waiting appends in FIFO order while they fit; each woken one holds a reservation. */
  #wakeWaiters(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0] as Waiter;
      if (this.#pendingBytes > 0 && this.#pendingBytes + waiter.bytes > this.#maxPendingBytes) return;
      this.#waiters.shift();
      this.#pendingBytes += waiter.bytes;
      this.#woken++;
      waiter.resolve();
    }
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }
}

/** Splits runs into transactions within MAX_TXN_OPS (per list) and the byte budget. */
export function chunkRuns<T extends { readonly entryKey: string; readonly entryValue: Buffer; readonly log: { readonly claim: { readonly ownerKey: string } } }>(runs: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const run of runs) {
    const runBytes = 2 * (run.entryKey.length + run.log.claim.ownerKey.length) + run.entryValue.length + 32;
    if (current.length > 0 && (current.length >= PARTITIONS_PER_TXN || bytes + runBytes > TXN_BYTE_BUDGET)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(run);
    bytes += runBytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
