/**
 * An HTTP proxy on loopback between the brokers' S3 client and s3rver that injects the faults the
 * chaos suite schedules: a share of PUTs answered 503 SlowDown (with S3's XML error body), added
 * latency, and connections reset mid-request (the request never reaches S3) or after S3 applied it
 * (the write happened, the client only sees a reset: an ambiguous outcome).
 *
 * s3rver is shielded from dying writers: a request is read whole before it is forwarded, so s3rver
 * never sees a PUT abandoned half-way (a broker killed mid-PUT only ever abandons its connection to
 * this proxy), and its response is read whole before it is relayed. Decisions come from a seeded PRNG.
 *
 *   const proxy = await new S3ChaosProxy(s3.port, seed).start();
 *   proxy.set({ put503Share: 0.8 });   // until proxy.set({ put503Share: 0 })
 */
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Random } from './random-value.ts';

export interface S3ChaosSettings {
  /** Share (0..1) of PUT requests answered 503 SlowDown. */
  readonly put503Share: number;
  /** Extra latency per request, uniformly in [min, max] ms; [0, 0] = none. */
  readonly delayMs: readonly [number, number];
  /** Share (0..1) of requests whose connection is reset (half mid-request, half after S3 applied it). */
  readonly resetShare: number;
}

export interface S3ChaosCounters {
  requests: number;
  puts: number;
  put503: number;
  delayed: number;
  resetMidRequest: number;
  resetAfterApplied: number;
  forwarded: number;
  upstreamErrors: number;
}

const QUIET: S3ChaosSettings = { put503Share: 0, delayMs: [0, 0], resetShare: 0 };

/** Hop-by-hop headers are the proxy's business, not the forwarded request's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function slowDownBody(requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>${requestId}</RequestId>` +
    `<HostId>chaos-proxy/${requestId}</HostId></Error>`
  );
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class S3ChaosProxy {
  readonly counters: S3ChaosCounters = { requests: 0, puts: 0, put503: 0, delayed: 0, resetMidRequest: 0, resetAfterApplied: 0, forwarded: 0, upstreamErrors: 0 };
  port = 0;
  #settings: S3ChaosSettings = QUIET;
  readonly #random: Random;
  readonly #upstreamPort: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #requestIds = 0;

  constructor(upstreamPort: number, seed: number) {
    this.#upstreamPort = upstreamPort;
    this.#random = new Random(seed);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        this.counters.upstreamErrors++;
        req.socket.destroy();
      });
    });
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {});
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    if (address === null || typeof address !== 'object') throw new Error('the S3 chaos proxy has no TCP address');
    this.port = address.port;
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get settings(): S3ChaosSettings {
    return this.#settings;
  }

  /** Changes some settings; the others keep their value. */
  set(settings: Partial<S3ChaosSettings>): void {
    this.#settings = { ...this.#settings, ...settings };
  }

  /** Back to forwarding everything untouched. */
  quiet(): void {
    this.#settings = QUIET;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const isPut = req.method === 'PUT';
    if (isPut) this.counters.puts++;
    const settings = this.#settings;
    // Every decision is drawn up front, in arrival order, so a seed gives one sequence of choices.
    const fail503 = isPut && this.#random.chance(settings.put503Share);
    const reset = !fail503 && this.#random.chance(settings.resetShare);
    const resetMidRequest = reset && this.#random.chance(0.5);
    const [minDelay, maxDelay] = settings.delayMs;
    const delayMs = maxDelay > 0 ? minDelay + this.#random.next() * (maxDelay - minDelay) : 0;

    if (resetMidRequest) {
      // Read a part of the body (or wait a moment for a body-less request), then drop the connection.
      this.counters.resetMidRequest++;
      await new Promise<void>((resolve) => {
        req.once('data', () => resolve());
        req.once('end', () => resolve());
        setTimeout(resolve, 20);
      });
      req.socket.destroy();
      return;
    }
    const body = await readAll(req);
    if (delayMs > 0) {
      this.counters.delayed++;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    if (fail503) {
      this.counters.put503++;
      const text = slowDownBody(`chaos${++this.#requestIds}`);
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text), 'retry-after': '1' });
      res.end(text);
      return;
    }
    const upstream = await this.#forward(req, body);
    if (reset) {
      // S3 applied the request; the client never hears about it.
      this.counters.resetAfterApplied++;
      req.socket.destroy();
      return;
    }
    this.counters.forwarded++;
    res.writeHead(upstream.status, upstream.headers);
    res.end(req.method === 'HEAD' ? undefined : upstream.body);
  }

  async #forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const upstream = request({ host: '127.0.0.1', port: this.#upstreamPort, method: req.method, path: req.url, headers }, (response) => {
        readAll(response).then(
          (responseBody) => {
            const out: IncomingHttpHeaders = {};
            for (const [name, value] of Object.entries(response.headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
            if (req.method !== 'HEAD') out['content-length'] = String(responseBody.length);
            resolve({ status: response.statusCode ?? 502, headers: out, body: responseBody });
          },
          reject,
        );
      });
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}
