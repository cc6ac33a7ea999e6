/**
 * The storage engine's public face for the broker handlers (Produce, Fetch, ListOffsets,
 * OffsetForLeaderEpoch): ownership of partitions, the write path on owned partitions and the read path
 * on any partition. Domain types only; error outcomes are Kafka error codes returned as values.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Lease, MetadataStore } from '../../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { sleep } from '../../timing/backoff.ts';
import { PRODUCER_ID_EXPIRATION_MS_DEFAULT } from '../producers/producer-state.ts';
import type { FlushObserver } from './flush-observer.ts';
import { FlushPipeline, type FlushOptions } from './flush-pipeline.ts';
import { LogCatalog } from './log-catalog.ts';
import { LOG_DEFAULTS } from './log-defaults.ts';
import type { OwnerRecord } from './log-entry.ts';
import { LogReader, type CacheStats, type ReadResult } from './log-reader.ts';
import { LogTrimmer } from './log-trimmer.ts';
import { IoPriority } from './io-priority.ts';
import { SegmentMerger, type MergeCache, type MergePolicy } from './segment-merger.ts';
import { PartitionLog, type AppendResult, type InvariantHook } from './partition-log.ts';
import { PartitionOwnership, type OwnershipClaim, type PartitionRef } from './partition-ownership.ts';
import type { PartitionState } from './partition-state.ts';
import { TailBudget } from './partition-tail.ts';
import { listOffsets, type ListOffsetResult, type OffsetQuery } from './timestamp-search.ts';

export type { ReadResult } from './log-reader.ts';
export type { ListOffsetResult, OffsetQuery } from './timestamp-search.ts';

export interface TopicRef {
  readonly id: string;
  /** The topic's config overrides (TopicRecord.configs). */
  readonly configs: Readonly<Record<string, string>>;
}

export interface LogServiceOptions {
  readonly store: MetadataStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  readonly brokerId: number;
  /** The broker's session lease: ownership lives and dies with it. */
  readonly lease: Lease;
  /** Object key prefix (KAFSCALE_S3_NAMESPACE), e.g. 'kafscale'. */
  readonly namespace: string;
  readonly flush?: FlushOptions;
  /** Told about every finished flush (metrics). */
  readonly flushObserver?: FlushObserver;
  /** Byte-bounded LRU of object ranges for reads (KAFSCALE_CACHE_BYTES). */
  readonly cacheBytes?: number;
  /** Read-ahead budget of the read path (KAFSCALE_READ_AHEAD_BYTES); 0 disables read-ahead. */
  readonly readAheadBytes?: number;
  /** Broker-wide bound of the owners' in-memory tails of acknowledged batches. */
  readonly tailBytes?: number;
  /** producer.id.expiration.ms: idle idempotent producers are forgotten after this (default 1 day). */
  readonly producerIdExpirationMs?: number;
  readonly now?: () => number;
  /** Runs the write path's full invariant check after every commit and reports violations (tests). */
  readonly invariantHook?: InvariantHook;
  /**
   * Background merging of owned partitions' WAL entries into segments (segment-merger.ts), on by default;
   * false turns it off. topicConfigs supplies segment.bytes (default: 1 GiB, capped by maxSegmentBytes).
   */
  readonly merge?: false | {
    readonly policy?: Partial<MergePolicy>;
    readonly intervalMs?: number;
    readonly indexIntervalBytes?: number;
    readonly topicConfigs?: (topicId: string) => Readonly<Record<string, string>> | undefined;
  };
}

export type AcquireResult =
  | { readonly errorCode: 0; readonly log: PartitionLog }
  /** Another live owner holds it (owner = null: it vanished meanwhile — try again). */
  | { readonly errorCode: number; readonly owner: OwnerRecord | null };

export interface DeleteRecordsResult {
  readonly errorCode: number;
  /** The partition's log start offset afterwards (Kafka's low watermark), -1 on error. */
  readonly lowWatermark: number;
}

export interface EpochEndOffset {
  readonly errorCode: number;
  readonly leaderEpoch: number;
  readonly endOffset: number;
}

const RELEASE_ATTEMPTS = 4;

/** One partition of a batched acquire and the settling of its promise. */
interface BatchMember {
  readonly ref: PartitionRef;
  resolve(result: AcquireResult | Promise<AcquireResult>): void;
  reject(error: unknown): void;
}

function key(topicId: string, partition: number): string {
  return `${topicId}/${partition}`;
}

export class LogService {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #catalog: LogCatalog;
  readonly #pipeline: FlushPipeline;
  readonly #ownership: PartitionOwnership;
  readonly #reader: LogReader;
  readonly #tailBudget: TailBudget;
  readonly #owned = new Map<string, PartitionLog>();
  readonly #acquiring = new Map<string, Promise<AcquireResult>>();
  readonly #trimmer: LogTrimmer;
  readonly #merger: SegmentMerger | null;
  /** Flushes first, merge I/O second (io-priority.ts). */
  readonly #io = new IoPriority();
  readonly #producerIdExpirationMs: number;
  readonly #invariantHook: InvariantHook | undefined;
  #closed = false;

  private constructor(options: LogServiceOptions, catalog: LogCatalog) {
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#producerIdExpirationMs = options.producerIdExpirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT;
    this.#invariantHook = options.invariantHook;
    this.#catalog = catalog;
    this.#pipeline = new FlushPipeline({
      objects: options.objects,
      store: options.store,
      log: options.log,
      brokerId: options.brokerId,
      namespace: options.namespace,
      now: this.#now,
      flush: { ...LOG_DEFAULTS.flush, ...options.flush },
      ...(options.flushObserver === undefined ? {} : { observer: options.flushObserver }),
      io: this.#io,
    });
    this.#ownership = new PartitionOwnership(options.store, options.brokerId, options.lease);
    this.#reader = new LogReader({
      objects: options.objects,
      log: options.log,
      cacheBytes: options.cacheBytes ?? LOG_DEFAULTS.cacheBytes,
      indexCacheBytes: LOG_DEFAULTS.segmentIndexCacheBytes,
      readAheadBytes: options.readAheadBytes ?? LOG_DEFAULTS.readAheadBytes,
    });
    this.#tailBudget = new TailBudget(options.tailBytes ?? LOG_DEFAULTS.tailBytes);
    this.#trimmer = new LogTrimmer(options.store);
    const merge = options.merge;
    this.#merger = merge === false ? null : new SegmentMerger({
      logs: this,
      store: options.store,
      objects: options.objects,
      log: options.log.child({ component: 'merger' }),
      namespace: options.namespace,
      topicConfigs: merge?.topicConfigs ?? (() => ({})),
      now: this.#now,
      io: this.#io,
      cache: this.#reader,
      ...(options.producerIdExpirationMs === undefined ? {} : { producerIdExpirationMs: options.producerIdExpirationMs }),
      ...(merge?.policy === undefined ? {} : { policy: merge.policy }),
      ...(merge?.intervalMs === undefined ? {} : { intervalMs: merge.intervalMs }),
      ...(merge?.indexIntervalBytes === undefined ? {} : { indexIntervalBytes: merge.indexIntervalBytes }),
    });
    void options.lease.lost.then(() => this.#onLeaseLost());
  }

  static async open(options: LogServiceOptions): Promise<LogService> {
    const catalog = await LogCatalog.open(options.store, options.log);
    const service = new LogService(options, catalog);
    service.#merger?.start();
    return service;
  }

  /** Object GETs issued by the read path (tests, metrics). */
  get objectGets(): number {
    return this.#reader.objectGets;
  }

  /** The read path's cache as the merger uses it (its own merger's; tests drive merges with it too). */
  get mergeCache(): MergeCache {
    return this.#reader;
  }

  /** Range-cache counters for metrics: hits, misses (GETs) and bytes held. */
  cacheStats(): CacheStats {
    return this.#reader.cacheStats();
  }

  /** Bytes held by the owners' tails and their broker-wide bound (logTailBytes; metrics, tests). */
  tailStats(): { bytes: number; maxBytes: number } {
    return { bytes: this.#tailBudget.bytes, maxBytes: this.#tailBudget.maxBytes };
  }

  get pipeline(): FlushPipeline {
    return this.#pipeline;
  }

  // Ownership -------------------------------------------------------------------------------------

  /**
   * Takes ownership of a partition (epoch + 1), loads its committed state from the metadata store and
   * records the epoch's start offset. Idempotent for a partition this broker already owns.
   */
  acquire(topicId: string, partition: number): Promise<AcquireResult> {
    const id = key(topicId, partition);
    // One acquire per partition at a time: a second one would take the first one's key over.
    const running = this.#acquiring.get(id);
    if (running !== undefined) return running;
    const acquiring = this.#acquire(topicId, partition).finally(() => this.#acquiring.delete(id));
    this.#acquiring.set(id, acquiring);
    return acquiring;
  }

  /**
   * `acquire` for many partitions at once, in few store round trips (PartitionOwnership.acquireMany,
   * recordEpochStarts): the same claims, loads and fencing, batched. One promise per partition, in
   * order; a partition already being acquired shares that acquire. A partition whose batched step lost a
   * race is decided alone by the one-partition path; a store error rejects that partition's promise
   * (after releasing a claim it could not use), as a lone acquire would.
   */
  acquireMany(partitions: readonly PartitionRef[]): Array<Promise<AcquireResult>> {
    const results: Array<Promise<AcquireResult>> = [];
    const batch: BatchMember[] = [];
    for (const ref of partitions) {
      const id = key(ref.topicId, ref.partition);
      const running = this.#acquiring.get(id);
      if (running !== undefined) {
        results.push(running);
        continue;
      }
      const { promise, resolve, reject } = Promise.withResolvers<AcquireResult>();
      const acquiring = promise.finally(() => this.#acquiring.delete(id));
      this.#acquiring.set(id, acquiring);
      results.push(acquiring);
      batch.push({ ref, resolve, reject });
    }
    if (batch.length > 0) {
      this.#acquireBatch(batch).catch((error: unknown) => {
        for (const each of batch) each.reject(error); // no effect on the ones already settled
      });
    }
    return results;
  }

  async #acquireBatch(batch: readonly BatchMember[]): Promise<void> {
    const toClaim: BatchMember[] = [];
    for (const each of batch) {
      const existing = this.#owned.get(key(each.ref.topicId, each.ref.partition));
      if (existing !== undefined && existing.status !== 'fenced' && existing.status !== 'closed') each.resolve({ errorCode: ErrorCode.NONE, log: existing });
      else if (this.#closed || !this.#ownership.lease.isAlive()) each.resolve({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: null });
      else toClaim.push(each);
    }
    if (toClaim.length === 0) return;
    const outcomes = await this.#ownership.acquireMany(toClaim.map((each) => each.ref), this.#now());
    const claimed: Array<{ each: BatchMember; claim: OwnershipClaim }> = [];
    const opened: Array<Promise<void>> = [];
    outcomes.forEach((outcome, i) => {
      const each = toClaim[i]!;
      if (outcome.acquired === 'fresh') {
        // Claimed, read and its epoch start recorded in one txn. Should the read show committed state
        // after all (it cannot, see acquireMany), the epoch start is recorded again from what it shows.
        const state = this.#catalog.adopt(outcome.claim.topicId, outcome.claim.partition, outcome.snapshot.kvs, outcome.snapshot.revision);
        if (state.highWatermark === 0 && state.logStartOffset === 0 && state.entries.length === 0) {
          state.epochs = outcome.history;
          opened.push(this.#open(outcome.claim, state).then(each.resolve, each.reject));
        } else {
          this.#log.warn({ topicId: outcome.claim.topicId, partition: outcome.claim.partition, highWatermark: state.highWatermark }, 'a never-owned partition has committed state; recording its epoch start again');
          each.resolve(this.#recordAndOpen(outcome.claim, state));
        }
      } else if (outcome.acquired === true) claimed.push({ each, claim: outcome.claim });
      else if (outcome.acquired === false) each.resolve({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: outcome.owner });
      else if (outcome.acquired === 'one-by-one') each.resolve(this.#acquire(each.ref.topicId, each.ref.partition));
      else each.reject(outcome.error);
    });
    await Promise.all(opened);
    if (claimed.length === 0) return;
    // As in #loadClaimed: each state is read after its claim, at or after the claim's revision.
    const loads = await Promise.allSettled(claimed.map(({ claim }) => this.#catalog.reload(claim.topicId, claim.partition, claim.ownerModRevision)));
    const loaded: Array<{ each: BatchMember; claim: OwnershipClaim; state: PartitionState }> = [];
    const failed: Array<Promise<void>> = [];
    loads.forEach((load, i) => {
      const { each, claim } = claimed[i]!;
      if (load.status === 'fulfilled') loaded.push({ each, claim, state: load.value });
      else failed.push(this.#giveBack(claim).then(() => each.reject(load.reason)));
    });
    if (loaded.length > 0) {
      const recorded = await this.#ownership.recordEpochStarts(loaded.map(({ claim, state }) => ({ claim, history: state.epochs, startOffset: state.highWatermark })));
      recorded.forEach((outcome, i) => {
        const { each, claim, state } = loaded[i]!;
        if (outcome === 'one-by-one') {
          each.resolve(this.#recordAndOpen(claim, state));
        } else if ('error' in outcome) {
          failed.push(this.#giveBack(claim).then(() => each.reject(outcome.error)));
        } else {
          state.epochs = outcome.history;
          each.resolve(this.#open(claim, state));
        }
      });
    }
    await Promise.all(failed);
  }

  /** The one-partition epoch-start record of a claim whose batched record was refused. */
  async #recordAndOpen(claim: OwnershipClaim, state: PartitionState): Promise<AcquireResult> {
    let recorded;
    try {
      recorded = await this.#ownership.recordEpochStart(claim, state.epochs, state.highWatermark);
    } catch (error) {
      await this.#giveBack(claim);
      throw error;
    }
    if (!recorded.ok) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: null };
    state.epochs = recorded.history;
    return this.#open(claim, state);
  }

  /** Releases a claim that could not be used (if this fails too, the next acquire takes it over). */
  async #giveBack(claim: OwnershipClaim): Promise<void> {
    await this.#ownership.release(claim).catch((releaseError: unknown) => {
      this.#log.warn({ err: releaseError, topicId: claim.topicId, partition: claim.partition }, 'could not release a partition after a failed acquire; the next acquire takes it over');
    });
  }

  async #acquire(topicId: string, partition: number): Promise<AcquireResult> {
    const existing = this.#owned.get(key(topicId, partition));
    if (existing !== undefined && existing.status !== 'fenced' && existing.status !== 'closed') return { errorCode: ErrorCode.NONE, log: existing };
    // A closed service belongs to an ended session: its lease can claim nothing.
    if (this.#closed || !this.#ownership.lease.isAlive()) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: null };
    const outcome = await this.#ownership.acquire(topicId, partition, this.#now());
    if (!outcome.acquired) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: outcome.owner };
    return this.#loadClaimed(outcome.claim);
  }

  /** After the claim: load the committed state, record the epoch's start, then open the log. */
  async #loadClaimed(claim: OwnershipClaim): Promise<AcquireResult> {
    const { topicId, partition } = claim;
    let state: PartitionState;
    try {
      // After the acquire nobody else can commit, so a read at or after the acquire's revision is the
      // complete committed state (never a load that started before the acquire: issue 10, item 6).
      state = await this.#catalog.reload(topicId, partition, claim.ownerModRevision);
      const recorded = await this.#ownership.recordEpochStart(claim, state.epochs, state.highWatermark);
      if (!recorded.ok) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: null };
      state.epochs = recorded.history;
    } catch (error) {
      // The key is ours but we cannot use it: give it back now rather than block the partition until
      // the session ends (if this fails too, the next acquire takes the key over: issue 10, item 2).
      await this.#giveBack(claim);
      throw error;
    }
    return this.#open(claim, state);
  }

  /** Opens the log of a claimed and loaded partition (its epoch start recorded). */
  async #open(claim: OwnershipClaim, state: PartitionState): Promise<AcquireResult> {
    const { topicId, partition } = claim;
    if (this.#closed) {
      await this.#ownership.release(claim).catch(() => undefined);
      return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, owner: null };
    }
    const log = new PartitionLog({
      claim,
      state,
      budget: this.#pipeline.budget,
      scheduler: this.#pipeline,
      tailBudget: this.#tailBudget,
      log: this.#log,
      now: this.#now,
      reloadState: (atLeastRevision) => this.#catalog.reload(topicId, partition, atLeastRevision),
      refence: (current, readKeys) => this.#ownership.refence(current, readKeys),
      producerIdExpirationMs: this.#producerIdExpirationMs,
      ...(this.#invariantHook === undefined ? {} : { invariantHook: this.#invariantHook }),
    });
    this.#owned.set(key(topicId, partition), log);
    this.#log.info({ topicId, partition, epoch: claim.epoch, highWatermark: state.highWatermark }, 'partition acquired');
    return { errorCode: ErrorCode.NONE, log };
  }

  owned(topicId: string, partition: number): PartitionLog | undefined {
    return this.#owned.get(key(topicId, partition));
  }

  /** Every partition this broker owns right now (retention runs on these). */
  ownedLogs(): PartitionLog[] {
    return [...this.#owned.values()];
  }

  /**
   * DeleteRecords on an owned partition: moves the log start offset to `offset` (-1 = the high
   * watermark) and drops the entries wholly below it, guarded by ownership. Kafka's rules: an offset
   * above the high watermark is OFFSET_OUT_OF_RANGE; one at or below the log start changes nothing.
   */
  async deleteRecords(topicId: string, partition: number, offset: number): Promise<DeleteRecordsResult> {
    const log = this.#owned.get(key(topicId, partition));
    if (log === undefined || log.status === 'fenced' || log.status === 'closed' || this.#closed) {
      return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 };
    }
    // The committed high watermark: only acknowledged data can be deleted.
    const hwm = log.state.highWatermark;
    const target = offset === -1 ? hwm : offset;
    if (target < 0 || target > hwm) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 };
    return this.trim(log, target);
  }

  /** Advances an owned partition's log start (retention, DeleteRecords); see LogTrimmer. */
  async trim(log: PartitionLog, newStart: number): Promise<DeleteRecordsResult> {
    const result = await this.#trimmer.trim(log, newStart);
    if (!result.ok) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 };
    return { errorCode: ErrorCode.NONE, lowWatermark: result.logStartOffset };
  }

  /** Flushes what this partition has pending, then gives it up. */
  async release(topicId: string, partition: number): Promise<void> {
    const log = this.#owned.get(key(topicId, partition));
    if (log === undefined) return;
    // Out of the owned map first: new appends get NOT_LEADER_OR_FOLLOWER (append looks the log up)
    // while the ones already accepted flush; only then is the owner key deleted (docs/design/cluster.md).
    this.#owned.delete(key(topicId, partition));
    await log.settled();
    log.close();
    if (log.status === 'fenced' || !log.claim.lease.isAlive()) return;
    // A key left behind would block the new owner until this broker's session ends: retry store faults.
    for (let attempt = 1; ; attempt++) {
      try {
        // Exclusive: a re-fence in flight moves the claim's revision; the delete compares the final one.
        await log.exclusive(() => this.#ownership.release(log.claim));
        return;
      } catch (error) {
        if (attempt >= RELEASE_ATTEMPTS || !log.claim.lease.isAlive()) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  // Write path ------------------------------------------------------------------------------------

  /** Appends to an owned partition; NOT_LEADER_OR_FOLLOWER when this broker does not own it. */
  append(topic: TopicRef, partition: number, batches: readonly Buffer[]): Promise<AppendResult> {
    const log = this.#owned.get(key(topic.id, partition));
    if (log === undefined || this.#closed) {
      return Promise.resolve({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: 'this broker does not own the partition', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] });
    }
    return log.append(batches, topic.configs);
  }

  // Read path -------------------------------------------------------------------------------------

  /**
   * Committed batches from `fetchOffset`: whole batches up to maxBytes, at least one (KIP-74).
   * OFFSET_OUT_OF_RANGE when fetchOffset < log start or > high watermark.
   */
  async read(topicId: string, partition: number, fetchOffset: number, maxBytes: number, signal?: AbortSignal): Promise<ReadResult> {
    const state = await this.#catalog.state(topicId, partition);
    return this.#reader.read(state, this.#owned.get(key(topicId, partition))?.tail, fetchOffset, maxBytes, signal);
  }

  /** A consumer on connection `readerId` will read from `offset` (a ListOffsets answer); see log-reader.ts. */
  hintRead(readerId: number, topicId: string, partition: number, offset: number): void {
    this.#reader.hintRead(readerId, topicId, partition, offset);
  }

  /** Connection `readerId` fetches: start reading every partition it was told where to start (hintRead). */
  startHintedReads(readerId: number): void {
    this.#reader.startHintedReads(readerId, async (topicId, partition) => ({
      state: await this.#catalog.state(topicId, partition),
      tail: this.#owned.get(key(topicId, partition))?.tail,
    }));
  }

  /** Flush-before-merge priority shared by the pipeline and the merger: tests and metrics. */
  get io(): IoPriority {
    return this.#io;
  }

  /** The background merger (null when disabled): tests and metrics. */
  get merger(): SegmentMerger | null {
    return this.#merger;
  }

  /** Runs `task` exclusively with trims of the same partition (the merger's swaps; see LogTrimmer). */
  exclusive<T>(log: PartitionLog, task: () => Promise<T>): Promise<T> {
    return this.#trimmer.exclusive(log, task);
  }

  /**
   * Long-poll support: resolves true once the partition's high watermark passes `offset` (local commit
   * or watch event), false if `signal` aborts first.
   */
  async waitForData(topicId: string, partition: number, offset: number, signal?: AbortSignal): Promise<boolean> {
    const state = await this.#catalog.state(topicId, partition);
    return state.waitForData(offset, signal);
  }

  /** High watermark and log start offset without reading data. */
  async offsets(topicId: string, partition: number): Promise<{ highWatermark: number; logStartOffset: number }> {
    const state = await this.#catalog.state(topicId, partition);
    return { highWatermark: state.highWatermark, logStartOffset: state.logStartOffset };
  }

  /**
   * Log start, high watermark, leader epoch and the bytes of the log entries still holding records (a
   * WAL entry counts whole until merged, so this is an upper bound of the partition's stored bytes).
   */
  async summary(topicId: string, partition: number): Promise<{ highWatermark: number; logStartOffset: number; leaderEpoch: number; sizeBytes: number }> {
    const state = await this.#catalog.state(topicId, partition);
    let sizeBytes = 0;
    for (const entry of state.entries) if (entry.lastOffset >= state.logStartOffset) sizeBytes += entry.byteEnd - entry.byteStart;
    return { highWatermark: state.highWatermark, logStartOffset: state.logStartOffset, leaderEpoch: state.epochs.at(-1)?.epoch ?? -1, sizeBytes };
  }

  // ListOffsets / OffsetForLeaderEpoch -----------------------------------------------------------

  async listOffsets(topicId: string, partition: number, query: OffsetQuery): Promise<ListOffsetResult> {
    return listOffsets(this.#reader, await this.#catalog.state(topicId, partition), query);
  }

  /**
   * OffsetForLeaderEpoch: the largest epoch ≤ `leaderEpoch` this partition had, and the offset where it
   * ended (the next epoch's start, or the log end for the latest epoch). (-1, -1) when there is none.
   */
  async epochEndOffset(topicId: string, partition: number, leaderEpoch: number): Promise<EpochEndOffset> {
    const state = await this.#catalog.state(topicId, partition);
    const epochs = state.epochs;
    for (let i = epochs.length - 1; i >= 0; i--) {
      const e = epochs[i]!;
      if (e.epoch > leaderEpoch) continue;
      const next = epochs[i + 1];
      const owned = this.#owned.get(key(topicId, partition));
      const logEnd = owned !== undefined && owned.status === 'active' ? owned.state.highWatermark : state.highWatermark;
      return { errorCode: ErrorCode.NONE, leaderEpoch: e.epoch, endOffset: next === undefined ? logEnd : next.startOffset };
    }
    return { errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 };
  }

  // Lifecycle -------------------------------------------------------------------------------------

  /** Resolves when every append made so far is settled (tests, shutdown). */
  flush(): Promise<void> {
    return this.#pipeline.drain();
  }

  /** Drains in-flight flushes, releases owned partitions, stops the watch. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.close();
    await this.#merger?.close();
    await this.#pipeline.close();
    for (const [id, log] of this.#owned) {
      this.#owned.delete(id);
      log.close();
      if (log.claim.lease.isAlive()) {
        try {
          await log.exclusive(() => this.#ownership.release(log.claim));
        } catch (error) {
          this.#log.warn({ err: error, topicId: log.topicId, partition: log.partition }, 'could not release partition; it frees when the session expires');
        }
      }
    }
    await this.#catalog.close();
  }

  #onLeaseLost(): void {
    if (this.#closed) return;
    // Commits in flight may still have applied before the lease ended: their outcome is unknown.
    for (const log of this.#owned.values()) log.fence('session lease lost', 'unknown');
  }
}
