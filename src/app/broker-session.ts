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
      flush: { lingerMs: config.flush.lingerMs, maxBytes: config.flush.maxBytes, maxInflight: config.flush.maxInflight },
      cacheBytes: config.cache.maxBytes,
      ...(deps.flushObserver === undefined ? {} : { flushObserver: deps.flushObserver }),
      // The merger sizes segments by the topic's segment.bytes (capped, see storage.md "Merging").
      merge: { topicConfigs: (topicId) => topics.getById(topicId)?.configs },
      // The check logs each violation itself ('partition log invariant violated'); nothing more to do here.
      ...(config.checks.logInvariants ? { invariantHook: () => undefined } : {}),
    });
    const assigner = new PartitionAssigner({ logs, topics, brokers, leaders, directory, log: log.child({ component: 'assigner' }) });
    // Retention trims only partitions this broker owns; the collector runs on one broker at a time.
    const retention = new RetentionTask({ logs, topicConfigs: (topicId) => topics.getById(topicId)?.configs, log: log.child({ component: 'retention' }) });
    const collector = new ObjectCollector({ store: meta, objects, log: log.child({ component: 'collector' }), brokerId: config.broker.id, lease, namespace: config.objectStore.namespace });
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
