import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { BrokerRegistry } from '../cluster/broker-registry.ts';
import { NO_OWNER, type OwnerDirectory } from '../cluster/owner-directory.ts';
import type { PartitionLeaders } from '../cluster/partition-leaders.ts';
import type { TopicRegistry } from '../cluster/topic-registry.ts';
import type { AcquireResult, LogService } from './log-service.ts';
import type { PartitionLog } from './partition-log.ts';

/**
 * Safety net only: acquisition is driven by owner-directory events (an owner key deleted) and by
 * broker/topic changes. This timer re-tries partitions whose acquire failed on a store fault; short
 * enough that a partition is writable again within about a second of the fault clearing (issue 10,
 * item 2), and a pass only touches partitions placed here that nobody else owns.
 */
const RETRY_DELAY_MS = 500;
/**
 * Partitions one batched acquire claims (LogService.acquireMany: a few packed txns for all of them),
 * and how many such batches one placement pass keeps in flight (each waits on the metadata store).
 */
const ACQUIRE_BATCH = 128;
const BATCHES_IN_FLIGHT = 4;
/** Handovers (drain + release) per second when placement moves partitions away (a broker joined). */
const DEFAULT_HANDOVERS_PER_SECOND = 20;

export interface PartitionAssignerOptions {
  readonly logs: LogService;
  readonly topics: TopicRegistry;
  readonly brokers: BrokerRegistry;
  readonly leaders: PartitionLeaders;
  /** Actual owners of every partition; without it every placed partition is tried on each pass. */
  readonly directory?: OwnerDirectory;
  readonly log: Logger;
  readonly handoversPerSecond?: number;
}

/**
 * Keeps this broker the owner of exactly the partitions placement gives it (docs/design/cluster.md):
 * - acquires placed partitions that nobody owns — at start, when topics or partitions appear, and when
 *   the owner directory reports an owner key gone (a release, or a dead broker's lease expiring);
 * - hands over owned partitions that placement moved to another broker (a broker joined): drain the
 *   partition's pending appends, then delete the owner key, at most `handoversPerSecond`, so producers
 *   see a short NOT_LEADER_OR_FOLLOWER blip per partition rather than a storm;
 * - releases partitions of deleted topics.
 * Produce calls `ensureOwned` so that a partition created a moment ago is writable at once.
 */
export class PartitionAssigner {
  readonly #logs: LogService;
  readonly #topics: TopicRegistry;
  readonly #brokers: BrokerRegistry;
  readonly #leaders: PartitionLeaders;
  readonly #directory: OwnerDirectory | null;
  readonly #log: Logger;
  readonly #handoverIntervalMs: number;
  readonly #inflight = new Map<string, Promise<PartitionLog | null>>();
  #unsubscribe: Array<() => void> = [];
  #retryTimer: NodeJS.Timeout | null = null;
  #handoverTimer: NodeJS.Timeout | null = null;
  #lastHandoverMs = 0;
  #passRunning: Promise<void> | null = null;
  #passAgain = false;
  #closed = false;
  #handovers = 0;
  #settledOnce = false;

  constructor(options: PartitionAssignerOptions) {
    this.#logs = options.logs;
    this.#topics = options.topics;
    this.#brokers = options.brokers;
    this.#leaders = options.leaders;
    this.#directory = options.directory ?? null;
    this.#log = options.log;
    this.#handoverIntervalMs = 1_000 / Math.max(0.001, options.handoversPerSecond ?? DEFAULT_HANDOVERS_PER_SECOND);
  }

  /** Partitions handed over to another broker since start (tests, logs). */
  get handovers(): number {
    return this.#handovers;
  }

  start(): void {
    this.#unsubscribe.push(
      this.#topics.onChange((changes) => {
        for (const change of changes) {
          if (change.before !== null && (change.after === null || change.after.id !== change.before.id)) {
            this.#leaders.forgetTopic(change.before.id);
            for (let p = 0; p < change.before.partitions; p++) void this.#logs.release(change.before.id, p).catch(() => undefined);
          }
        }
        this.#schedulePass();
      }),
      this.#brokers.onChange(() => this.#schedulePass()),
    );
    if (this.#directory !== null) {
      const self = this.#brokers.self.brokerId;
      this.#unsubscribe.push(
        this.#directory.onChange((topicId, partition, owner) => {
          // Only a freed partition placed here is interesting; everything else waits for its own event.
          if (owner === NO_OWNER && this.#leaders.placementOf(topicId, partition) === self) this.#schedulePass();
        }),
      );
    }
    this.#schedulePass();
  }

  /** The partition's log when this broker owns it or could acquire it now; null otherwise. */
  ensureOwned(topicId: string, partition: number): Promise<PartitionLog | null> {
    const owned = this.#logs.owned(topicId, partition);
    if (owned !== undefined && owned.status === 'active') return Promise.resolve(owned);
    if (!this.#mayAcquire(topicId, partition)) return Promise.resolve(null);
    const id = `${topicId}/${partition}`;
    let pending = this.#inflight.get(id);
    if (pending === undefined) {
      pending = this.#acquire(topicId, partition).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending;
  }

  /** Not closed, placed here, and no other live owner (whose owner key's deletion wakes the pass). */
  #mayAcquire(topicId: string, partition: number): boolean {
    if (this.#closed) return false;
    const self = this.#brokers.self.brokerId;
    if (this.#leaders.placementOf(topicId, partition) !== self) return false;
    // Another live owner (a handover still draining, a dead broker's lease not yet expired): do not
    // hammer the store; its owner key's deletion wakes the background pass.
    const current = this.#directory?.ownerOf(topicId, partition) ?? NO_OWNER;
    return current === NO_OWNER || current === self;
  }

  /**
   * Acquires the partitions in one batch (few store round trips for all); a partition already being
   * acquired (a Produce's ensureOwned) is waited for, not claimed twice. Resolves with how many are not
   * ours afterwards. While the batch runs, ensureOwned of any of its partitions waits for it.
   */
  async #acquireBatch(partitions: ReadonlyArray<{ topicId: string; partition: number }>): Promise<number> {
    const waits: Array<Promise<PartitionLog | null>> = [];
    const fresh: Array<{ topicId: string; partition: number; id: string }> = [];
    let missing = 0;
    for (const { topicId, partition } of partitions) {
      const id = `${topicId}/${partition}`;
      const pending = this.#inflight.get(id);
      const owned = this.#logs.owned(topicId, partition);
      if (pending !== undefined) waits.push(pending);
      else if (owned !== undefined && owned.status === 'active') continue;
      // Checked again now, as ensureOwned does: placement or owners may have moved since the pass began.
      else if (!this.#mayAcquire(topicId, partition)) missing++;
      else fresh.push({ topicId, partition, id });
    }
    const acquiring = fresh.length === 0 ? [] : this.#logs.acquireMany(fresh);
    fresh.forEach(({ topicId, partition, id }, i) => {
      const pending = this.#settleAcquire(acquiring[i]!, topicId, partition).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
      waits.push(pending);
    });
    for (const log of await Promise.all(waits)) if (log === null) missing++;
    return missing;
  }

  /**
   * Whether one placement pass has completed: every partition placed here was acquired (loaded from
   * its committed log entries) or is held by a live other owner whose release will wake us. /readyz.
   */
  get settledOnce(): boolean {
    return this.#settledOnce;
  }

  /** Runs (or re-runs) one placement pass; resolves when it is done. */
  async settle(): Promise<void> {
    this.#schedulePass();
    while (this.#passRunning !== null) await this.#passRunning;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    if (this.#handoverTimer !== null) clearTimeout(this.#handoverTimer);
    this.#retryTimer = null;
    this.#handoverTimer = null;
    await this.#passRunning;
  }

  #acquire(topicId: string, partition: number): Promise<PartitionLog | null> {
    return this.#settleAcquire(this.#logs.acquire(topicId, partition), topicId, partition);
  }

  async #settleAcquire(acquiring: Promise<AcquireResult>, topicId: string, partition: number): Promise<PartitionLog | null> {
    try {
      const outcome = await acquiring;
      if (outcome.errorCode === ErrorCode.NONE && 'log' in outcome) return outcome.log;
      return null;
    } catch (error) {
      this.#log.warn({ err: error, topicId, partition }, 'acquiring a partition failed; will retry');
      this.#scheduleRetry();
      return null;
    }
  }

  #schedulePass(): void {
    if (this.#closed) return;
    if (this.#passRunning !== null) {
      this.#passAgain = true;
      return;
    }
    this.#passRunning = this.#pass()
      .catch((error: unknown) => {
        this.#log.warn({ err: error }, 'partition placement pass failed; will retry');
        this.#scheduleRetry();
      })
      .finally(() => {
        this.#passRunning = null;
        if (this.#passAgain) {
          this.#passAgain = false;
          this.#schedulePass();
        }
      });
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#schedulePass();
    }, RETRY_DELAY_MS);
    this.#retryTimer.unref();
  }

  async #pass(): Promise<void> {
    await this.#handOverMoved();
    let missing = 0;
    const self = this.#brokers.self.brokerId;
    const wanted: Array<{ topicId: string; partition: number }> = [];
    for (const topic of this.#topics.list()) {
      for (let p = 0; p < topic.partitions; p++) {
        if (this.#leaders.placementOf(topic.id, p) !== self) continue;
        const owned = this.#logs.owned(topic.id, p);
        if (owned !== undefined && owned.status === 'active') continue;
        const current = this.#directory?.ownerOf(topic.id, p) ?? NO_OWNER;
        if (current !== NO_OWNER && current !== self) continue; // its release or expiry wakes us
        wanted.push({ topicId: topic.id, partition: p });
      }
    }
    // Each acquire is a few store round trips (epoch CAS, committed-state load); one at a time made a
    // broker take ~9 ms per partition (94 s for 10,000), and 16 at a time still cost a fresh
    // 100-partition topic ~200 store commits (one fsync each on the embedded store) while its first
    // produce waited. Batches claim many partitions per txn, and a few batches overlap.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < wanted.length && !this.#closed) {
        const batch = wanted.slice(next, next + ACQUIRE_BATCH);
        next += batch.length;
        missing += await this.#acquireBatch(batch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, Math.ceil(wanted.length / ACQUIRE_BATCH)) }, worker));
    if (this.#closed) return;
    // Without a directory nothing announces a freed partition: fall back to re-trying.
    if (missing > 0 && this.#directory === null) this.#scheduleRetry();
    this.#settledOnce = true;
  }

  /**
   * Releases owned partitions whose placement moved elsewhere, rate-limited. Whatever exceeds the rate
   * is left for a later pass, scheduled here.
   */
  async #handOverMoved(): Promise<void> {
    const self = this.#brokers.self.brokerId;
    for (const log of this.#logs.ownedLogs()) {
      if (this.#closed) return;
      if (log.status !== 'active' || this.#leaders.placementOf(log.topicId, log.partition) === self) continue;
      const waitMs = this.#lastHandoverMs + this.#handoverIntervalMs - Date.now();
      if (waitMs > 0) {
        if (this.#handoverTimer === null) {
          this.#handoverTimer = setTimeout(() => {
            this.#handoverTimer = null;
            this.#schedulePass();
          }, waitMs);
          this.#handoverTimer.unref();
        }
        return;
      }
      this.#lastHandoverMs = Date.now();
      this.#handovers++;
      this.#log.info({ topicId: log.topicId, partition: log.partition, epoch: log.epoch, to: this.#leaders.placementOf(log.topicId, log.partition) }, 'handing partition over to its new placement');
      // Not awaited: the drain of one partition must not hold back the next handover.
      this.#logs.release(log.topicId, log.partition).catch((error: unknown) => {
        this.#log.warn({ err: error, topicId: log.topicId, partition: log.partition }, 'handover release failed; the partition frees when the session ends');
      });
    }
  }
}
