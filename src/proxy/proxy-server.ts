/**
 * The proxy's Kafka listener. Per client connection: frames are read (size checked before buffering),
 * each request is handed to the router as it arrives (requests pipeline, up to a bound per connection,
 * beyond which the proxy stops reading), and responses are written in request order, as Kafka requires.
 * A request the router cannot answer closes the connection — what clients see when a broker dies, and
 * retry.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeRequestHeader } from '../protocol/codec/index.ts';
import { FrameDecoder, sizePrefix } from '../protocol/frame.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import type { ClientRequest } from './broker-link.ts';
import { FetchReadAhead, ReadAheadBudget } from './fetch-read-ahead.ts';
import type { ProxyRouter } from './proxy-router.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';

export interface ProxyServerOptions {
  readonly host: string;
  /** One listener per port (the virtual brokers, proxy-identity.ts); every listener serves the same. */
  readonly ports: readonly number[];
  readonly maxFrameBytes: number;
  readonly maxInflightPerConnection: number;
  /** Bound on record bytes fetched ahead of clients (all connections together), see fetch-read-ahead.ts. */
  readonly readAheadMaxBytes: number;
}

/** One response slot, in request order; `chunks` null with `done` = no response due (acks=0). */
class Slot {
  done = false;
  chunks: Buffer[] | null = null;
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
  #inFlight = 0;
  #paused = false;
  #draining = false;
  #closed = false;
  readonly closed: Promise<void>;
  #idle: (() => void) | null = null;

  constructor(socket: Socket, router: ProxyRouter, options: ProxyServerOptions, log: Logger, metrics: ProxyMetrics, budget: ReadAheadBudget) {
    this.#socket = socket;
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
    this.#idle?.();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk);
      for (let frame = this.#decoder.next(); frame !== null; frame = this.#decoder.next()) this.#request(frame);
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
    if ((header.bodyOffset < 0 && header.apiKey !== ApiKey.ApiVersions) || !this.#router.routes(header.apiKey)) {
      throw new KafscaleError('KSC_PROTOCOL_UNSUPPORTED_VERSION', `the proxy does not serve apiKey ${header.apiKey} v${header.apiVersion}`);
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
    };
    const slot = new Slot();
    this.#slots.push(slot);
    this.#inFlight++;
    const startedAt = performance.now();
    this.#router.handle(request).then(
      (chunks) => {
        this.#metrics.observeRequest(request.apiKey, (performance.now() - startedAt) / 1000);
        slot.chunks = chunks;
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
      while (head?.done === true) {
        this.#slots.shift();
        if (head.chunks !== null) {
          socket.write(sizePrefix(head.chunks));
          for (const chunk of head.chunks) socket.write(chunk);
        }
        head = this.#slots[0];
      }
      socket.uncork();
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
  #closing: Promise<void> | null = null;

  constructor(router: ProxyRouter, options: ProxyServerOptions, log: Logger, metrics: ProxyMetrics) {
    this.#router = router;
    this.#options = options;
    this.#log = log;
    this.#metrics = metrics;
    this.#servers = options.ports.map(() => createServer((socket) => this.#accept(socket)));
    this.#readAheadBudget = new ReadAheadBudget(options.readAheadMaxBytes);
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
