/**
 * A small raw Kafka client for tests: one socket, requests encoded with the project's codec, responses
 * read frame by frame in order. It also sends arbitrary bytes, for malformed-input tests, and tells
 * whether the broker closed the connection.
 *
 *   const client = await WireClient.connect(broker.host, broker.port);
 *   const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
 *   client.close();
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  decodeResponse,
  encodeRequest,
  type Encodable,
  type RequestByKey,
  type ResponseByKey,
} from '../../src/protocol/codec/index.ts';

/** An API key the codec has both a request and a response schema for. */
export type ApiKey = keyof RequestByKey & keyof ResponseByKey;

const DEFAULT_TIMEOUT_MS = 10_000;

interface FrameWaiter {
  resolve(frame: Buffer): void;
  reject(error: Error): void;
}

export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export class WireClient {
  readonly clientId: string;
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private readonly waiters: FrameWaiter[] = [];
  private nextCorrelationId = 1;
  private closedError: ConnectionClosedError | null = null;
  private readonly closedPromise: Promise<void>;

  private constructor(socket: Socket, clientId: string) {
    this.socket = socket;
    this.clientId = clientId;
    this.closedPromise = new Promise<void>((resolveClosed) => {
      socket.once('close', () => {
        this.closedError = new ConnectionClosedError('the broker closed the connection');
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError);
        resolveClosed();
      });
    });
    // A reset after the broker closes is an expected way to end; 'close' follows and reports it.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(host: string, port: number, clientId = 'kafscale-wire-test'): Promise<WireClient> {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    await new Promise<void>((resolveConnect, rejectConnect) => {
      socket.once('connect', resolveConnect);
      socket.once('error', rejectConnect);
    });
    return new WireClient(socket, clientId);
  }

  /** The same over TLS (`tlsOptions`: ca, and cert/key for a client certificate). */
  static async connectTls(host: string, port: number, tlsOptions: ConnectionOptions, clientId = 'kafscale-wire-test'): Promise<WireClient> {
    const socket = tlsConnect({ host, port, servername: host === '127.0.0.1' ? undefined : host, ...tlsOptions });
    socket.setNoDelay(true);
    await new Promise<void>((resolveConnect, rejectConnect) => {
      socket.once('secureConnect', resolveConnect);
      socket.once('error', rejectConnect);
    });
    return new WireClient(socket, clientId);
  }

  /** True once the broker (or close()) ended the connection. */
  get isClosed(): boolean {
    return this.closedError !== null;
  }

  /**
   * Encodes the request with the codec, sends it and returns the decoded response body. Rejects with
   * ConnectionClosedError when the broker closes the connection instead of answering.
   */
  async send<K extends ApiKey>(
    apiKey: K,
    version: number,
    body: Partial<Encodable<RequestByKey[K]>>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ResponseByKey[K]> {
    const correlationId = this.nextCorrelationId++;
    const chunks = encodeRequest(apiKey, version, correlationId, this.clientId, body);
    const size = chunks.reduce((total, chunk) => total + chunk.length, 0);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size, 0);
    const pending = this.nextFrame(timeoutMs);
    this.socket.write(Buffer.concat([prefix, ...chunks]));
    const frame = await pending;
    const decoded = decodeResponse(apiKey, version, frame);
    if (decoded.correlationId !== correlationId) {
      throw new Error(`response correlation id ${decoded.correlationId}, expected ${correlationId}`);
    }
    return decoded.body;
  }

  /** Writes bytes as they are (include the size prefix yourself, or leave it out on purpose). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame without its size prefix. */
  async nextFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const ready = this.frames.shift();
    if (ready !== undefined) return ready;
    if (this.closedError !== null) throw this.closedError;
    return new Promise<Buffer>((resolveFrame, rejectFrame) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
        rejectFrame(new Error(`no response frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: FrameWaiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolveFrame(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          rejectFrame(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves true when the connection is closed within timeoutMs, false when it is still open. */
  async waitForClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    if (this.closedError !== null) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(false), timeoutMs);
    });
    const closed = await Promise.race([this.closedPromise.then(() => true as const), timeout]);
    clearTimeout(timer);
    return closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter.resolve(frame);
      else this.frames.push(frame);
    }
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
