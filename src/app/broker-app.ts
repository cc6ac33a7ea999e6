import type { Logger } from 'pino';
import type { KafscaleConfig } from '../config/index.ts';
import { createApiTable } from '../broker/api-table.ts';
import type { BrokerServices } from '../broker/broker-services.ts';
import { Dispatcher, type RequestDispatcher } from '../broker/dispatch.ts';
import { FetchSessionCache } from '../broker/fetch-session-cache.ts';
import type { ConsoleApi } from '../console/console-api.ts';
import { OpsServer } from '../ops/ops-server.ts';
import type { KafkaServer } from '../server/kafka-server.ts';
import { TlsCertificates } from '../server/tls-certificates.ts';
import { BrokerRegistry, type ListenerEndpoint } from '../services/cluster/broker-registry.ts';
import { SaslAuthenticator } from '../services/security/sasl-authenticator.ts';
import { ScramCredentialStore } from '../services/security/scram-credential-store.ts';
import { loadOrCreateClusterId } from '../services/cluster/cluster-identity.ts';
import { PartitionLeaders } from '../services/cluster/partition-leaders.ts';
import { TopicRegistry } from '../services/cluster/topic-registry.ts';
import { OwnerDirectory } from '../services/cluster/owner-directory.ts';
import { ProducerIdManager } from '../services/producers/producer-id-manager.ts';
import { AclAuthorizer, ALLOW_ALL, type Authorizer } from '../services/security/acl-authorizer.ts';
import { AclStore } from '../services/security/acl-store.ts';
import { InstrumentedMetadataStore } from '../storage/meta/instrumented-metadata-store.ts';
import type { Lease, MetadataStore } from '../storage/meta/metadata-store.ts';
import { InstrumentedObjectStore } from '../storage/object/instrumented-object-store.ts';
import { isKafscaleError, KafscaleError } from '../telemetry/kafscale-error.ts';
import { SessionKeeper, type BrokerSession } from './broker-session.ts';
import { brokerSettings } from './broker-settings.ts';
import { DispatcherGate } from './dispatcher-gate.ts';
import { IdleHeapTrim } from './idle-heap-trim.ts';
import { startKafkaListeners } from './kafka-listeners.ts';
import { openMetadataStore, openObjectStore } from './open-stores.ts';
import { openConsole } from './open-console.ts';
import { readOpsToken } from './ops-token.ts';
import { KafscaleMetrics } from '../telemetry/metrics.ts';
import type { FlushObserver } from '../services/log/flush-observer.ts';
import type { LogService } from '../services/log/log-service.ts';
import { RequestMetrics } from './request-metrics.ts';

/**
 * The composition root: the only place that names concrete adapters. Starts the parts in dependency
 * order and closes them in reverse.
 */
export class BrokerApp {
  #config: KafscaleConfig;
  readonly log: Logger;
  readonly metrics: KafscaleMetrics;
  #closers: Array<{ name: string; close: () => Promise<void> }> = [];
  #closing: Promise<void> | null = null;
  #kafkaPort = 0;
  #opsPort = 0;
  #servers: KafkaServer[] = [];
  #listenerPorts = new Map<string, number>();
  #sessions: SessionKeeper | null = null;
  #dispatcher: Dispatcher | null = null;
  #console: ConsoleApi | null = null;
  readonly #fatal = Promise.withResolvers<KafscaleError>();

  constructor(config: KafscaleConfig, log: Logger) {
    this.#config = config;
    this.log = log;
    // An allocated id is known once registered; its label is set then (#start).
    this.metrics = new KafscaleMetrics({ collectProcessMetrics: true, ...(config.broker.allocateId ? {} : { defaultLabels: { broker_id: String(config.broker.id) } }) });
  }

  /** The configuration in force: once started, `broker.id` is the allocated id where none was configured. */
  get config(): KafscaleConfig {
    return this.#config;
  }

  /**
   * Resolves when the broker cannot go on and must be restarted (its allocated broker id was taken
   * while its session was lost); the process should close the app and exit non-zero. Never rejects.
   */
  get fatal(): Promise<KafscaleError> {
    return this.#fatal.promise;
  }

  get kafkaPort(): number {
    return this.#kafkaPort;
  }

  get opsPort(): number {
    return this.#opsPort;
  }

  /** The bound port of a listener by name (after start()). */
  listenerPort(name: string): number | undefined {
    return this.#listenerPorts.get(name);
  }

  /** The broker's TLS files, watched for changes; null when no listener certificate is configured. */
  #openTlsCertificates(): TlsCertificates | null {
    const tls = this.config.tls;
    if (tls === null) return null;
    const certificates = new TlsCertificates({ certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile }, this.log.child({ component: 'tls' }), tls.reloadIntervalMs);
    certificates.start();
    this.#onClose('tls certificates', () => certificates.close());
    return certificates;
  }

  /** Binds every listener (KAFSCALE_LISTENERS); returns each one's advertised address, bound ports filled in. */
  async #startListeners(dispatcher: RequestDispatcher, certificates: TlsCertificates | null): Promise<ListenerEndpoint[]> {
    const endpoints: ListenerEndpoint[] = [];
    await startKafkaListeners(
      { config: this.config, dispatcher, certificates, log: this.log, metrics: this.metrics },
      {
        created: (server) => this.#servers.push(server),
        started: (name, server, port, advertised) => {
          this.#onClose(`kafka listener ${name}`, () => server.close({ drainMs: 5_000 }));
          this.#listenerPorts.set(name, port);
          if (endpoints.length === 0) this.#kafkaPort = port;
          endpoints.push(advertised);
        },
      },
    );
    return endpoints;
  }

  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async #start(): Promise<void> {
    const { log } = this;
    let config = this.#config;
    const meta = new InstrumentedMetadataStore(await openMetadataStore(this.#config, log), this.metrics);
    this.#onClose('metadata store', () => meta.close());
    const objects = new InstrumentedObjectStore(await openObjectStore(this.#config, log), this.metrics);
    this.#onClose('object store', () => objects.close());

    const clusterId = await loadOrCreateClusterId(meta, config.clusterId ?? undefined);
    const topics = await TopicRegistry.open(meta, log.child({ component: 'topics' }));
    this.#onClose('topic registry', () => topics.close());

    const credentials = await ScramCredentialStore.open(meta, log.child({ component: 'credentials' }));
    this.#onClose('credential store', () => credentials.close());
    const tlsCertificates = this.#openTlsCertificates();

    // The Kafka listeners bind first so that a configured port of 0 (tests) is known before the broker
    // advertises itself; requests arriving before registration completes wait for it.
    const gate = new DispatcherGate();
    const endpoints = await this.#startListeners(gate, tlsCertificates);
    const advertisedPort = endpoints[0]?.port ?? this.#kafkaPort;

    const lease = await meta.grantLease(config.broker.sessionTtlMs);
    let brokers: BrokerRegistry;
    try {
      const address = {
        host: endpoints[0]?.host ?? config.broker.advertised.host,
        port: advertisedPort,
        rack: config.broker.rack,
        startedMs: Date.now(),
        ...(config.listeners.length > 1 || config.listeners[0]?.name !== 'PLAINTEXT' ? { listeners: endpoints } : {}),
      };
      const brokersLog = log.child({ component: 'brokers' });
      brokers = config.broker.allocateId
        ? await BrokerRegistry.allocate(meta, address, lease, brokersLog)
        : await BrokerRegistry.register(meta, { brokerId: config.broker.id, ...address }, lease, brokersLog);
    } catch (error) {
      await lease.revoke().catch(() => undefined);
      throw error;
    }
    if (config.broker.allocateId) {
      config = withBrokerId(config, brokers.self.brokerId);
      this.#config = config;
      this.metrics.registry.setDefaultLabels({ broker_id: String(config.broker.id) });
    }
    this.#onClose('broker registry', () => brokers.close());
    const directory = await OwnerDirectory.open(meta, topics, log.child({ component: 'owners' }));
    this.#onClose('owner directory', () => directory.close());
    const leaders = new PartitionLeaders(brokers, directory);
    // Our own active logs answer first: the directory learns of our acquire one watch event later.
    leaders.useEpochSource((topicId, partition) => {
      const owned = this.#session?.logs.owned(topicId, partition);
      return owned !== undefined && (owned.status === 'active' || owned.status === 'reloading') ? owned.epoch : undefined;
    });
    const sessionDeps = { config, log, meta, objects, topics, brokers, leaders, directory, flushObserver: flushMetrics(this.metrics) };
    const sessions = await SessionKeeper.start(sessionDeps, lease, (error) => this.#fatal.resolve(error));
    this.#sessions = sessions;
    // Closed after the listener (registered later, closed earlier): in-flight produce requests drain
    // first; then owned partitions are released and the lease revoked (registration gone at once).
    this.#onClose('broker session', () => sessions.close());
    const stopTopicWatch = topics.onChange((changes) => {
      const deleted = changes.filter((c) => c.before !== null && (c.after === null || c.after.id !== c.before.id)).map((c) => c.name);
      if (deleted.length === 0) return;
      for (const name of deleted) this.metrics.removeTopic(name);
      const groups = this.#session?.groups;
      void groups?.removeOffsetsOfTopics(deleted).catch((error: unknown) => log.warn({ err: error, topics: deleted }, 'could not remove committed offsets of deleted topics'));
    });
    this.#onClose('group topic watch', async () => stopTopicWatch());

    const { authorizer, acls } = await this.#openAuthorization(meta);
    const app = this;
    const producerIds = new ProducerIdManager(meta);
    const settings = brokerSettings(config);
    const fetchSessions = new FetchSessionCache({ maxSlots: config.fetchSessions.maxSlots });
    // Session-bound services are read through getters: after a session recovery the same dispatcher
    // serves with the new session's services.
    const services: BrokerServices = {
      settings,
      clusterId,
      topics,
      brokers,
      leaders,
      get logs() {
        return app.#currentSession().logs;
      },
      get assigner() {
        return app.#currentSession().assigner;
      },
      get groups() {
        return app.#currentSession().groups;
      },
      fetchSessions,
      producerIds,
      authorizer,
      acls,
      security: {
        credentials,
        authenticator: new SaslAuthenticator(
          (user, mechanism) => credentials.lookup(user, mechanism),
          (mechanism, outcome) => this.metrics.saslAuthenticationsTotal.inc({ mechanism, outcome }),
        ),
        authFailureDelayMs: config.sasl.authFailureDelayMs,
        connectionsMaxReauthMs: config.sasl.connectionsMaxReauthMs,
      },
    };
    const requestMetrics = new RequestMetrics(this.metrics, { exists: (name) => topics.get(name) !== undefined, nameOf: (id) => topics.getById(id)?.name });
    const dispatcher = new Dispatcher(createApiTable(), services, (apiKey, _version, _durationMs, failed, request, response) => requestMetrics.observe(apiKey, failed, request, response));
    this.#useScrapeSources(topics, fetchSessions);
    this.#dispatcher = dispatcher;
    gate.open(dispatcher);

    const readiness = {
      metadataStore: async () => {
        await meta.revision();
        return null;
      },
      session: async () => (this.#session?.lease.isAlive() === true ? null : 'broker session lease lost; recovering'),
      // Until the assigner's first pass is done, partitions placed here may still be loading.
      ownedPartitions: async () => (this.#session?.assigner.settledOnce === true ? null : 'owned partitions are still being loaded'),
      objectStore: async () => {
        // A HEAD of a key that never exists: NOT_FOUND proves the store answers.
        try {
          await objects.head('kafscale-readiness-probe');
          return null;
        } catch (error) {
          return isKafscaleError(error, 'KSC_OBJECT_NOT_FOUND') ? null : `object store probe failed: ${error instanceof Error ? error.message : String(error)}`;
        }
      },
    };
    const consoleApi = config.console.enabled ? openConsole(config, services, this.metrics, log, readiness) : null;
    if (consoleApi !== null) {
      this.#console = consoleApi;
      this.#onClose('console', () => consoleApi.close());
    }
    const ops = new OpsServer({
      host: config.ops.listen.host,
      port: config.ops.listen.port,
      registry: this.metrics.registry,
      readiness,
      ...(consoleApi === null ? {} : { console: consoleApi }),
      log: log.child({ component: 'ops' }),
      metrics: this.metrics,
      ...(config.ops.tls && tlsCertificates !== null ? { tls: tlsCertificates } : {}),
      ...(config.ops.tokenFile === null ? {} : { token: readOpsToken(config.ops.tokenFile) }),
    });
    this.#opsPort = await ops.start();
    this.#onClose('ops listener', () => ops.close());
    const heapTrim = new IdleHeapTrim({ log: log.child({ component: 'heap' }) });
    heapTrim.start();
    this.#onClose('idle heap trim', async () => heapTrim.stop());
    log.info(
      { brokerId: config.broker.id, kafka: `${config.broker.listen.host}:${this.#kafkaPort}`, advertised: endpoints.map((e) => `${e.name}://${e.host}:${e.port}`).join(','), ops: `${config.ops.listen.host}:${this.#opsPort}`, clusterId, metadataStore: config.metadataStore.kind, objectStore: config.objectStore.kind },
      'kafscale broker started',
    );
  }

  /** Closes everything in reverse start order; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    // A lease lost from now on is the shutdown's doing: no new session.
    this.#sessions?.stop();
    // The coordinator stops first: JoinGroup/SyncGroup requests parked for a rebalance are answered
    // (COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR) instead of holding the listener's drain for its
    // full 5 s. close() is idempotent, so its own closer below is a no-op.
    try {
      await this.#session?.groups.close();
    } catch (error) {
      this.log.warn({ err: error }, 'error while closing the group coordinator');
    }
    // Stop taking requests and let in-flight ones (produce waiting for its flush) finish before the
    // services under them close.
    try {
      await Promise.all(this.#servers.map((server) => server.close({ drainMs: 5_000 })));
    } catch (error) {
      this.log.warn({ err: error }, 'error while draining the Kafka listener');
    }
    for (const closer of this.#closers.reverse()) {
      try {
        await closer.close();
      } catch (error) {
        this.log.warn({ err: error, part: closer.name }, 'error while closing');
      }
    }
    this.#closers = [];
    this.log.info('kafscale broker stopped');
  }

  /** Scrape-time metrics read the current session (whichever is current after a recovery). */
  #useScrapeSources(topics: TopicRegistry, fetchSessions: FetchSessionCache): void {
    this.metrics.useScrapeSources({
      fetchSessions: () => ({ sessions: fetchSessions.size, partitions: fetchSessions.partitionCount, evictions: fetchSessions.evictions }),
      cache: () => this.#session?.logs.cacheStats() ?? null,
      writeMemory: () => {
        const logs = this.#session?.logs;
        return logs === undefined ? null : { pendingBytes: logs.pipeline.pendingBytes, tailBytes: logs.tailStats().bytes };
      },
      partitionsOwned: () => this.#session?.logs.ownedLogs().length ?? 0,
      groups: async () => {
        const session = this.#session;
        if (session === null) return { byState: {}, lag: [] };
        return session.groups.metricsSnapshot(async (topic, partition) => {
          const record = topics.get(topic);
          if (record === undefined || partition >= record.partitions) return undefined;
          return (await session.logs.offsets(record.id, partition)).highWatermark;
        });
      },
    });
  }

  /** `KAFSCALE_AUTHORIZER=acl`: the ACL store's watch feeds the authorizer every change, on every broker. */
  async #openAuthorization(meta: MetadataStore): Promise<{ authorizer: Authorizer; acls: AclStore | null }> {
    const settings = this.config.authorization;
    if (settings.authorizer !== 'acl') return { authorizer: ALLOW_ALL, acls: null };
    const acls = await AclStore.open(meta, this.log.child({ component: 'acls' }));
    this.#onClose('acl store', () => acls.close());
    const authorizer = new AclAuthorizer({ superUsers: settings.superUsers, allowEveryoneIfNoAclFound: settings.allowEveryoneIfNoAclFound });
    acls.subscribe((bindings) => authorizer.replace(bindings));
    this.log.info({ acls: acls.list().length, superUsers: settings.superUsers, allowEveryoneIfNoAclFound: settings.allowEveryoneIfNoAclFound }, 'ACL authorizer on');
    return { authorizer, acls };
  }

  #onClose(name: string, close: () => Promise<void>): void {
    this.#closers.push({ name, close });
  }

  /**
   * The request dispatcher, for in-process tests that dispatch as a given principal (a connection
   * context they build). Not reachable from the network: connections get their principal from the server.
   */
  /** The console (KAFSCALE_CONSOLE), for in-process tests; null when off. */
  get console(): ConsoleApi | null {
    return this.#console;
  }

  get dispatcher(): RequestDispatcher | null {
    return this.#dispatcher;
  }

  /** The current session's lease (tests revoke it to simulate a lost session; ops readiness). */
  /** The current session's log service (null before start and between sessions); tests read its budgets. */
  get logService(): LogService | null {
    return this.#session?.logs ?? null;
  }

  get sessionLease(): Lease | null {
    return this.#session?.lease ?? null;
  }

  /** Sessions started so far: 1 after start, +1 per recovery. */
  get sessionsStarted(): number {
    return this.#sessions?.sessionsStarted ?? 0;
  }

  /** The current session; null before start. */
  get #session(): BrokerSession | null {
    return this.#sessions?.current ?? null;
  }

  #currentSession(): BrokerSession {
    const session = this.#session;
    if (session === null) throw new KafscaleError('KSC_META_UNAVAILABLE', 'the broker has no session yet');
    return session;
  }

}

/** kafscale_flushes_total, _flush_duration_seconds and _flush_object_bytes (objects written). */
function flushMetrics(metrics: KafscaleMetrics): FlushObserver {
  return {
    flushed(outcome, durationMs, objectBytes) {
      metrics.flushesTotal.inc({ outcome });
      metrics.flushDurationSeconds.observe(durationMs / 1000);
      if (outcome === 'ok') metrics.flushObjectBytes.observe(objectBytes);
    },
  };
}

/** `config` with the broker id allocated at start, frozen like the loaded one. */
function withBrokerId(config: KafscaleConfig, id: number): KafscaleConfig {
  return Object.freeze({ ...config, broker: Object.freeze({ ...config.broker, id }) });
}
