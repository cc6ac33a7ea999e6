/**
 * An HTTP proxy in front of s3rver that injects S3 faults: queued one-shot faults, a persistent fault
 * (every request until cleared), added latency, or connection resets; otherwise it forwards. Used by
 * the S3 adapter's fault tests and the broker-level S3 fault tests.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type Fault = { readonly status: number; readonly code: string } | 'reset';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('fault proxy has no TCP address');
  return address.port;
}

/** An HTTP proxy to s3rver that answers the next queued requests with faults, then forwards. */
export class FaultProxy {
  readonly faults: Fault[] = [];
  /** Used when the queue is empty; undefined = forward. */
  persistent: Fault | undefined;
  delayMs = 0;
  requests = 0;
  /** Requests forwarded: the signed payload hash header and the SHA-256 of the body that went through. */
  readonly forwarded: { method: string; url: string; payloadHashHeader: string | undefined; bodySha256: string }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #upstreamPort: number;
  port = 0;

  constructor(upstreamPort: number) {
    this.#upstreamPort = upstreamPort;
    this.#server = createHttpServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    this.port = await listen(this.#server);
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const fault = this.faults.shift() ?? this.persistent;
    if (fault === undefined) {
      const upstream = request({ host: '127.0.0.1', port: this.#upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => {
        const header = req.headers['x-amz-content-sha256'];
        this.forwarded.push({ method: req.method ?? '', url: req.url ?? '', payloadHashHeader: typeof header === 'string' ? header : undefined, bodySha256: hash.digest('hex') });
      });
      req.pipe(upstream);
      return;
    }
    req.resume();
    await once(req, 'end');
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>injected ${fault.code}</Message><RequestId>1</RequestId></Error>`;
    res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
