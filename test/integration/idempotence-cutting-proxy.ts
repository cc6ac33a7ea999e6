/**
 * A TCP proxy for idempotence tests that injects the one fault idempotence exists for: the broker has
 * appended a batch but the client never sees the response. It forwards bytes unchanged, follows the
 * Kafka frames in both directions (request header: apiKey, correlation id; response: correlation id)
 * and, when `cut` says so for a Produce response, drops that response and closes both sides. The client
 * then retries the batch on a new connection.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

const PRODUCE = 0;

export interface CuttingProxyOptions {
  readonly targetHost: string;
  /** Mutable: a broker that must advertise the proxy's port starts after the proxy. */
  targetPort: number;
  /** Called for each Produce response (1-based count over the proxy's life); true = drop it and cut. */
  cut: (produceResponseNumber: number) => boolean;
}

export class CuttingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  produceResponses = 0;
  cuts = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(listenPort: number, options: CuttingProxyOptions): Promise<CuttingProxy> {
    let proxy!: CuttingProxy;
    const server = createServer((client) => proxy.#onClient(client, options));
    proxy = new CuttingProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  #onClient(client: Socket, options: CuttingProxyOptions): void {
    const upstream = connect(options.targetPort, options.targetHost);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const apiKeyOf = new Map<number, number>();
    const cutBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cutBoth);
    upstream.on('error', cutBoth);
    client.on('close', () => {
      this.#sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      client.destroy();
    });
    let requestBytes = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      requestBytes = Buffer.concat([requestBytes, chunk]);
      while (requestBytes.length >= 4 + 8) {
        const size = requestBytes.readInt32BE(0);
        if (requestBytes.length < 4 + size) break;
        apiKeyOf.set(requestBytes.readInt32BE(8), requestBytes.readInt16BE(4));
        upstream.write(requestBytes.subarray(0, 4 + size));
        requestBytes = requestBytes.subarray(4 + size);
      }
    });
    let responseBytes = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      responseBytes = Buffer.concat([responseBytes, chunk]);
      while (responseBytes.length >= 8) {
        const size = responseBytes.readInt32BE(0);
        if (responseBytes.length < 4 + size) break;
        const correlationId = responseBytes.readInt32BE(4);
        const frame = responseBytes.subarray(0, 4 + size);
        responseBytes = responseBytes.subarray(4 + size);
        if (apiKeyOf.get(correlationId) === PRODUCE && options.cut(++this.produceResponses)) {
          this.cuts++;
          cutBoth();
          return;
        }
        apiKeyOf.delete(correlationId);
        client.write(frame);
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
