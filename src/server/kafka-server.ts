/**
 * The Kafka TCP listener. Owns the listening socket and the set of live connections; everything per
 * connection (framing, ordering, backpressure, idle timeout) lives in KafkaConnection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { RequestDispatcher } from '../broker/dispatch.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import { KafscaleMetrics } from '../telemetry/metrics.ts';
import { ConnectionLimiter, type ConnectionRefusal } from './connection-limiter.ts';
import { RequestBudget } from './request-budget.ts';
import type { CertificatePrincipalMapper } from './certificate-principal.ts';
import { adoptDirectReads } from './direct-reads.ts';
import { KafkaConnection } from './kafka-connection.ts';
import type { TlsCertificates } from './tls-certificates.ts';

/** Kafka's security protocols (listener.security.protocol.map values). */
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export interface ListenerTlsOptions {
  readonly certificates: TlsCertificates;
  /** none: no client certificate; requested: verified when sent; required: no connection without one. */
  readonly clientAuth: 'none' | 'requested' | 'required';
  /** SSL listeners: maps a verified client certificate to the connection's principal. */
  readonly principalMapper: CertificatePrincipalMapper | null;
}

export interface KafkaServerOptions {
  readonly dispatcher: RequestDispatcher;
  readonly host: string;
  /** 0: a port chosen by the OS; start() reports it. */
  readonly port: number;
  /** socket.request.max.bytes: larger frames close the connection before they are buffered. */
  readonly maxFrameBytes: number;
  /** Requests dispatched and not yet answered per connection before the connection stops reading. */
  readonly maxInflightPerConnection: number;
  /** connections.max.idle.ms: a connection with no request for this long (and none pending) is closed. */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  /** queued.max.request.bytes: request bytes held in memory broker-wide before connections stop reading. Default: unbounded. */
  readonly queuedMaxRequestBytes?: number;
  /** max.connections: connections beyond this are closed on accept. Default: unbounded. */
  readonly maxConnections?: number;
  /** max.connections.per.ip: connections from one address beyond this are closed on accept. Default: unbounded. */
  readonly maxConnectionsPerIp?: number;
  /**
   * The broker-wide request budget and connection limits, shared by every listener of the broker (then
   * queuedMaxRequestBytes / maxConnections / maxConnectionsPerIp are ignored). Default: this server's own.
   */
  readonly shared?: { readonly budget: RequestBudget | null; readonly limiter: ConnectionLimiter };
  /** Default: a private registry (nothing exported). */
  readonly metrics?: KafscaleMetrics;
  /** Listener name (connections report it; Metadata answers with this listener's addresses). Default PLAINTEXT. */
  readonly listenerName?: string;
  /** TLS for SSL and SASL_SSL listeners; absent: plain TCP. */
  readonly tls?: ListenerTlsOptions;
  /** SASL mechanisms for SASL_PLAINTEXT and SASL_SSL listeners; absent: no SASL, connections start authenticated as their principal. */
  readonly saslMechanisms?: readonly string[];
}

/** How long a TLS handshake may take before the connection is dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface KafkaServerStats {
  readonly connections: number;
  readonly inFlightRequests: number;
  /** Connections that have stopped reading (in-flight limit, slow reader, or draining). */
  readonly pausedConnections: number;
  /** Response bytes accepted by sockets but not yet handed to the kernel, over all connections. */
  readonly writeBufferedBytes: number;
  /** Request bytes charged to queued.max.request.bytes now (0 when unbounded). */
  readonly queuedRequestBytes: number;
  /** Connections waiting for request budget. */
  readonly budgetWaiting: number;
}

/** A refused connection is logged at most this often (with the count since), so a flood cannot flood the log. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

const DEFAULT_DRAIN_MS = 5_000;
const ANONYMOUS = 'User:ANONYMOUS';

export class KafkaServer {
  readonly #options: KafkaServerOptions;
  readonly #metrics: KafscaleMetrics;
  readonly #log: Logger;
  readonly #connections: Set<KafkaConnection>;
  readonly #budget: RequestBudget | null;
  readonly #limiter: ConnectionLimiter;
  #refusalsUnlogged: number;
  #refusalLoggedMs: number;
  readonly #server: Server | TlsServer;
  readonly #stopReload: () => void;
  #nextConnectionId: number;
  #port: number;
  #started: Promise<number> | null;
  #closing: Promise<void> | null;

  constructor(options: KafkaServerOptions) {
    for (const [name, value, min] of [
      ['maxFrameBytes', options.maxFrameBytes, 0],
      ['maxInflightPerConnection', options.maxInflightPerConnection, 1],
      ['idleTimeoutMs', options.idleTimeoutMs, 1],
      ['port', options.port, 0],
      ['queuedMaxRequestBytes', options.queuedMaxRequestBytes ?? 1, 1],
      ['maxConnections', options.maxConnections ?? 1, 1],
      ['maxConnectionsPerIp', options.maxConnectionsPerIp ?? 1, 1],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`KafkaServer: ${name} must be an integer >= ${min}, got ${value}`);
    }
    this.#options = options;
    this.#metrics = options.metrics ?? new KafscaleMetrics();
    this.#log = options.logger;
    this.#connections = new Set();
    const shared = options.shared ?? KafkaServer.sharedLimits(options);
    this.#budget = shared.budget;
    this.#limiter = shared.limiter;
    this.#refusalsUnlogged = 0;
    this.#refusalLoggedMs = -Infinity;
    // allowHalfOpen: a client that half-closes after its last request still gets the responses.
    const tls = options.tls;
    if (tls === undefined) {
      // pauseOnConnect: a socket that has read nothing can be moved to reads into a shared buffer (direct-reads.ts).
      this.#server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, this.#onConnection);
      this.#stopReload = () => {};
    } else {
      const server = createTlsServer({
        ...tls.certificates.options,
        allowHalfOpen: true,
        noDelay: true,
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        requestCert: tls.clientAuth !== 'none',
        rejectUnauthorized: tls.clientAuth === 'required',
      }, this.#onConnection);
      server.on('tlsClientError', (error, socket) => {
        this.#metrics.tlsHandshakeFailuresTotal.inc();
        this.#log.debug({ err: error, remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }, 'TLS handshake failed');
      });
      this.#server = server;
      // Rotated certificates: new connections get them, open ones keep their session.
      this.#stopReload = tls.certificates.onReload((secureOptions) => server.setSecureContext(secureOptions));
    }
    this.#nextConnectionId = 1;
    this.#port = 0;
    this.#started = null;
    this.#closing = null;
  }

  /** One budget and limiter for several listeners of one broker (KafkaServerOptions.shared). */
  static sharedLimits(limits: { readonly queuedMaxRequestBytes?: number; readonly maxConnections?: number; readonly maxConnectionsPerIp?: number }): {
    readonly budget: RequestBudget | null;
    readonly limiter: ConnectionLimiter;
  } {
    return {
      budget: limits.queuedMaxRequestBytes === undefined ? null : new RequestBudget(limits.queuedMaxRequestBytes),
      limiter: new ConnectionLimiter(limits.maxConnections ?? Number.MAX_SAFE_INTEGER, limits.maxConnectionsPerIp ?? Number.MAX_SAFE_INTEGER),
    };
  }

  get listenerName(): string {
    return this.#options.listenerName ?? 'PLAINTEXT';
  }

  /** The bound port (after start()). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening; resolves with the bound port. */
  start(): Promise<number> {
    this.#started ??= new Promise<number>((resolve, reject) => {
      const { host, port } = this.#options;
      const onError = (error: Error): void => {
        reject(
          new KafscaleError('KSC_LISTEN_FAILED', `Cannot listen for Kafka clients on ${host}:${port} (listener ${this.listenerName}): ${error.message}; set KAFSCALE_BROKER_ADDR or KAFSCALE_LISTENERS to a free address`, { cause: error }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (error) => this.#log.error({ err: error }, 'Kafka listener error'));
        const address = this.#server.address();
        this.#port = typeof address === 'object' && address !== null ? address.port : port;
        this.#log.info({ host, port: this.#port, listener: this.listenerName, tls: this.#options.tls !== undefined, sasl: this.#options.saslMechanisms ?? null }, 'Kafka listener started');
        resolve(this.#port);
      });
    });
    return this.#started;
  }

  stats(): KafkaServerStats {
    let inFlightRequests = 0;
    let pausedConnections = 0;
    let writeBufferedBytes = 0;
    for (const connection of this.#connections) {
      inFlightRequests += connection.inFlight;
      if (connection.paused) pausedConnections++;
      writeBufferedBytes += connection.writeBufferedBytes;
    }
    return {
      connections: this.#connections.size,
      inFlightRequests,
      pausedConnections,
      writeBufferedBytes,
      queuedRequestBytes: this.#budget?.usedBytes ?? 0,
      budgetWaiting: this.#budget?.waiting ?? 0,
    };
  }

  /**
   * Graceful and idempotent: stop accepting, stop reading, let in-flight requests finish and their
   * responses flush for up to `drainMs`, then destroy what is left.
   */
  close(options: { drainMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.drainMs ?? DEFAULT_DRAIN_MS);
    return this.#closing;
  }

  async #close(drainMs: number): Promise<void> {
    this.#stopReload();
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    const connections = [...this.#connections];
    for (const connection of connections) connection.drain();
    const allClosed = Promise.all(connections.map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), drainMs);
    });
    const expired = await Promise.race([allClosed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (expired) {
      this.#log.warn({ drainMs, connections: this.#connections.size }, 'connections did not drain in time; closing them');
      for (const connection of this.#connections) connection.destroy('shutdown');
    }
    await allClosed;
    await listenerClosed;
    this.#log.info('Kafka listener stopped');
  }

  readonly #onConnection = (socket: Socket): void => {
    if (this.#closing !== null) {
      socket.destroy();
      return;
    }
    const ip = socket.remoteAddress ?? 'unknown';
    const refusal = this.#limiter.open(ip);
    if (refusal !== null) {
      this.#refuse(socket, ip, refusal);
      return;
    }
    // Plain TCP only (a TLS socket's bytes come from its TLS layer); falls back to 'data' events.
    const directReads = this.#options.tls === undefined ? adoptDirectReads(socket, true) : null;
    const connection = new KafkaConnection({
      id: this.#nextConnectionId++,
      socket: directReads?.socket ?? socket,
      ...(directReads === null ? {} : { directReads }),
      listenerName: this.listenerName,
      principal: this.#certificatePrincipal(socket),
      saslMechanisms: this.#options.saslMechanisms ?? null,
      dispatcher: this.#options.dispatcher,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInflight: this.#options.maxInflightPerConnection,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      log: this.#log,
      metrics: this.#metrics,
      ...(this.#budget === null ? {} : { budget: this.#budget }),
    });
    // Listeners attached: start reading (the plain listener's sockets arrive paused).
    if (this.#options.tls === undefined) (directReads?.socket ?? socket).resume();
    this.#connections.add(connection);
    this.#metrics.connectionsAcceptedTotal.inc();
    this.#metrics.connectionsActive.inc();
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      this.#limiter.close(ip);
    });
  };

  #refuse(socket: Socket, ip: string, refusal: ConnectionRefusal): void {
    socket.on('error', () => {});
    socket.destroy();
    this.#metrics.connectionsRejectedTotal.inc({ reason: refusal });
    this.#refusalsUnlogged++;
    const nowMs = performance.now();
    if (nowMs - this.#refusalLoggedMs < REFUSAL_LOG_INTERVAL_MS) return;
    const limit = refusal === 'max_connections' ? `max.connections (KAFSCALE_MAX_CONNECTIONS = ${this.#limiter.maxConnections})` : `max.connections.per.ip (KAFSCALE_MAX_CONNECTIONS_PER_IP = ${this.#limiter.maxConnectionsPerIp})`;
    this.#log.warn({ remote: ip, limit: refusal, refused: this.#refusalsUnlogged, connections: this.#limiter.total }, `connection refused: ${limit} reached; raise the setting or reduce the clients' connections`);
    this.#refusalsUnlogged = 0;
    this.#refusalLoggedMs = nowMs;
  }

  /** SSL listeners with client authentication: the verified certificate's mapped principal. */
  #certificatePrincipal(socket: Socket): string {
    const tls = this.#options.tls;
    if (tls === undefined || tls.principalMapper === null || this.#options.saslMechanisms !== undefined) return ANONYMOUS;
    const tlsSocket = socket as TLSSocket;
    if (!tlsSocket.authorized) return ANONYMOUS;
    const certificate = tlsSocket.getPeerCertificate();
    if (certificate.raw === undefined) return ANONYMOUS;
    try {
      return tls.principalMapper.principalOf(certificate.raw) ?? ANONYMOUS;
    } catch (error) {
      this.#log.warn({ err: error }, 'cannot read the client certificate subject; the connection stays anonymous');
      return ANONYMOUS;
    }
  }
}
