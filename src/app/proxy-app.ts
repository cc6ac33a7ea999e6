/**
 * `kafscale proxy`: composes the Kafka-aware proxy (src/proxy) with its ops HTTP listener. Start order:
 * connection pool → cluster view (first metadata) → Kafka listener → ops listener; close in reverse,
 * draining client requests first (SIGTERM).
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { OpsServer } from '../ops/ops-server.ts';
import type { KafscaleConfig } from '../config/index.ts';
import { BrokerLink } from '../proxy/broker-link.ts';
import { ClusterView } from '../proxy/cluster-view.ts';
import { PartitionedForwarder } from '../proxy/partitioned-forwarder.ts';
import { ProxyIdentity } from '../proxy/proxy-identity.ts';
import { ProxyRouter } from '../proxy/proxy-router.ts';
import { ProxyServer, type ProxySasl, type ProxyTls } from '../proxy/proxy-server.ts';
import { UpstreamConnection, type UpstreamSecurity } from '../proxy/upstream-connection.ts';
import { UpstreamPool } from '../proxy/upstream-pool.ts';
import { CertificatePrincipalMapper } from '../server/certificate-principal.ts';
import { TlsCertificates } from '../server/tls-certificates.ts';
import { readOpsToken } from './ops-token.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { Logger } from '../telemetry/logger.ts';
import { ProxyMetrics } from '../telemetry/proxy-metrics.ts';

const CLIENT_ID = 'kafscale-proxy';
const CONNECT_TIMEOUT_MS = 5_000;
/** Added to a request's own wait (Fetch MaxWaitMs, Produce timeoutMs) before a broker counts as hung. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Idle exclusive connections (Fetch, JoinGroup, SyncGroup) kept per broker. */
const MAX_IDLE_EXCLUSIVE = 32;
/** How long SIGTERM waits for answers to requests already read. */
const DRAIN_MS = 10_000;
/** Pipelined requests per client connection before the proxy stops reading it. */
const MAX_INFLIGHT_PER_CONNECTION = 64;
/** Record bytes the Fetch read-ahead may hold for all clients together before it stops fetching ahead. */
const READ_AHEAD_MAX_BYTES = 128 * 1024 * 1024;
/**
 * The proxy holds every broker answer in a buffer of its own (MBs per Fetch) for a few ms. V8's default
 * heuristic starts a full GC whenever such external memory grew by ~64 MB: while consuming at 600 MB/s
 * that was a mark-compact every ~60 ms, ~20 % of the proxy's CPU. Counting external memory in the global
 * heap limit instead (a V8 GC-heuristic switch, read when limits are computed) measured 0.21-0.24 s of
 * proxy CPU per 200 MB consumed instead of 0.31-0.45 s, for ~60 MB more peak RSS (290 vs 225 MB).
 */
const V8_GC_FLAGS = '--external-memory-accounted-in-global-limit';

export class ProxyApp {
  readonly metrics = new ProxyMetrics({ collectProcessMetrics: true });
  readonly #config: KafscaleConfig;
  readonly #log: Logger;
  readonly #pool: UpstreamPool;
  readonly #view: ClusterView;
  readonly #upstreamSecurity: UpstreamSecurity;
  #certificates: TlsCertificates | null = null;
  #server: ProxyServer | null = null;
  #ops: OpsServer | null = null;
  #kafkaPorts: number[] = [];
  #opsPort = 0;
  #closing: Promise<void> | null = null;

  constructor(config: KafscaleConfig, log: Logger) {
    if (config.proxy.bootstrap.length === 0) {
      throw new KafscaleError('KSC_CONFIG_INVALID', 'kafscale proxy needs brokers to ask: set KAFSCALE_PROXY_BOOTSTRAP (--proxy-bootstrap) to a comma-separated host:port list');
    }
    this.#config = config;
    this.#log = log;
    setFlagsFromString(V8_GC_FLAGS);
    this.#upstreamSecurity = upstreamSecurity(config);
    this.#pool = new UpstreamPool({
      connectTimeoutMs: CONNECT_TIMEOUT_MS, maxIdleExclusive: MAX_IDLE_EXCLUSIVE, clientId: CLIENT_ID, requestTimeoutMs: REQUEST_TIMEOUT_MS, security: this.#upstreamSecurity,
    });
    this.#view = new ClusterView(
      this.#pool,
      { bootstrap: config.proxy.bootstrap, refreshIntervalMs: config.proxy.metadataRefreshMs, requestTimeoutMs: REQUEST_TIMEOUT_MS, clientId: CLIENT_ID },
      log.child({ component: 'cluster-view' }),
    );
    this.#view.onRefresh = (outcome) => this.metrics.metadataRefreshesTotal.inc({ outcome });
    this.metrics.setSources({ metadataAgeSeconds: () => this.#view.ageMs / 1000, upstreamConnections: () => this.#pool.openConnections });
  }

  /** The first listener's port (virtual broker 0). */
  get kafkaPort(): number {
    return this.#kafkaPorts[0] ?? 0;
  }

  /** Every listener's port, in virtual-broker order. */
  get kafkaPorts(): readonly number[] {
    return this.#kafkaPorts;
  }

  get opsPort(): number {
    return this.#opsPort;
  }

  async start(): Promise<void> {
    const config = this.#config;
    const listen = config.proxy.listen;
    // A listen port of 0 (tests) is only known once bound: the identity then advertises the bound ports.
    const virtualBrokers = config.proxy.virtualBrokers;
    const identity = new ProxyIdentity(config.proxy.advertised.host, virtualBrokers, config.proxy.advertised.port);
    const onRetry = (reason: string): void => this.metrics.retriesTotal.inc({ reason });
    const protocol = config.proxy.securityProtocol;
    const saslOn = protocol.startsWith('SASL');
    const link = new BrokerLink(this.#pool);
    const partitioned = new PartitionedForwarder(this.#view, link, identity, { requestTimeoutMs: REQUEST_TIMEOUT_MS, onRetry });
    const router = new ProxyRouter(this.#view, this.#pool, link, partitioned, identity, { requestTimeoutMs: REQUEST_TIMEOUT_MS, clientId: CLIENT_ID, onRetry, sasl: saslOn });
    const certificates = this.#openCertificates();
    await this.#view.start();
    const tls = protocol.endsWith('SSL') && certificates !== null ? this.#clientTls(certificates) : undefined;
    const sasl = saslOn ? this.#clientSasl() : undefined;
    // Principals are forwarded whenever either side is secured: a proxy logged in to brokers as itself must
    // never lend its own rights to the clients behind it (plaintext clients then act as User:ANONYMOUS).
    const forwardPrincipal = protocol !== 'PLAINTEXT' || config.proxy.upstream.securityProtocol !== 'PLAINTEXT';
    this.#server = new ProxyServer(
      router,
      {
        host: listen.host, ports: Array.from({ length: virtualBrokers }, (_, i) => (listen.port === 0 ? 0 : listen.port + i)),
        maxFrameBytes: config.socket.requestMaxBytes, maxInflightPerConnection: MAX_INFLIGHT_PER_CONNECTION, readAheadMaxBytes: READ_AHEAD_MAX_BYTES,
        forwardPrincipal, ...(tls === undefined ? {} : { tls }), ...(sasl === undefined ? {} : { sasl }),
      },
      this.#log.child({ component: 'proxy-server' }),
      this.metrics,
    );
    this.#kafkaPorts = await this.#server.start();
    identity.listening(this.#kafkaPorts);
    const freshnessMs = Math.max(3 * config.proxy.metadataRefreshMs, 15_000);
    this.#ops = new OpsServer({
      host: config.ops.listen.host,
      port: config.ops.listen.port,
      registry: this.metrics.registry,
      readiness: {
        metadata: async () => {
          if (this.#closing !== null) return 'shutting down';
          const age = this.#view.ageMs;
          return age <= freshnessMs ? null : `no fresh metadata from any broker (last ${Number.isFinite(age) ? `${Math.round(age)} ms ago` : 'never'})`;
        },
      },
      log: this.#log.child({ component: 'ops' }),
      ...(config.ops.tls && certificates !== null ? { tls: certificates } : {}),
      ...(config.ops.tokenFile === null ? {} : { token: readOpsToken(config.ops.tokenFile) }),
    });
    this.#opsPort = await this.#ops.start();
    this.#log.info(
      {
        listen: this.#kafkaPorts.map((port) => `${listen.host}:${port}`), securityProtocol: protocol, upstreamSecurityProtocol: config.proxy.upstream.securityProtocol, forwardPrincipal,
        advertised: identity.brokers().map((b) => `${b.host}:${b.port}`), ops: `${config.ops.listen.host}:${this.#opsPort}`, bootstrap: config.proxy.bootstrap.map((b) => `${b.host}:${b.port}`),
      },
      'kafscale proxy started',
    );
  }

  /** The proxy's certificate (KAFSCALE_TLS_*), watched for changes; null without one. */
  #openCertificates(): TlsCertificates | null {
    const tls = this.#config.tls;
    if (tls === null) return null;
    const certificates = new TlsCertificates({ certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile }, this.#log.child({ component: 'tls' }), tls.reloadIntervalMs);
    certificates.start();
    this.#certificates = certificates;
    return certificates;
  }

  #clientTls(certificates: TlsCertificates): ProxyTls {
    const tls = this.#config.tls;
    const mapper = new CertificatePrincipalMapper(tls?.principalMappingRules ?? 'DEFAULT');
    return {
      get options() {
        return certificates.options;
      },
      onReload: (listener) => certificates.onReload(listener),
      clientAuth: tls?.clientAuth ?? 'none',
      principalOf: (der) => mapper.principalOf(der),
    };
  }

  /** Client logins are relayed to a broker over a fresh connection that does not log in as the proxy. */
  #clientSasl(): ProxySasl {
    const options = { connectTimeoutMs: CONNECT_TIMEOUT_MS, security: this.#upstreamSecurity };
    return {
      mechanisms: this.#config.sasl.mechanisms,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      openRelay: () => {
        const broker = this.#view.anyBroker();
        return UpstreamConnection.open(broker.host, broker.port, options, false);
      },
    };
  }

  /** Drains client requests (bounded), then closes the listener, the broker connections and the ops listener. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#server?.close(DRAIN_MS);
      this.#view.close();
      this.#pool.close();
      await this.#certificates?.close();
      await this.#ops?.close();
    })();
    return this.#closing;
  }
}

/** TLS material and the proxy's own login for its broker connections (KAFSCALE_PROXY_UPSTREAM_*). */
function upstreamSecurity(config: KafscaleConfig): UpstreamSecurity {
  const upstream = config.proxy.upstream;
  const read = (file: string | null, setting: string): Buffer | undefined => {
    if (file === null) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new KafscaleError('KSC_CONFIG_INVALID', `cannot read ${setting} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
  };
  const tls = upstream.tls === null
    ? null
    : {
        ...optional('ca', read(upstream.tls.caFile, 'KAFSCALE_PROXY_UPSTREAM_TLS_CA_FILE')),
        ...optional('cert', read(upstream.tls.certFile, 'KAFSCALE_PROXY_UPSTREAM_TLS_CERT_FILE')),
        ...optional('key', read(upstream.tls.keyFile, 'KAFSCALE_PROXY_UPSTREAM_TLS_KEY_FILE')),
      };
  if (upstream.sasl === null) return { tls, sasl: null };
  const password = (read(upstream.sasl.passwordFile, 'KAFSCALE_PROXY_UPSTREAM_SASL_PASSWORD_FILE')?.toString('utf8').split('\n')[0] ?? '').trimEnd();
  if (password === '') throw new KafscaleError('KSC_CONFIG_INVALID', `KAFSCALE_PROXY_UPSTREAM_SASL_PASSWORD_FILE ${upstream.sasl.passwordFile} holds no password on its first line`);
  return { tls, sasl: { mechanism: upstream.sasl.mechanism, username: upstream.sasl.username, password } };
}

function optional<K extends string>(key: K, value: Buffer | undefined): Partial<Record<K, Buffer>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, Buffer>);
}
