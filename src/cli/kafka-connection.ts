/**
 * One connection to one broker: requests are pipelined (many in flight) and answers are matched by
 * correlation id; every request has a timeout; the API version of each request is the highest that
 * both the broker (its ApiVersions answer) and this codec support.
 *
 * The CLI's client, and the tests' (test/helpers/wire-client.ts wraps it): a test may open it without
 * the ApiVersions exchange (`negotiate: false`), send at a version of its choice (`exchange`), and
 * write bytes as they are (`sendRaw`), reading the answers that match no request with `nextFrame`.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ApiKey, apiKeyName } from '../protocol/api-keys.ts';
import {
  codecVersionRange,
  decodeResponse,
  encodeRequest,
  type Encodable,
  type RequestByKey,
  type ResponseByKey,
} from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { FrameDecoder, sizePrefix } from '../protocol/frame.ts';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { CliError, EXIT_FAILED, EXIT_UNREACHABLE, type ExitCode } from './cli-error.ts';
import { SaslClientExchange } from '../protocol/sasl-client.ts';
import type { ClientSecurity } from './client-security.ts';

/** An API this codec can both encode the request of and decode the response of. */
export type ClientApiKey = keyof RequestByKey & keyof ResponseByKey;

export interface ConnectionOptions {
  readonly clientId: string;
  /** Connect timeout and default per-request timeout. */
  readonly timeoutMs: number;
  /** TLS and SASL for secured listeners (--command-config); absent: PLAINTEXT. */
  readonly security?: ClientSecurity;
  /** false: no ApiVersions exchange (nor SASL) at open; the caller picks every version. Default true. */
  readonly negotiate?: boolean;
  /**
   * true: frames that answer no pending request (raw requests, SASL v0 tokens) are kept for nextFrame()
   * instead of being dropped (or, when shorter than a correlation id, failing the connection).
   */
  readonly keepUnmatchedFrames?: boolean;
}

export interface Reply<K extends ClientApiKey> {
  /** The version the request was sent with (response shapes differ by version). */
  readonly version: number;
  readonly body: ResponseByKey[K];
}

interface Pending {
  readonly apiKey: ClientApiKey;
  readonly version: number;
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Responses are small for the CLI's requests except Fetch, which it bounds itself; 256 MiB is a sanity cap. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
/** v3 is the first flexible version (KIP-511); every broker since Kafka 2.4 answers it. */
const API_VERSIONS_PREFERRED = 3;
/** How long close() lets written bytes drain before it drops the socket. */
const CLOSE_GRACE_MS = 2_000;

interface FrameWaiter {
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (error: Error) => void;
}

export class KafkaConnection {
  readonly host: string;
  readonly port: number;
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #decoder = new FrameDecoder(MAX_RESPONSE_BYTES);
  readonly #pending = new Map<number, Pending>();
  #nextCorrelationId = 1;
  #closedError: Error | null = null;
  /** apiKey → highest version both sides support; filled by the ApiVersions exchange. */
  readonly #versions = new Map<number, number>();
  /** apiKey → the broker's advertised range, for error messages. */
  readonly #brokerRanges = new Map<number, { min: number; max: number }>();
  /** Frames no request waited for, and who waits for the next one (keepUnmatchedFrames only). */
  readonly #unmatched: Buffer[] = [];
  readonly #frameWaiters: FrameWaiter[] = [];
  /** Resolves when the socket has closed, whoever closed it. */
  readonly socketClosed: Promise<void>;

  private constructor(socket: Socket, host: string, port: number, options: ConnectionOptions) {
    this.#socket = socket;
    this.host = host;
    this.port = port;
    this.#options = options;
    this.socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(new CliError(`connection to ${this.address} failed: ${error.message}`, { exitCode: EXIT_UNREACHABLE, cause: error })));
    socket.on('close', () => this.#fail(new CliError(`the broker at ${this.address} closed the connection`, {
      exitCode: EXIT_UNREACHABLE,
      hint: 'the broker may have restarted or rejected the request; see its log',
    })));
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Connects and negotiates versions; rejects with a CliError (exit 3) when the broker is unreachable. */
  static async open(host: string, port: number, options: ConnectionOptions): Promise<KafkaConnection> {
    const tls = options.security?.tls ?? null;
    const socket = tls === null ? connect({ host, port }) : tlsConnect({ host, port, ...tls, ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }) });
    socket.setNoDelay(true);
    try {
      // events.once rejects on the socket's 'error' and on the timeout's abort.
      await once(socket, tls === null ? 'connect' : 'secureConnect', { signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      socket.destroy();
      if ((error as Error).name === 'AbortError') throw unreachable(host, port, `no connection within ${options.timeoutMs} ms`);
      const failure = error as NodeJS.ErrnoException;
      throw unreachable(host, port, failure.code ?? failure.message, failure);
    }
    const connection = new KafkaConnection(socket, host, port, options);
    if (options.negotiate === false) return connection;
    try {
      await connection.#negotiate();
      const sasl = options.security?.sasl ?? null;
      if (sasl !== null) await connection.#authenticate(new SaslClientExchange(sasl), sasl.mechanism);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The version to use for apiKey, or null when the broker does not serve it (or shares no version). */
  versionFor(apiKey: number): number | null {
    return this.#versions.get(apiKey) ?? null;
  }

  serves(apiKey: number): boolean {
    return this.#versions.has(apiKey);
  }

  /** Throws the one-line "does not serve X yet" error when the broker lacks an API. */
  require(apiKey: number): number {
    const version = this.#versions.get(apiKey);
    if (version !== undefined) return version;
    const name = apiKeyName(apiKey);
    const range = this.#brokerRanges.get(apiKey);
    if (range !== undefined) {
      throw new CliError(`the broker at ${this.address} serves ${name} v${range.min}-${range.max}, none of which this CLI speaks`, {
        hint: 'upgrade the CLI or the broker',
      });
    }
    throw new CliError(`the broker at ${this.address} does not serve ${name} yet`, {
      hint: `this broker version lacks the ${name} API; use a broker that lists it in ApiVersions`,
    });
  }

  /**
   * Sends a request at the negotiated version. `body` may be a function of that version, for fields
   * whose meaning changes between versions.
   */
  async request<K extends ClientApiKey>(
    apiKey: K,
    body: Partial<Encodable<RequestByKey[K]>> | ((version: number) => Partial<Encodable<RequestByKey[K]>>),
    timeoutMs = this.#options.timeoutMs,
  ): Promise<Reply<K>> {
    const version = this.require(apiKey);
    const payload = typeof body === 'function' ? body(version) : body;
    const frame = await this.#exchange(apiKey, version, payload, timeoutMs);
    return { version, body: decodeResponse(apiKey, version, frame).body };
  }

  /** Sends a request at the version given (no negotiation) and returns the decoded response body. */
  async exchange<K extends ClientApiKey>(apiKey: K, version: number, body: Partial<Encodable<RequestByKey[K]>>, timeoutMs = this.#options.timeoutMs): Promise<ResponseByKey[K]> {
    const frame = await this.#exchange(apiKey, version, body, timeoutMs);
    return decodeResponse(apiKey, version, frame).body;
  }

  /** Writes bytes as they are (the size prefix included, or left out on purpose). */
  sendRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** The next frame that answered no pending request, without its size prefix (keepUnmatchedFrames). */
  nextFrame(timeoutMs = this.#options.timeoutMs): Promise<Buffer> {
    const ready = this.#unmatched.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: FrameWaiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#frameWaiters.indexOf(waiter);
        if (index !== -1) this.#frameWaiters.splice(index, 1);
        reject(new CliError(`no response frame from ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#frameWaiters.push(waiter);
    });
  }

  /** True once the connection ended (the broker closed it, it failed, or close()/destroy() was called). */
  get isClosed(): boolean {
    return this.#closedError !== null;
  }

  /** For requests the broker does not answer (Produce with acks=0): written, never awaited. */
  sendOneWay<K extends ClientApiKey>(apiKey: K, body: Partial<Encodable<RequestByKey[K]>>): void {
    const version = this.require(apiKey);
    this.#write(encodeRequest(apiKey, version, this.#nextCorrelationId++, this.#options.clientId, body));
  }

  /** Ends the connection; requests already written (acks=0 produce) are flushed first, not dropped. */
  close(): void {
    this.#fail(new CliError(`connection to ${this.address} was closed`, { exitCode: EXIT_FAILED }));
    if (this.#socket.destroyed) return;
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Drops the connection at once, without flushing what is written. */
  destroy(): void {
    this.#fail(new CliError(`connection to ${this.address} was closed`, { exitCode: EXIT_FAILED }));
    this.#socket.destroy();
  }

  async #negotiate(): Promise<void> {
    let reply: ResponseByKey[typeof ApiKey.ApiVersions];
    try {
      const frame = await this.#exchange(ApiKey.ApiVersions, API_VERSIONS_PREFERRED, {
        clientSoftwareName: 'kafscale-cli',
        clientSoftwareVersion: '0.1.0',
      }, this.#options.timeoutMs, EXIT_UNREACHABLE);
      reply = decodeResponse(ApiKey.ApiVersions, API_VERSIONS_PREFERRED, frame).body;
    } catch (error) {
      // A broker that does not know v3 answers with a v0 body (KIP-511), which the v3 decoder cannot read.
      if (error instanceof CliError) throw error;
      const frame = await this.#exchange(ApiKey.ApiVersions, 0, {}, this.#options.timeoutMs, EXIT_UNREACHABLE);
      reply = decodeResponse(ApiKey.ApiVersions, 0, frame).body;
    }
    if (reply.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
      const frame = await this.#exchange(ApiKey.ApiVersions, 0, {}, this.#options.timeoutMs, EXIT_UNREACHABLE);
      reply = decodeResponse(ApiKey.ApiVersions, 0, frame).body;
    }
    if (reply.errorCode !== ErrorCode.NONE) {
      throw new CliError(`the broker at ${this.address} refused ApiVersions (error ${reply.errorCode})`, { exitCode: EXIT_UNREACHABLE });
    }
    for (const api of reply.apiKeys) {
      this.#brokerRanges.set(api.apiKey, { min: api.minVersion, max: api.maxVersion });
      const ours = codecVersionRange(api.apiKey);
      if (ours === null) continue;
      const high = Math.min(ours.max, api.maxVersion);
      if (high >= Math.max(ours.min, api.minVersion)) this.#versions.set(api.apiKey, high);
    }
  }

  /** SaslHandshake + SaslAuthenticate until the exchange completes; a refusal is a CliError (exit 1). */
  async #authenticate(exchange: SaslClientExchange, mechanism: string): Promise<void> {
    const refused = (message: string): CliError =>
      new CliError(`the broker at ${this.address} refused SASL ${mechanism} authentication: ${message}`, { hint: 'check sasl.username / sasl.password in --command-config' });
    const handshake = await this.request(ApiKey.SaslHandshake, { mechanism });
    if (handshake.body.errorCode !== ErrorCode.NONE) throw refused(`mechanism not offered (offered: ${handshake.body.mechanisms.join(', ') || 'none'})`);
    let token: Buffer | null = exchange.first();
    while (token !== null) {
      const { body } = await this.request(ApiKey.SaslAuthenticate, { authBytes: token });
      if (body.errorCode !== ErrorCode.NONE) throw refused(body.errorMessage ?? `error ${body.errorCode}`);
      try {
        token = exchange.next(body.authBytes);
      } catch (error) {
        throw refused((error as Error).message);
      }
    }
  }

  /** `onTimeout` is EXIT_UNREACHABLE for the ApiVersions handshake: a listener that never answers is no broker. */
  #exchange(apiKey: ClientApiKey, version: number, body: unknown, timeoutMs: number, onTimeout: ExitCode = EXIT_FAILED): Promise<Buffer> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const correlationId = this.#nextCorrelationId++;
    const chunks = encodeRequest(apiKey, version, correlationId, this.#options.clientId, body as never);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(correlationId);
        reject(new CliError(`no ${apiKeyName(apiKey)} response from ${this.address} within ${timeoutMs} ms`, {
          exitCode: onTimeout,
          hint: onTimeout === EXIT_UNREACHABLE
            ? 'is a Kafka broker listening there? check --bootstrap; a busy broker may need a larger --timeout'
            : 'the broker is slow or stuck; try again or raise --timeout',
        }));
      }, timeoutMs);
      this.#pending.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.#write(chunks);
    });
  }

  #write(chunks: Buffer[]): void {
    this.#socket.cork();
    this.#socket.write(sizePrefix(chunks));
    for (const chunk of chunks) this.#socket.write(chunk);
    this.#socket.uncork();
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk);
      for (let frame = this.#decoder.next(); frame !== null; frame = this.#decoder.next()) {
        const correlationId = frame.length < 4 ? null : frame.readInt32BE(0);
        const pending = correlationId === null ? undefined : this.#pending.get(correlationId);
        if (pending === undefined && this.#options.keepUnmatchedFrames === true) {
          this.#keepUnmatched(frame);
          continue;
        }
        if (correlationId === null) throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `a ${frame.length}-byte response frame has no correlation id`);
        // An answer to a request that already timed out is dropped; its caller has moved on.
        if (pending === undefined) continue;
        this.#pending.delete(correlationId);
        clearTimeout(pending.timer);
        pending.resolve(frame);
      }
    } catch (error) {
      this.#fail(new CliError(`the broker at ${this.address} sent a malformed response: ${(error as Error).message}`, { cause: error }));
      this.#socket.destroy();
    }
  }

  #keepUnmatched(frame: Buffer): void {
    const waiter = this.#frameWaiters.shift();
    if (waiter === undefined) this.#unmatched.push(frame);
    else waiter.resolve(frame);
  }

  #fail(error: Error): void {
    if (this.#closedError === null) this.#closedError = error;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.#closedError);
    }
    this.#pending.clear();
    for (const waiter of this.#frameWaiters.splice(0)) waiter.reject(this.#closedError);
  }
}

function unreachable(host: string, port: number, why: string, cause?: unknown): CliError {
  return new CliError(`cannot connect to a broker at ${host}:${port} (${why})`, {
    exitCode: EXIT_UNREACHABLE,
    hint: 'is the broker running? set the address with --bootstrap host:port or KAFSCALE_BOOTSTRAP',
    ...(cause === undefined ? {} : { cause }),
  });
}
