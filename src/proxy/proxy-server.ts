/**
 * The proxy's Kafka listener. Per client connection: frames are read (size checked before buffering),
 * each request is handed to the router as it arrives (requests pipeline, up to a bound per connection,
 * beyond which the proxy stops reading), and responses are written in request order, as Kafka requires.
 * A request the router cannot answer closes the connection — what clients see when a broker dies, and
 * retry.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeRequestHeader } from '../protocol/codec/index.ts';
import { FrameDecoder, SASL_MAX_RECEIVE_BYTES, sizePrefix } from '../protocol/frame.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import type { ClientRequest } from './broker-link.ts';
import { FetchReadAhead, ReadAheadBudget } from './fetch-read-ahead.ts';
import type { ProxyRouter } from './proxy-router.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';
import { SaslSession, type RelayOpener } from './sasl-relay.ts';

/** Kafka's principal of a connection that has not authenticated. */
const ANONYMOUS = 'User:ANONYMOUS';
/** How long a TLS handshake may take before the connection is dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** TLS on the proxy's client listener (SSL, SASL_SSL); the app builds it from the broker's TLS settings. */
export interface ProxyTls {
  /** Current certificate, key and CA bundle (TLS 1.2 minimum). */
  readonly options: SecureContextOptions;
  /** Calls `listener` with new options after the files changed (certificates reloaded without a restart). */
  onReload(listener: (options: SecureContextOptions) => void): () => void;
  readonly clientAuth: 'none' | 'requested' | 'required';
  /** SSL listeners: the principal of a verified client certificate (DER), or null (User:ANONYMOUS). */
  principalOf(certificateDer: Buffer): string | null;
}

/** SASL on the proxy's client listener (SASL_PLAINTEXT, SASL_SSL): exchanges relayed to brokers (sasl-relay.ts). */
export interface ProxySasl {
  readonly mechanisms: readonly string[];
  readonly openRelay: RelayOpener;
  readonly requestTimeoutMs: number;
}

export interface ProxyServerOptions {
  readonly host: string;
  /** One listener per port (the virtual brokers, proxy-identity.ts); every listener serves the same. */
  readonly ports: readonly number[];
  readonly maxFrameBytes: number;
  readonly maxInflightPerConnection: number;
  /** Bound on record bytes fetched ahead of clients (all connections together), see fetch-read-ahead.ts. */
  readonly readAheadMaxBytes: number;
  readonly tls?: ProxyTls;
  readonly sasl?: ProxySasl;
  /** Send every request to brokers in an Envelope naming the client's principal (docs/design/proxy.md, "Security"). */
  readonly forwardPrincipal?: boolean;
}

/** One response slot, in request order; `chunks` null with `done` = no response due (acks=0). */
class Slot {
  done = false;
  chunks: Buffer[] | null = null;
  /** This answer is the connection's last (failed SASL step): close once it is written. */
  closeAfter = false;
}

class ClientConnection {
  readonly #socket: Socket;
  readonly #router: ProxyRouter;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #decoder: FrameDecoder;
  readonly #maxInflight: number;
  readonly #slots: Slot[] = [];
  readonly #readAhead: FetchReadAhead;
  readonly #produceOrder = new ProduceOrder();
  /** Who the client is without SASL: User:ANONYMOUS or its mapped TLS client certificate. */
  readonly #basePrincipal: string;
  readonly #sasl: SaslSession | null;
  readonly #forwardPrincipal: boolean;
  readonly #clientHost: string;
  #inFlight = 0;
  #paused = false;
  #draining = false;
  #closed = false;
  readonly closed: Promise<void>;
  #idle: (() => void) | null = null;

  constructor(socket: Socket, router: ProxyRouter, options: ProxyServerOptions, log: Logger, metrics: ProxyMetrics, budget: ReadAheadBudget) {
    this.#socket = socket;
    this.#basePrincipal = certificatePrincipal(socket, options);
    this.#sasl = options.sasl === undefined ? null : new SaslSession(options.sasl.mechanisms, options.sasl.openRelay, options.sasl.requestTimeoutMs, log);
    this.#forwardPrincipal = options.forwardPrincipal === true;
    this.#clientHost = socket.remoteAddress ?? '0.0.0.0';
    this.#router = router;
    this.#log = log;
    this.#metrics = metrics;
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#maxInflight = options.maxInflightPerConnection;
    this.#readAhead = new FetchReadAhead(budget);
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close('error'));
    socket.on('end', () => this.close('client'));
  }

  /** Resolves when no request is in flight (for draining). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#metrics.connectionsActive.dec();
    this.#metrics.connectionsClosedTotal.inc({ reason });
    this.#socket.destroy();
    this.#readAhead.clear();
    this.#sasl?.close();
    this.#idle?.();
  }

  /** The client's principal now: the SASL user once logged in, else the certificate's or User:ANONYMOUS. */
  get principal(): string {
    return this.#sasl?.principal ?? this.#basePrincipal;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk);
      for (let frame = this.#decoder.next(); frame !== null; frame = this.#decoder.next()) {
        if (this.#closed) return;
        this.#request(frame);
      }
      if (this.#sasl?.unauthenticated === true && (this.#decoder.pendingFrameBytes ?? 0) > SASL_MAX_RECEIVE_BYTES) {
        // Kafka's sasl.server.max.receive.size: an unauthenticated client cannot make the proxy buffer more.
        this.#log.info({ frameBytes: this.#decoder.pendingFrameBytes, limit: SASL_MAX_RECEIVE_BYTES }, 'frame larger than allowed before SASL authentication; closing the client connection');
        this.close('sasl');
        return;
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'unreadable request frame; closing the client connection');
      this.close('frame');
      return;
    }
    if (this.#inFlight >= this.#maxInflight && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #request(frame: Buffer): void {
    const header = decodeRequestHeader(frame);
    const sasl = this.#sasl;
    if (sasl !== null && (!sasl.allows(header.apiKey) || (sasl.unauthenticated && frame.length > SASL_MAX_RECEIVE_BYTES))) {
      this.#log.info({ apiKey: header.apiKey, principal: this.principal }, sasl.unauthenticated ? 'request before SASL authentication; closing the client connection' : 'request after the SASL session expired without re-authentication; closing the client connection');
      this.close('sasl');
      return;
    }
    const saslRequest = sasl !== null && (header.apiKey === ApiKey.SaslHandshake || header.apiKey === ApiKey.SaslAuthenticate);
    if ((header.bodyOffset < 0 && header.apiKey !== ApiKey.ApiVersions) || (!saslRequest && !this.#router.routes(header.apiKey))) {
      throw new KafscaleError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `the proxy does not serve apiKey ${header.apiKey} v${header.apiVersion}`);
    }
    if (saslRequest && header.apiKey === ApiKey.SaslHandshake && header.apiVersion < 1) {
      throw new KafscaleError('KSC_PROTOCOL_UNSUPPORTED_VERSION', 'the proxy relays SaslHandshake v1 only (v0 is followed by raw SASL tokens, which the proxy does not relay)');
    }
    const request: ClientRequest = {
      apiKey: header.apiKey,
      apiVersion: header.apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      frame,
      bodyOffset: header.bodyOffset,
      readAhead: this.#readAhead,
      produceOrder: this.#produceOrder,
      ...(this.#forwardPrincipal ? { sender: { principal: this.principal, clientHost: this.#clientHost } } : {}),
    };
    const slot = new Slot();
    this.#slots.push(slot);
    this.#inFlight++;
    const startedAt = performance.now();
    const answered = saslRequest ? sasl.handle(request) : this.#router.handle(request);
    answered.then(
      (chunks) => {
        this.#metrics.observeRequest(request.apiKey, (performance.now() - startedAt) / 1000);
        slot.chunks = chunks;
        slot.closeAfter = saslRequest && sasl.closeAfterResponse;
        slot.done = true;
        this.#finished();
      },
      (error: unknown) => {
        this.#metrics.requestFailuresTotal.inc({ api_key: String(request.apiKey) });
        this.#log.warn({ err: error, apiKey: request.apiKey, apiVersion: request.apiVersion, clientId: request.clientId }, 'request failed; closing the client connection');
        this.#inFlight--;
        this.close('error');
      },
    );
  }

  #finished(): void {
    this.#inFlight--;
    if (this.#closed) return;
    const socket = this.#socket;
    let head = this.#slots[0];
    if (head?.done === true) {
      socket.cork();
      let last = false;
      while (head?.done === true && !last) {
        this.#slots.shift();
        if (head.chunks !== null) {
          socket.write(sizePrefix(head.chunks));
          for (const chunk of head.chunks) socket.write(chunk);
        }
        last = head.closeAfter;
        head = this.#slots[0];
      }
      socket.uncork();
      if (last) {
        // A failed SASL step: the answer goes out, then the connection ends (Kafka's behaviour).
        this.#closed = true;
        this.#metrics.connectionsActive.dec();
        this.#metrics.connectionsClosedTotal.inc({ reason: 'sasl' });
        this.#sasl?.close();
        this.#readAhead.clear();
        socket.end();
        socket.destroySoon();
        return;
      }
    }
    if (this.#inFlight === 0) {
      const idle = this.#idle;
      this.#idle = null;
      idle?.();
    }
    if (this.#paused && this.#inFlight < this.#maxInflight && !this.#draining) {
      this.#paused = false;
      socket.resume();
    }
  }

  /** Stops reading new requests for good (shutdown): answers to requests already read still go out. */
  markDraining(): void {
    this.#draining = true;
    this.#socket.pause();
    this.#paused = true;
  }
}

export class ProxyServer {
  readonly #router: ProxyRouter;
  readonly #options: ProxyServerOptions;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #servers: Server[];
  readonly #connections = new Set<ClientConnection>();
  readonly #readAheadBudget: ReadAheadBudget;
  readonly #stopReload: Array<() => void> = [];
  #closing: Promise<void> | null = null;

  constructor(router: ProxyRouter, options: ProxyServerOptions, log: Logger, metrics: ProxyMetrics) {
    this.#router = router;
    this.#options = options;
    this.#log = log;
    this.#metrics = metrics;
    this.#readAheadBudget = new ReadAheadBudget(options.readAheadMaxBytes);
    this.#servers = options.ports.map(() => this.#createServer());
  }

  /** One listener: plain TCP, or TLS with the current certificate (swapped in when the files change). */
  #createServer(): Server {
    const tls = this.#options.tls;
    if (tls === undefined) return createServer((socket) => this.#accept(socket));
    const server = createTlsServer({
      ...tls.options,
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      requestCert: tls.clientAuth !== 'none',
      rejectUnauthorized: tls.clientAuth === 'required',
    }, (socket) => this.#accept(socket));
    server.on('tlsClientError', (error) => this.#log.info({ err: error }, 'TLS handshake with a client failed'));
    const stop = tls.onReload((secureOptions) => server.setSecureContext(secureOptions));
    this.#stopReload.push(stop);
    return server;
  }

  /** Record bytes the Fetch read-ahead of every connection holds now. */
  get readAheadBytes(): number {
    return this.#readAheadBudget.usedBytes;
  }

  /** Listens on every port; resolves with the bound ports (a port of 0 binds a free one). */
  async start(): Promise<number[]> {
    const bound: number[] = [];
    for (const [index, server] of this.#servers.entries()) bound.push(await this.#listen(server, this.#options.ports[index] ?? 0));
    return bound;
  }

  async #listen(server: Server, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new KafscaleError('KSC_LISTEN_FAILED', `the proxy cannot listen on ${this.#options.host}:${port} (${error.code ?? error.message}); set KAFSCALE_PROXY_ADDR (and KAFSCALE_PROXY_VIRTUAL_BROKERS: the proxy listens on that many consecutive ports)`, { cause: error }));
      };
      server.once('error', onError);
      server.listen(port, this.#options.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Drains: stops accepting, stops reading new requests, waits (up to drainMs) for answers to the
   * requests already read, then closes every client connection.
   */
  close(drainMs: number): Promise<void> {
    this.#closing ??= (async () => {
      for (const stop of this.#stopReload) stop();
      const stopped = Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const connection of this.#connections) connection.markDraining();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.#connections].map((c) => c.idle())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs))),
      ]);
      clearTimeout(timer);
      for (const connection of this.#connections) connection.close('shutdown');
      await stopped;
    })();
    return this.#closing;
  }

  #accept(socket: Socket): void {
    if (this.#closing !== null) {
      socket.destroy();
      return;
    }
    const connection = new ClientConnection(socket, this.#router, this.#options, this.#log, this.#metrics, this.#readAheadBudget);
    this.#metrics.connectionsActive.inc();
    this.#connections.add(connection);
    void connection.closed.then(() => {
      connection.close('client');
      this.#connections.delete(connection);
    });
  }
}

/** SSL listeners with client authentication (no SASL): the verified certificate's mapped principal. */
function certificatePrincipal(socket: Socket, options: ProxyServerOptions): string {
  const tls = options.tls;
  if (tls === undefined || options.sasl !== undefined || tls.clientAuth === 'none') return ANONYMOUS;
  const tlsSocket = socket as TLSSocket;
  if (!tlsSocket.authorized) return ANONYMOUS;
  const certificate = tlsSocket.getPeerCertificate();
  return certificate.raw === undefined ? ANONYMOUS : (tls.principalOf(certificate.raw) ?? ANONYMOUS);
}
