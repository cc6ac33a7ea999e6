import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { KafscaleConfig } from '../config/index.ts';
import { createApiTable } from '../broker/api-table.ts';
import type { BrokerServices, BrokerSettings } from '../broker/broker-services.ts';
import { Dispatcher, type ConnectionContext, type RequestDispatcher } from '../broker/dispatch.ts';
import { FetchSessionCache } from '../broker/fetch-session-cache.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';
import { OpsServer } from '../ops/ops-server.ts';
import { ConsoleApi } from '../console/console-api.ts';
import { CertificatePrincipalMapper } from '../server/certificate-principal.ts';
import { KafkaServer } from '../server/kafka-server.ts';
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
import { EmbeddedMetadataStore } from '../storage/meta/embedded-metadata-store.ts';
import { InstrumentedMetadataStore } from '../storage/meta/instrumented-metadata-store.ts';
import type { Lease, MetadataStore } from '../storage/meta/metadata-store.ts';
import { FsObjectStore } from '../storage/object/fs-object-store.ts';
import { InstrumentedObjectStore } from '../storage/object/instrumented-object-store.ts';
import type { ObjectStore } from '../storage/object/object-store.ts';
import { isKafscaleError, KafscaleError } from '../telemetry/kafscale-error.ts';
import { BrokerSession, type SessionDependencies } from './broker-session.ts';
import { KafscaleMetrics } from '../telemetry/metrics.ts';
import type { FlushObserver } from '../services/log/flush-observer.ts';
import { RequestMetrics } from './request-metrics.ts';

/** How long session recovery waits for the lost session's services to close before starting anew. */
const OLD_SESSION_CLOSE_MS = 10_000;

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
  #sessionDeps: SessionDependencies | null = null;
  #session: BrokerSession | null = null;
  #recovering: Promise<void> | null = null;
  #sessionsStarted = 0;
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
    const { config } = this;
    const tls = config.tls;
    const principalMapper = tls === null ? null : new CertificatePrincipalMapper(tls.principalMappingRules);
    const endpoints: ListenerEndpoint[] = [];
    // queued.max.request.bytes and max.connections(.per.ip) are broker-wide: one budget for every listener.
    const shared = KafkaServer.sharedLimits({
      queuedMaxRequestBytes: config.socket.queuedMaxRequestBytes,
      maxConnections: config.socket.maxConnections,
      maxConnectionsPerIp: config.socket.maxConnectionsPerIp,
    });
    for (const listener of config.listeners) {
      const secure = listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL';
      const sasl = listener.securityProtocol === 'SASL_PLAINTEXT' || listener.securityProtocol === 'SASL_SSL';
      if (secure && (certificates === null || tls === null)) throw new KafscaleError('KSC_CONFIG_INVALID', `listener ${listener.name} uses ${listener.securityProtocol}; set KAFSCALE_TLS_CERT_FILE and KAFSCALE_TLS_KEY_FILE`);
      const server = new KafkaServer({
        dispatcher,
        host: listener.listen.host,
        port: listener.listen.port,
        maxFrameBytes: this.config.socket.requestMaxBytes,
        maxInflightPerConnection: config.socket.maxInflightRequestsPerConnection,
        idleTimeoutMs: config.socket.connectionsMaxIdleMs,
        logger: this.log.child({ component: 'server', listener: listener.name }),
        metrics: this.metrics,
        shared,
        listenerName: listener.name,
        ...(secure && certificates !== null && tls !== null ? { tls: { certificates, clientAuth: tls.clientAuth, principalMapper } } : {}),
        ...(sasl ? { saslMechanisms: config.sasl.mechanisms } : {}),
      });
      this.#servers.push(server);
      const port = await server.start();
      this.#onClose(`kafka listener ${listener.name}`, () => server.close({ drainMs: 5_000 }));
      this.#listenerPorts.set(listener.name, port);
      if (endpoints.length === 0) this.#kafkaPort = port;
      endpoints.push({ name: listener.name, host: listener.advertised.host, port: listener.advertised.port === 0 ? port : listener.advertised.port });
    }
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
    const meta = new InstrumentedMetadataStore(await this.#openMetadataStore(), this.metrics);
    this.#onClose('metadata store', () => meta.close());
    const objects = new InstrumentedObjectStore(await this.#openObjectStore(), this.metrics);
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
    this.#sessionDeps = { config, log, meta, objects, topics, brokers, leaders, directory, flushObserver: flushMetrics(this.metrics) };
    this.#session = await BrokerSession.start(this.#sessionDeps, lease);
    // Closed after the listener (registered later, closed earlier): in-flight produce requests drain
    // first; then owned partitions are released and the lease revoked (registration gone at once).
    this.#onClose('broker session', () => this.#closeSession());
    this.#watchSession(lease);
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
    const consoleApi = config.console.enabled ? this.#openConsole(services, readiness.metadataStore, readiness.objectStore) : null;
    const ops = new OpsServer({
      host: config.ops.listen.host,
      port: config.ops.listen.port,
      registry: this.metrics.registry,
      readiness,
      log: log.child({ component: 'ops' }),
      ...(consoleApi === null ? {} : { console: consoleApi }),
      metrics: this.metrics,
      ...(config.ops.tls && tlsCertificates !== null ? { tls: tlsCertificates } : {}),
      ...(config.ops.tokenFile === null ? {} : { token: readOpsToken(config.ops.tokenFile) }),
    });
    this.#opsPort = await ops.start();
    this.#onClose('ops listener', () => ops.close());
    log.info(
      { brokerId: config.broker.id, kafka: `${config.broker.listen.host}:${this.#kafkaPort}`, advertised: endpoints.map((e) => `${e.name}://${e.host}:${e.port}`).join(','), ops: `${config.ops.listen.host}:${this.#opsPort}`, clusterId, metadataStore: config.metadataStore.kind, objectStore: config.objectStore.kind },
      'kafscale broker started',
    );
  }

  /**
   * KAFSCALE_CONSOLE: the web console and its API (src/console), mounted on the ops listener. With a SASL
   * listener it logs users in with their SCRAM passwords; else with the ops token when there is one; else
   * it is unauthenticated (the config allows that on loopback only, unless told otherwise).
   */
  #openConsole(services: BrokerServices, metadataProbe: () => Promise<string | null>, objectProbe: () => Promise<string | null>): ConsoleApi {
    const { config } = this;
    const sasl = config.listeners.some((l) => l.securityProtocol.startsWith('SASL'));
    const token = config.ops.tokenFile === null ? undefined : readOpsToken(config.ops.tokenFile);
    const api = new ConsoleApi({
      services,
      metrics: this.metrics,
      log: this.log.child({ component: 'console' }),
      maxBytes: config.console.maxBytes,
      auth: {
        mode: sasl ? 'sasl' : token !== undefined ? 'token' : 'none',
        ...(token === undefined ? {} : { token }),
        secureCookies: config.ops.tls,
        failureDelayMs: config.sasl.authFailureDelayMs,
        lookup: (user, mechanism) => services.security.credentials.lookup(user, mechanism),
      },
      metadataStore: { kind: config.metadataStore.kind, probe: metadataProbe },
      objectStore: { kind: config.objectStore.kind === 'filesystem' ? 'fs' : 's3', probe: objectProbe },
    });
    api.start();
    this.#console = api;
    this.#onClose('console', () => api.close());
    return api;
  }

  /** The console (KAFSCALE_CONSOLE), for in-process tests; null when off. */
  get console(): ConsoleApi | null {
    return this.#console;
  }

  /** Closes everything in reverse start order; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
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
  get dispatcher(): RequestDispatcher | null {
    return this.#dispatcher;
  }

  /** The current session's lease (tests revoke it to simulate a lost session; ops readiness). */
  get sessionLease(): Lease | null {
    return this.#session?.lease ?? null;
  }

  /** Sessions started so far: 1 after start, +1 per recovery. */
  get sessionsStarted(): number {
    return this.#sessionsStarted;
  }

  #currentSession(): BrokerSession {
    const session = this.#session;
    if (session === null) throw new KafscaleError('KSC_META_UNAVAILABLE', 'the broker has no session yet');
    return session;
  }

  async #closeSession(): Promise<void> {
    const session = this.#session;
    await this.#recovering;
    const current = this.#session ?? session;
    if (current === null) return;
    await current.close(this.log);
    await current.lease.revoke();
  }

  #watchSession(lease: Lease): void {
    this.#sessionsStarted++;
    void lease.lost.then(() => {
      if (this.#closing !== null || this.#session?.lease !== lease) return;
      this.#recovering = this.#recover(lease).finally(() => {
        this.#recovering = null;
      });
    });
  }

  /**
   * Session recovery (docs/design/cluster.md): the lost session's services are closed — its partitions
   * were already fenced by the log service, so pending produce requests fail with
   * NOT_LEADER_OR_FOLLOWER and nothing more is committed — then a new lease is granted as soon as the
   * store answers, the broker re-registers and a new session starts. Requests meanwhile reach the closed
   * session and get retriable errors (NOT_LEADER_OR_FOLLOWER, COORDINATOR_NOT_AVAILABLE).
   */
  async #recover(lost: Lease): Promise<void> {
    const deps = this.#sessionDeps;
    const old = this.#session;
    if (deps === null || old === null) return;
    this.log.error({ leaseId: lost.id }, 'broker session lease lost; fencing its partitions and groups, then starting a new session');
    // Bounded: a flush stuck on an unreachable store must not keep the broker from recovering. The old
    // session is fenced already, so whatever it still does cannot commit.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      old.close(this.log).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), OLD_SESSION_CLOSE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!closed) this.log.warn({ waitedMs: OLD_SESSION_CLOSE_MS }, 'the lost session is still closing; starting the new one anyway');
    let delayMs = 200;
    while (this.#closing === null) {
      let lease: Lease | null = null;
      try {
        lease = await this.#meta().grantLease(this.config.broker.sessionTtlMs);
        await deps.brokers.renew(lease);
        const session = await BrokerSession.start(deps, lease);
        if (this.#closing !== null) {
          await session.close(this.log);
          await lease.revoke();
          return;
        }
        this.#session = session;
        this.#watchSession(lease);
        // warn, not info: the end of an incident operators look for next to the 'lease lost' error.
        this.log.warn({ leaseId: lease.id, sessions: this.#sessionsStarted }, 'broker session recovered; serving with a new lease');
        return;
      } catch (error) {
        await lease?.revoke().catch(() => undefined);
        if (isKafscaleError(error, 'KSC_BROKER_ID_TAKEN')) {
          this.log.fatal({ err: error }, error.message);
          this.#fatal.resolve(error);
          return;
        }
        this.log.warn({ err: error, retryInMs: delayMs }, 'cannot start a new broker session yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
        delayMs = Math.min(delayMs * 2, 2_000);
      }
    }
  }

  #meta(): MetadataStore {
    const deps = this.#sessionDeps;
    if (deps === null) throw new KafscaleError('KSC_INTERNAL', 'metadata store not open');
    return deps.meta;
  }

  async #openMetadataStore(): Promise<MetadataStore> {
    const cfg = this.config.metadataStore;
    if (cfg.kind === 'embedded') {
      await mkdir(cfg.dir, { recursive: true });
      return EmbeddedMetadataStore.open({ dir: cfg.dir, log: this.log.child({ component: 'meta' }) });
    }
    const { openEtcdMetadataStore } = await import('./etcd-store-factory.ts');
    return openEtcdMetadataStore(cfg, this.log.child({ component: 'meta' }));
  }

  async #openObjectStore(): Promise<ObjectStore> {
    const cfg = this.config.objectStore;
    if (cfg.kind === 'filesystem') {
      await mkdir(cfg.rootDir, { recursive: true });
      const store = new FsObjectStore({ root: cfg.rootDir });
      // Temp files of puts interrupted by a crash are garbage; remove them before the first put.
      const swept = await store.sweepTempFiles();
      if (swept > 0) this.log.info({ swept }, 'removed temp files left by an interrupted put');
      return store;
    }
    const { openS3ObjectStore } = await import('./s3-store-factory.ts');
    return openS3ObjectStore(cfg, this.log.child({ component: 'objects' }));
  }
}

/** Holds requests until the broker is registered; then hands every frame to the real dispatcher. */
class DispatcherGate implements RequestDispatcher {
  #dispatcher: RequestDispatcher | null = null;
  #waiters: Array<() => void> = [];

  open(dispatcher: RequestDispatcher): void {
    this.#dispatcher = dispatcher;
    for (const wake of this.#waiters) wake();
    this.#waiters = [];
  }

  async handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null> {
    if (this.#dispatcher === null) {
      // The frame may be a view into a reused buffer; keep our own copy while we wait.
      const copy = Buffer.from(frame);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      return (this.#dispatcher as unknown as RequestDispatcher).handle(copy, connection);
    }
    return this.#dispatcher.handle(frame, connection);
  }

  /** Connections may open before the gate does: every one gets its ordering state from the start. */
  newProduceOrder(): ProduceOrder {
    return new ProduceOrder();
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

/** The ops bearer token: the file's first line; an empty file is a configuration error. */
export function readOpsToken(file: string): string {
  let token: string;
  try {
    token = (readFileSync(file, 'utf8').split('\n')[0] ?? '').trim();
  } catch (error) {
    throw new KafscaleError('KSC_CONFIG_INVALID', `cannot read KAFSCALE_OPS_TOKEN_FILE ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (token.length < 16) throw new KafscaleError('KSC_CONFIG_INVALID', `KAFSCALE_OPS_TOKEN_FILE ${file} must hold a token of at least 16 characters on its first line`);
  return token;
}

function brokerSettings(config: KafscaleConfig): BrokerSettings {
  return {
    brokerId: config.broker.id,
    autoCreateTopics: config.topics.autoCreate,
    defaultPartitions: config.topics.autoCreatePartitions,
    socketRequestMaxBytes: config.socket.requestMaxBytes,
    describedBrokerConfigs: {
      'broker.id': String(config.broker.id),
      'auto.create.topics.enable': String(config.topics.autoCreate),
      'num.partitions': String(config.topics.autoCreatePartitions),
      'default.replication.factor': '1',
      'min.insync.replicas': '1',
      'socket.request.max.bytes': String(config.socket.requestMaxBytes),
      'connections.max.idle.ms': String(config.socket.connectionsMaxIdleMs),
      'queued.max.request.bytes': String(config.socket.queuedMaxRequestBytes),
      'max.connections': String(config.socket.maxConnections),
      'max.connections.per.ip': String(config.socket.maxConnectionsPerIp),
      'message.max.bytes': '1048588',
      'log.retention.ms': '604800000',
      'log.retention.bytes': '-1',
      'log.segment.bytes': '1073741824',
      'group.initial.rebalance.delay.ms': String(config.groups.initialRebalanceDelayMs),
      'group.min.session.timeout.ms': String(config.groups.minSessionTimeoutMs),
      'group.max.session.timeout.ms': String(config.groups.maxSessionTimeoutMs),
      'offsets.retention.minutes': String(config.groups.offsetsRetentionMinutes),
      'max.incremental.fetch.session.cache.slots': String(config.fetchSessions.maxSlots),
      'broker.rack': config.broker.rack ?? '',
    },
  };
}
