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
import { once } from 'node:events';
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { ApiKey } from '../protocol/api-keys.ts';
import { decodeResponse, encodeRequest, type Encodable, type RequestByKey, type ResponseByKey } from '../protocol/codec/index.ts';
import { unwrapResponse, wrapRequest, type EnvelopeSender } from '../protocol/envelope.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { sizePrefix } from '../protocol/frame.ts';
import { SaslClientExchange, type SaslCredentials } from '../protocol/sasl-client.ts';
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
  /** The request went in an Envelope: the answer is unwrapped before it is resolved. */
  readonly enveloped: boolean;

  constructor(resolve: (frame: Buffer) => void, reject: (error: Error) => void, timer: NodeJS.Timeout, enveloped: boolean) {
    this.resolve = resolve;
    this.reject = reject;
    this.timer = timer;
    this.enveloped = enveloped;
  }
}

/** How the proxy reaches the broker listener it connects to (KAFSCALE_PROXY_UPSTREAM_*). */
export interface UpstreamSecurity {
  /** TLS client options (CA bundle; certificate and key for mTLS); null: plain TCP. */
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer } | null;
  /** The proxy's own SASL login; null: none. */
  readonly sasl: SaslCredentials | null;
}

export const PLAINTEXT_UPSTREAM: UpstreamSecurity = { tls: null, sasl: null };

export interface UpstreamConnectionOptions {
  readonly connectTimeoutMs: number;
  /** Default: plain TCP, no login. */
  readonly security?: UpstreamSecurity;
}

/** A broker refused an Envelope (the proxy's principal lacks CLUSTER_ACTION) or could not serve its inner request. */
export class EnvelopeRefused extends KafscaleError {
  readonly errorCode: number;

  constructor(address: string, errorCode: number) {
    const hint = errorCode === ErrorCode.CLUSTER_AUTHORIZATION_FAILED
      ? 'the proxy\'s user needs CLUSTER_ACTION on the cluster (a super user, or an ACL); see docs/security.md'
      : 'the broker could not serve the client\'s request';
    super('KSC_PROXY_ENVELOPE_REFUSED', `broker ${address} refused a forwarded request (error ${errorCode}): ${hint}`);
    this.errorCode = errorCode;
  }
}

/** Re-authenticate (by replacing the connection) when this share of the broker's SASL session lifetime has passed. */
const SESSION_RENEW_SHARE = 0.8;
const SASL_HANDSHAKE_VERSION = 1;
const SASL_AUTHENTICATE_VERSION = 2;

export class UpstreamConnection {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly #socket: Socket;
  readonly #pending = new Map<number, PendingRequest>();
  #nextCorrelationId = 1;
  #closedError: UpstreamFailure | null = null;
  /** Date.now() after which the pool stops handing this connection out (KIP-368 session lifetime); 0: never. */
  #renewAtMs = 0;
  #retiring = false;
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

  /**
   * Connects (TLS when the security says so) and logs in with the proxy's own SASL credentials unless
   * `login` is false (the connection that relays a client's SASL exchange logs in as that client).
   */
  static async open(host: string, port: number, options: UpstreamConnectionOptions, login = true): Promise<UpstreamConnection> {
    const address = `${host}:${port}`;
    const security = options.security ?? PLAINTEXT_UPSTREAM;
    const tls = security.tls;
    // Responses are read into their own buffers (frame-reader.ts); the connection exists before any answer can.
    let connection: UpstreamConnection | null = null;
    const reader = new FrameReader(MAX_RESPONSE_BYTES, (frame) => {
      if (connection !== null) connection.#onFrame(frame);
    });
    const readFailed = (error: unknown): void => {
      if (connection !== null) connection.#malformed(error);
      else socket.destroy();
    };
    // Returning false would pause the socket; a malformed stream is destroyed instead.
    const onRead = (bytes: number): boolean => {
      try {
        reader.filled(bytes);
      } catch (error) {
        readFailed(error);
      }
      return true;
    };
    // TLS sockets deliver decrypted chunks (no onread): they are copied into the frame buffers.
    const socket: Socket = tls === null
      ? connect({ host, port, onread: { buffer: () => reader.target(), callback: onRead } })
      : connectTls({ host, port, ...tls, minVersion: 'TLSv1.2', ...(isIP(host) === 0 ? { servername: host } : {}) });
    if (tls !== null) {
      socket.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (error) {
          readFailed(error);
        }
      });
    }
    const ready = tls === null ? 'connect' : 'secureConnect';
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    try {
      // events.once rejects on the socket's 'error' and on the timeout's abort.
      await once(socket, ready, { signal: AbortSignal.timeout(options.connectTimeoutMs) });
    } catch (error) {
      socket.destroy();
      if ((error as Error).name === 'AbortError') throw new UpstreamFailure(address, `no connection within ${options.connectTimeoutMs} ms`, false);
      const failure = error as NodeJS.ErrnoException;
      const what = tls === null ? 'cannot connect' : 'cannot connect over TLS';
      throw new UpstreamFailure(address, `${what} (${failure.code ?? failure.message})`, false, failure);
    }
    const opened = new UpstreamConnection(socket, host, port);
    connection = opened;
    if (login && security.sasl !== null) {
      try {
        await opened.#login(security.sasl, options.connectTimeoutMs);
      } catch (error) {
        opened.close();
        throw error;
      }
    }
    return opened;
  }

  /** SaslHandshake v1 + SaslAuthenticate until the exchange completes; a refusal fails the connect (not written). */
  async #login(sasl: SaslCredentials, timeoutMs: number): Promise<void> {
    const refused = (why: string): UpstreamFailure =>
      new UpstreamFailure(this.address, `the broker refused the proxy's SASL ${sasl.mechanism} login as ${sasl.username}: ${why} (check KAFSCALE_PROXY_UPSTREAM_SASL_*)`, false);
    const handshake = await this.request(ApiKey.SaslHandshake, SASL_HANDSHAKE_VERSION, 'kafscale-proxy', { mechanism: sasl.mechanism }, timeoutMs);
    if (handshake.errorCode !== ErrorCode.NONE) throw refused(`mechanism not offered (offered: ${handshake.mechanisms.join(', ') || 'none'})`);
    const exchange = new SaslClientExchange(sasl);
    let token: Buffer | null = exchange.first();
    while (token !== null) {
      const answer = await this.request(ApiKey.SaslAuthenticate, SASL_AUTHENTICATE_VERSION, 'kafscale-proxy', { authBytes: token }, timeoutMs);
      if (answer.errorCode !== ErrorCode.NONE) throw refused(answer.errorMessage ?? `error ${answer.errorCode}`);
      try {
        token = exchange.next(answer.authBytes);
      } catch (error) {
        throw refused((error as Error).message);
      }
      if (token === null && answer.sessionLifetimeMs > 0n) this.#renewAtMs = Date.now() + Math.floor(Number(answer.sessionLifetimeMs) * SESSION_RENEW_SHARE);
    }
  }

  /** True once the broker's SASL session lifetime is mostly used up: the pool opens a fresh connection instead. */
  get expiring(): boolean {
    return this.#renewAtMs > 0 && Date.now() >= this.#renewAtMs;
  }

  /** Closes the connection once the answers still due have arrived (a replaced, expiring connection). */
  retire(): void {
    this.#retiring = true;
    if (this.#pending.size === 0) this.close();
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
  forward(frame: Buffer, timeoutMs: number, expectResponse = true, as: EnvelopeSender | null = null): Promise<Buffer | null> {
    if (this.#closedError !== null) return Promise.reject(this.#notWritten());
    const correlationId = this.#takeCorrelationId();
    frame.writeInt32BE(correlationId, REQUEST_CORRELATION_OFFSET);
    return this.#send([frame], correlationId, timeoutMs, expectResponse, as);
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
    as: EnvelopeSender | null = null,
  ): Promise<Buffer> {
    if (this.#closedError !== null) return Promise.reject(this.#notWritten());
    const correlationId = this.#takeCorrelationId();
    const chunks = encodeRequest(apiKey, version, correlationId, clientId, body);
    return this.#send(chunks, correlationId, timeoutMs, true, as) as Promise<Buffer>;
  }

  /** Sends an encoded request that gets no response (Produce acks=0). */
  sendOneWay<K extends ProxyApiKey>(apiKey: K, version: number, clientId: string | null, body: Partial<Encodable<RequestByKey[K]>>, as: EnvelopeSender | null = null): void {
    if (this.#closedError !== null) throw this.#notWritten();
    const correlationId = this.#takeCorrelationId();
    const chunks = encodeRequest(apiKey, version, correlationId, clientId, body);
    this.#write(as === null ? chunks : wrapRequest(chunks, correlationId, clientId, as));
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

  /** `as`: sent in an Envelope on behalf of that client (the broker authorizes it as the client's principal). */
  #send(chunks: readonly Buffer[], correlationId: number, timeoutMs: number, expectResponse: boolean, as: EnvelopeSender | null = null): Promise<Buffer | null> {
    const frame = as === null ? chunks : wrapRequest(chunks, correlationId, null, as);
    if (!expectResponse) {
      this.#write(frame);
      return Promise.resolve(null);
    }
    return new Promise<Buffer | null>((resolve, reject) => {
      const timer = setTimeout(() => this.#timeout(correlationId, timeoutMs), timeoutMs);
      this.#pending.set(correlationId, new PendingRequest(resolve, reject, timer, as !== null));
      this.#write(frame);
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
    if (!pending.enveloped) pending.resolve(frame);
    else {
      try {
        const { errorCode, inner } = unwrapResponse(frame);
        if (errorCode === ErrorCode.NONE && inner !== null) pending.resolve(inner);
        else pending.reject(new EnvelopeRefused(this.address, errorCode));
      } catch (error) {
        pending.reject(new UpstreamFailure(this.address, `malformed Envelope answer: ${(error as Error).message}`, true, error));
        this.#malformed(error);
        return;
      }
    }
    if (this.#retiring && this.#pending.size === 0) this.close();
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
