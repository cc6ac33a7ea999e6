/**
 * One long-lived connection from the proxy to one broker. Requests pipeline (many in flight); each gets
 * a correlation id of this connection, written into the frame, and the answer is matched back by it, so
 * clients' correlation ids never reach a broker and never collide. A client's request frame can be
 * forwarded as it is (`forward`: only the 4 correlation-id bytes are patched, record batches are never
 * copied), or a request the proxy built is encoded (`request`).
 *
 * Failures are typed for the retry decisions of the router (docs/design/proxy.md, "Retries"):
 * `UpstreamFailure.written` tells whether the broker may have seen the request — a connect failure is
 * always safe to retry, a connection that died after the write is ambiguous.
 */
import { connect, type Socket } from 'node:net';
import { decodeResponse, encodeRequest, type Encodable, type RequestByKey, type ResponseByKey } from '../protocol/codec/index.ts';
import { sizePrefix } from '../protocol/frame.ts';
import { KafscaleError } from '../telemetry/kafscale-error.ts';
import { FrameReader } from './frame-reader.ts';

/** An API the codec can both encode the request and decode the response of. */
export type ProxyApiKey = keyof RequestByKey & keyof ResponseByKey;

/** Fetch answers carry record data; 256 MiB is a sanity cap far above any sane fetch.max.bytes. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
/** Byte offset of the correlation id in a request frame (after int16 apiKey, int16 apiVersion). */
const REQUEST_CORRELATION_OFFSET = 4;

export class UpstreamFailure extends KafscaleError {
  /** True when the request was (or may have been) written to the broker before the failure. */
  readonly written: boolean;
  readonly address: string;

  constructor(address: string, message: string, written: boolean, cause?: unknown) {
    super('KSC_PROXY_UPSTREAM_FAILED', `broker ${address}: ${message}`, { retriable: true, ...(cause === undefined ? {} : { cause }) });
    this.written = written;
    this.address = address;
  }
}

export function isUpstreamFailure(error: unknown): error is UpstreamFailure {
  return error instanceof UpstreamFailure;
}

class PendingRequest {
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;

  constructor(resolve: (frame: Buffer) => void, reject: (error: Error) => void, timer: NodeJS.Timeout) {
    this.resolve = resolve;
    this.reject = reject;
    this.timer = timer;
  }
}

export interface UpstreamConnectionOptions {
  readonly connectTimeoutMs: number;
}

export class UpstreamConnection {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly #socket: Socket;
  readonly #pending = new Map<number, PendingRequest>();
  #nextCorrelationId = 1;
  #closedError: UpstreamFailure | null = null;
  /** Called once when the connection ends, for the pool to forget it. */
  onClose: (() => void) | null = null;

  private constructor(socket: Socket, host: string, port: number) {
    this.#socket = socket;
    this.host = host;
    this.port = port;
    this.address = `${host}:${port}`;
    socket.on('error', (error) => this.#fail(new UpstreamFailure(this.address, `connection failed: ${error.message}`, true, error)));
    socket.on('close', () => this.#fail(new UpstreamFailure(this.address, 'the broker closed the connection', true)));
  }

  static async open(host: string, port: number, options: UpstreamConnectionOptions): Promise<UpstreamConnection> {
    const address = `${host}:${port}`;
    // Responses are read into their own buffers (frame-reader.ts); the connection exists before any answer can.
    let connection: UpstreamConnection | null = null;
    const reader = new FrameReader(MAX_RESPONSE_BYTES, (frame) => {
      if (connection !== null) connection.#onFrame(frame);
    });
    // Returning false would pause the socket; a malformed stream is destroyed instead.
    const onRead = (bytes: number): boolean => {
      try {
        reader.filled(bytes);
      } catch (error) {
        if (connection !== null) connection.#malformed(error);
        else socket.destroy();
      }
      return true;
    };
    const socket = connect({ host, port, onread: { buffer: () => reader.target(), callback: onRead } });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new UpstreamFailure(address, `no connection within ${options.connectTimeoutMs} ms`, false));
      }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new UpstreamFailure(address, `cannot connect (${error.code ?? error.message})`, false, error));
      });
    });
    connection = new UpstreamConnection(socket, host, port);
    return connection;
  }

  get closed(): boolean {
    return this.#closedError !== null;
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Forwards a client's request frame (no size prefix). Its correlation id is overwritten in place;
   * resolves with the response frame (no size prefix, this connection's correlation id in front).
   * `expectResponse` false (Produce acks=0): written and resolved at once with null.
   */
  forward(frame: Buffer, timeoutMs: number, expectResponse = true): Promise<Buffer | null> {
    if (this.#closedError !== null) return Promise.reject(this.#notWritten());
    const correlationId = this.#takeCorrelationId();
    frame.writeInt32BE(correlationId, REQUEST_CORRELATION_OFFSET);
    return this.#send([frame], correlationId, timeoutMs, expectResponse);
  }

  /** Encodes and sends a request the proxy built; resolves with the decoded body. */
  async request<K extends ProxyApiKey>(
    apiKey: K,
    version: number,
    clientId: string | null,
    body: Partial<Encodable<RequestByKey[K]>>,
    timeoutMs: number,
  ): Promise<ResponseByKey[K]> {
    const frame = await this.requestFrame(apiKey, version, clientId, body, timeoutMs);
    return decodeResponse(apiKey, version, frame).body;
  }

  /** Like request(), but resolves with the raw response frame (so the caller may pass it on unchanged). */
  requestFrame<K extends ProxyApiKey>(
    apiKey: K,
    version: number,
    clientId: string | null,
    body: Partial<Encodable<RequestByKey[K]>>,
    timeoutMs: number,
  ): Promise<Buffer> {
    if (this.#closedError !== null) return Promise.reject(this.#notWritten());
    const correlationId = this.#takeCorrelationId();
    const chunks = encodeRequest(apiKey, version, correlationId, clientId, body);
    return this.#send(chunks, correlationId, timeoutMs, true) as Promise<Buffer>;
  }

  /** Sends an encoded request that gets no response (Produce acks=0). */
  sendOneWay<K extends ProxyApiKey>(apiKey: K, version: number, clientId: string | null, body: Partial<Encodable<RequestByKey[K]>>): void {
    if (this.#closedError !== null) throw this.#notWritten();
    const correlationId = this.#takeCorrelationId();
    this.#write(encodeRequest(apiKey, version, correlationId, clientId, body));
  }

  close(): void {
    this.#fail(new UpstreamFailure(this.address, 'the proxy closed the connection', true));
    this.#socket.destroy();
  }

  #takeCorrelationId(): number {
    const id = this.#nextCorrelationId;
    this.#nextCorrelationId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  #notWritten(): UpstreamFailure {
    return new UpstreamFailure(this.address, `connection already closed (${this.#closedError?.message ?? 'closed'})`, false);
  }

  #send(chunks: readonly Buffer[], correlationId: number, timeoutMs: number, expectResponse: boolean): Promise<Buffer | null> {
    if (!expectResponse) {
      this.#write(chunks);
      return Promise.resolve(null);
    }
    return new Promise<Buffer | null>((resolve, reject) => {
      const timer = setTimeout(() => this.#timeout(correlationId, timeoutMs), timeoutMs);
      this.#pending.set(correlationId, new PendingRequest(resolve, reject, timer));
      this.#write(chunks);
    });
  }

  /**
   * A broker that does not answer within the timeout is treated as dead: answers on one connection come
   * in request order, so one lost answer would hold every later one. The connection is dropped.
   */
  #timeout(correlationId: number, timeoutMs: number): void {
    if (!this.#pending.has(correlationId)) return;
    this.#fail(new UpstreamFailure(this.address, `no answer within ${timeoutMs} ms; connection dropped`, true));
    this.#socket.destroy();
  }

  #write(chunks: readonly Buffer[]): void {
    const socket = this.#socket;
    socket.cork();
    socket.write(sizePrefix(chunks));
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  }

  #onFrame(frame: Buffer): void {
    if (frame.length < 4) {
      this.#malformed(new Error(`a ${frame.length}-byte response frame has no correlation id`));
      return;
    }
    const correlationId = frame.readInt32BE(0);
    const pending = this.#pending.get(correlationId);
    if (pending === undefined) return;
    this.#pending.delete(correlationId);
    clearTimeout(pending.timer);
    pending.resolve(frame);
  }

  #malformed(error: unknown): void {
    this.#fail(new UpstreamFailure(this.address, `malformed response: ${(error as Error).message}`, true, error));
    this.#socket.destroy();
  }

  #fail(error: UpstreamFailure): void {
    if (this.#closedError === null) {
      this.#closedError = error;
      const onClose = this.onClose;
      this.onClose = null;
      onClose?.();
    }
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.#closedError);
    }
    this.#pending.clear();
  }
}
