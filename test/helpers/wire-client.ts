/**
 * A small raw Kafka client for tests: the CLI's KafkaConnection (src/cli/kafka-connection.ts) opened
 * without version negotiation, so each request goes at the version the test names. It also sends
 * arbitrary bytes, for malformed-input tests, reads the frames that answer them, and tells whether the
 * broker closed the connection.
 *
 *   const client = await WireClient.connect(broker.host, broker.port);
 *   const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
 *   client.close();
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { KafkaConnection, type ClientApiKey } from '../../src/cli/kafka-connection.ts';
import type { Encodable, RequestByKey, ResponseByKey } from '../../src/protocol/codec/index.ts';

/** An API key the codec has both a request and a response schema for. */
export type ApiKey = ClientApiKey;

const DEFAULT_TIMEOUT_MS = 10_000;

export class ConnectionClosedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionClosedError';
  }
}

export class WireClient {
  readonly clientId: string;
  readonly #connection: KafkaConnection;

  private constructor(connection: KafkaConnection, clientId: string) {
    this.#connection = connection;
    this.clientId = clientId;
  }

  static async connect(host: string, port: number, clientId = 'kafscale-wire-test'): Promise<WireClient> {
    return new WireClient(await KafkaConnection.open(host, port, WireClient.#options(clientId, null)), clientId);
  }

  /** The same over TLS (`tlsOptions`: ca, and cert/key for a client certificate). */
  static async connectTls(host: string, port: number, tlsOptions: Pick<TlsConnectionOptions, 'checkServerIdentity'> & { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string }, clientId = 'kafscale-wire-test'): Promise<WireClient> {
    return new WireClient(await KafkaConnection.open(host, port, WireClient.#options(clientId, tlsOptions)), clientId);
  }

  static #options(clientId: string, tls: NonNullable<Parameters<typeof KafkaConnection.open>[2]['security']>['tls']) {
    return { clientId, timeoutMs: DEFAULT_TIMEOUT_MS, negotiate: false, keepUnmatchedFrames: true, ...(tls === null ? {} : { security: { tls, sasl: null } }) };
  }

  /** True once the broker (or close()) ended the connection. */
  get isClosed(): boolean {
    return this.#connection.isClosed;
  }

  /**
   * Encodes the request with the codec, sends it and returns the decoded response body. Rejects with
   * ConnectionClosedError when the broker closes the connection instead of answering.
   */
  async send<K extends ApiKey>(apiKey: K, version: number, body: Partial<Encodable<RequestByKey[K]>>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ResponseByKey[K]> {
    try {
      return await this.#connection.exchange(apiKey, version, body, timeoutMs);
    } catch (error) {
      throw this.#closedInstead(error);
    }
  }

  /** Writes bytes as they are (include the size prefix yourself, or leave it out on purpose). */
  sendRaw(bytes: Buffer): void {
    this.#connection.sendRaw(bytes);
  }

  /** The next response frame (that answers no send()), without its size prefix. */
  async nextFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    try {
      return await this.#connection.nextFrame(timeoutMs);
    } catch (error) {
      throw this.#closedInstead(error);
    }
  }

  /** Resolves true when the connection is closed within timeoutMs, false when it is still open. */
  async waitForClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    if (this.#connection.isClosed) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const closed = await Promise.race([this.#connection.socketClosed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return closed;
  }

  close(): void {
    this.#connection.destroy();
  }

  #closedInstead(error: unknown): unknown {
    return this.#connection.isClosed ? new ConnectionClosedError('the broker closed the connection', { cause: error }) : error;
  }
}

/**
 * A request frame built by hand, with its size prefix: int16 apiKey, int16 version, int32 correlation
 * id, nullable string client id (request header v1), then `body` as given. For malformed-input tests
 * that the codec would refuse to produce. Flexible versions need header v2 (a tagged-field byte
 * after the client id): pass it at the start of `body`.
 */
export function rawRequest(apiKey: number, version: number, correlationId: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const clientId = Buffer.from('kafscale-wire-test');
  const header = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  header.writeInt32BE(header.length - 4 + body.length, 0);
  header.writeInt16BE(apiKey, 4);
  header.writeInt16BE(version, 6);
  header.writeInt32BE(correlationId, 8);
  header.writeInt16BE(clientId.length, 12);
  clientId.copy(header, 14);
  return Buffer.concat([header, body]);
}
