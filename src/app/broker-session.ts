import type { Logger } from 'pino';
import type { KafscaleConfig } from '../config/index.ts';
import type { BrokerRegistry } from '../services/cluster/broker-registry.ts';
import type { OwnerDirectory } from '../services/cluster/owner-directory.ts';
import type { PartitionLeaders } from '../services/cluster/partition-leaders.ts';
import type { TopicRegistry } from '../services/cluster/topic-registry.ts';
import type { FlushObserver } from '../services/log/flush-observer.ts';
import { GroupCoordinator } from '../services/groups/group-coordinator.ts';
import { LogService } from '../services/log/log-service.ts';
import { ObjectCollector } from '../services/log/object-collector.ts';
import { PartitionAssigner } from '../services/log/partition-assigner.ts';
import { RetentionTask } from '../services/log/retention-task.ts';
import type { Lease, MetadataStore } from '../storage/meta/metadata-store.ts';
import type { ObjectStore } from '../storage/object/object-store.ts';
import { isKafscaleError, type KafscaleError } from '../telemetry/kafscale-error.ts';
import { Backoff } from '../timing/backoff.ts';

/** How long session recovery waits for the lost session's services to close before starting anew. */
const OLD_SESSION_CLOSE_MS = 10_000;

/** What outlives a session: the stores, the topic and broker mirrors, placement and the owner directory. */
export interface SessionDependencies {
  readonly config: KafscaleConfig;
  readonly log: Logger;
  readonly meta: MetadataStore;
  readonly objects: ObjectStore;
  readonly topics: TopicRegistry;
  readonly brokers: BrokerRegistry;
  readonly leaders: PartitionLeaders;
  readonly directory: OwnerDirectory;
  /** Flush metrics (kafscale_flush_*). */
  readonly flushObserver?: FlushObserver;
}

/**
 * Everything bound to one session lease (docs/design/cluster.md, "Session recovery"): partition
 * ownership and the write path (LogService), the assigner, retention, the object collector and the
 * group coordinator. When the lease is lost the whole bundle is closed — nothing in it can commit
 * afterwards — and a new bundle is started under a new lease; the dispatcher reads the current bundle
 * on every request, so it keeps serving throughout.
 */
export class BrokerSession {
  readonly lease: Lease;
  readonly logs: LogService;
  readonly assigner: PartitionAssigner;
  readonly groups: GroupCoordinator;
  readonly #retention: RetentionTask;
  readonly #collector: ObjectCollector;
  #closing: Promise<void> | null = null;

  private constructor(lease: Lease, logs: LogService, assigner: PartitionAssigner, retention: RetentionTask, collector: ObjectCollector, groups: GroupCoordinator) {
    this.lease = lease;
    this.logs = logs;
    this.assigner = assigner;
    this.#retention = retention;
    this.#collector = collector;
    this.groups = groups;
  }

  static async start(deps: SessionDependencies, lease: Lease): Promise<BrokerSession> {
    const { config, log, meta, objects, topics, brokers, leaders, directory } = deps;
    const logs = await LogService.open({
      store: meta,
      objects,
      log: log.child({ component: 'log' }),
      brokerId: config.broker.id,
      lease,
      namespace: config.objectStore.namespace,
      flush: { lingerMs: config.flush.lingerMs, idleLingerMs: config.flush.idleLingerMs, maxBytes: config.flush.maxBytes, maxInflight: config.flush.maxInflight, maxPendingBytes: config.flush.maxPendingBytes },
      cacheBytes: config.cache.maxBytes,
      tailBytes: config.cache.tailBytes,
      readAheadBytes: config.cache.readAheadBytes,
      ...(deps.flushObserver === undefined ? {} : { flushObserver: deps.flushObserver }),
      // The merger sizes segments by the topic's segment.bytes (capped, see storage.md "Merging").
      merge: { topicConfigs: (topicId) => topics.getById(topicId)?.configs, policy: { maxWalEntries: config.merge.maxWalEntries, maxWalAgeMs: config.merge.maxWalAgeMs } },
      // The check logs each violation itself ('partition log invariant violated'); nothing more to do here.
      ...(config.checks.logInvariants ? { invariantHook: () => undefined } : {}),
    });
    const assigner = new PartitionAssigner({ logs, topics, brokers, leaders, directory, log: log.child({ component: 'assigner' }) });
    // Retention trims only partitions this broker owns; the collector runs on one broker at a time.
    const retention = new RetentionTask({ logs, topicConfigs: (topicId) => topics.getById(topicId)?.configs, log: log.child({ component: 'retention' }) });
    const collector = new ObjectCollector({ store: meta, objects, log: log.child({ component: 'collector' }), brokerId: config.broker.id, lease, namespace: config.objectStore.namespace, io: logs.io });
    const groups = new GroupCoordinator(meta, brokers, { ...config.groups }, log.child({ component: 'groups' }));
    // Offsets of a deleted (or deleted and re-created) topic go, as in Kafka (docs/design/groups.md).
    groups.useTopicLookup((name) => topics.get(name) !== undefined);
    assigner.start();
    retention.start();
    collector.start();
    groups.start();
    return new BrokerSession(lease, logs, assigner, retention, collector, groups);
  }

  /**
   * Stops everything in reverse start order. With a live lease (graceful shutdown) the log service
   * drains the flush pipeline and releases every owned partition, so survivors take over at once.
   */
  close(log: Logger): Promise<void> {
    this.#closing ??= this.#close(log);
    return this.#closing;
  }

  async #close(log: Logger): Promise<void> {
    const parts: Array<[string, () => Promise<void>]> = [
      ['group coordinator', () => this.groups.close()],
      ['object collector', () => this.#collector.close()],
      ['retention', () => this.#retention.close()],
      ['partition assigner', () => this.assigner.close()],
      ['log service', () => this.logs.close()],
    ];
    for (const [name, close] of parts) {
      try {
        await close();
      } catch (error) {
        log.warn({ err: error, part: name }, 'error while closing');
      }
    }
  }
}

/**
 * The broker's current session and its recovery (docs/design/cluster.md, "Session recovery"): when the
 * lease is lost, the lost session's services are closed — its partitions were already fenced by the log
 * service, so pending produce requests fail with NOT_LEADER_OR_FOLLOWER and nothing more is committed —
 * then a new lease is granted as soon as the store answers, the broker re-registers and a new session
 * starts. Requests meanwhile reach the closed session and get retriable errors (NOT_LEADER_OR_FOLLOWER,
 * COORDINATOR_NOT_AVAILABLE).
 */
export class SessionKeeper {
  readonly #deps: SessionDependencies;
  readonly #fatal: (error: KafscaleError) => void;
  #session: BrokerSession;
  #recovering: Promise<void> | null = null;
  #sessionsStarted = 0;
  #stopped = false;

  private constructor(deps: SessionDependencies, session: BrokerSession, fatal: (error: KafscaleError) => void) {
    this.#deps = deps;
    this.#session = session;
    this.#fatal = fatal;
  }

  /**
   * Starts the first session under `lease` and keeps one running. `fatal` is called when the broker
   * cannot go on (its allocated broker id was taken while its session was lost).
   */
  static async start(deps: SessionDependencies, lease: Lease, fatal: (error: KafscaleError) => void): Promise<SessionKeeper> {
    const keeper = new SessionKeeper(deps, await BrokerSession.start(deps, lease), fatal);
    keeper.#watch(lease);
    return keeper;
  }

  get current(): BrokerSession {
    return this.#session;
  }

  /** Sessions started so far: 1 after start, +1 per recovery. */
  get sessionsStarted(): number {
    return this.#sessionsStarted;
  }

  /** No recovery starts from now on (the broker is shutting down); one under way gives up. */
  stop(): void {
    this.#stopped = true;
  }

  /** Closes the current session (after a recovery under way) and revokes its lease. */
  async close(): Promise<void> {
    this.stop();
    await this.#recovering;
    const current = this.#session;
    await current.close(this.#deps.log);
    await current.lease.revoke();
  }

  #watch(lease: Lease): void {
    this.#sessionsStarted++;
    void lease.lost.then(() => {
      if (this.#stopped || this.#session.lease !== lease) return;
      this.#recovering = this.#recover(lease).finally(() => {
        this.#recovering = null;
      });
    });
  }

  async #recover(lost: Lease): Promise<void> {
    const deps = this.#deps;
    const { log } = deps;
    const old = this.#session;
    log.error({ leaseId: lost.id }, 'broker session lease lost; fencing its partitions and groups, then starting a new session');
    // Bounded: a flush stuck on an unreachable store must not keep the broker from recovering. The old
    // session is fenced already, so whatever it still does cannot commit.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      old.close(log).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), OLD_SESSION_CLOSE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!closed) log.warn({ waitedMs: OLD_SESSION_CLOSE_MS }, 'the lost session is still closing; starting the new one anyway');
    const backoff = new Backoff({ initialMs: 200, maxMs: 2_000 });
    while (!this.#stopped) {
      let lease: Lease | null = null;
      try {
        lease = await deps.meta.grantLease(deps.config.broker.sessionTtlMs);
        await deps.brokers.renew(lease);
        const session = await BrokerSession.start(deps, lease);
        if (this.#stopped) {
          await session.close(log);
          await lease.revoke();
          return;
        }
        this.#session = session;
        this.#watch(lease);
        // warn, not info: the end of an incident operators look for next to the 'lease lost' error.
        log.warn({ leaseId: lease.id, sessions: this.#sessionsStarted }, 'broker session recovered; serving with a new lease');
        return;
      } catch (error) {
        await lease?.revoke().catch(() => undefined);
        if (isKafscaleError(error, 'KSC_BROKER_ID_TAKEN')) {
          log.fatal({ err: error }, error.message);
          this.#fatal(error);
          return;
        }
        log.warn({ err: error, retryInMs: backoff.delayMs }, 'cannot start a new broker session yet; retrying');
        await backoff.wait();
      }
    }
  }
}
