import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { BrokerRegistry } from '../cluster/broker-registry.ts';
import type { PartitionLeaders } from '../cluster/partition-leaders.ts';
import type { TopicRegistry } from '../cluster/topic-registry.ts';
import type { LogService } from './log-service.ts';
import type { PartitionLog } from './partition-log.ts';

const RETRY_DELAY_MS = 500;

/**
 * Keeps this broker the owner of exactly the partitions placement gives it: acquires them when topics
 * or partitions appear (and at start), releases partitions of deleted topics, and re-tries partitions
 * still held by a previous owner until its lease expires. Produce calls `ensureOwned` so that a
 * partition created a moment ago is writable without waiting for the background pass.
 */
export class PartitionAssigner {
  readonly #logs: LogService;
  readonly #topics: TopicRegistry;
  readonly #brokers: BrokerRegistry;
  readonly #leaders: PartitionLeaders;
  readonly #log: Logger;
  readonly #inflight = new Map<string, Promise<PartitionLog | null>>();
  #unsubscribe: Array<() => void> = [];
  #retryTimer: NodeJS.Timeout | null = null;
  #passRunning: Promise<void> | null = null;
  #passAgain = false;
  #closed = false;

  constructor(options: { logs: LogService; topics: TopicRegistry; brokers: BrokerRegistry; leaders: PartitionLeaders; log: Logger }) {
    this.#logs = options.logs;
    this.#topics = options.topics;
    this.#brokers = options.brokers;
    this.#leaders = options.leaders;
    this.#log = options.log;
  }

  start(): void {
    this.#unsubscribe.push(
      this.#topics.onChange((changes) => {
        for (const change of changes) {
          if (change.before !== null && (change.after === null || change.after.id !== change.before.id)) {
            for (let p = 0; p < change.before.partitions; p++) void this.#logs.release(change.before.id, p);
          }
        }
        this.#schedulePass();
      }),
      this.#brokers.onChange(() => this.#schedulePass()),
    );
    this.#schedulePass();
  }

  /** The partition's log when this broker owns it or could acquire it now; null otherwise. */
  ensureOwned(topicId: string, partition: number): Promise<PartitionLog | null> {
    const owned = this.#logs.owned(topicId, partition);
    if (owned !== undefined && owned.status === 'active') return Promise.resolve(owned);
    if (this.#leaders.leaderOf(topicId, partition).brokerId !== this.#brokers.self.brokerId) return Promise.resolve(null);
    const id = `${topicId}/${partition}`;
    let pending = this.#inflight.get(id);
    if (pending === undefined) {
      pending = this.#acquire(topicId, partition).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending;
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
    await this.#passRunning;
  }

  async #acquire(topicId: string, partition: number): Promise<PartitionLog | null> {
    try {
      const outcome = await this.#logs.acquire(topicId, partition);
      if (outcome.errorCode === ErrorCode.NONE && 'log' in outcome) return outcome.log;
      return null;
    } catch (error) {
      this.#log.warn({ err: error, topicId, partition }, 'acquiring a partition failed; will retry');
      return null;
    }
  }

  #schedulePass(): void {
    if (this.#closed) return;
    if (this.#passRunning !== null) {
      this.#passAgain = true;
      return;
    }
    this.#passRunning = this.#pass().finally(() => {
      this.#passRunning = null;
      if (this.#passAgain) {
        this.#passAgain = false;
        this.#schedulePass();
      }
    });
  }

  async #pass(): Promise<void> {
    let missing = 0;
    const self = this.#brokers.self.brokerId;
    for (const topic of this.#topics.list()) {
      for (let p = 0; p < topic.partitions; p++) {
        if (this.#closed) return;
        if (this.#leaders.leaderOf(topic.id, p).brokerId !== self) continue;
        const owned = this.#logs.owned(topic.id, p);
        if (owned !== undefined && owned.status === 'active') continue;
        if ((await this.ensureOwned(topic.id, p)) === null) missing++;
      }
    }
    if (missing > 0 && !this.#closed && this.#retryTimer === null) {
      // Usually a previous owner's lease that has not expired yet; it will, so try again shortly.
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#schedulePass();
      }, RETRY_DELAY_MS);
      this.#retryTimer.unref();
    }
  }
}
