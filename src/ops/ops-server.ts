import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What readiness depends on; each probe resolves to null when healthy or a reason when not. */
export type ReadinessProbe = () => Promise<string | null>;

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: Readonly<Record<string, ReadinessProbe>>;
  readonly log: Logger;
}

/**
 * The ops HTTP listener: `/healthz` (the process is alive), `/readyz` (every readiness probe passes),
 * `/metrics` (Prometheus text format).
 */
export class OpsServer {
  readonly #options: OpsServerOptions;
  readonly #server: Server;
  #closed: Promise<void> | null = null;

  constructor(options: OpsServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        options.log.error({ err: error, url: req.url }, 'ops request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : this.#options.port;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const failures: Record<string, string> = {};
      for (const [name, probe] of Object.entries(this.#options.readiness)) {
        const problem = await probe().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
        if (problem !== null) failures[name] = problem;
      }
      const ready = Object.keys(failures).length === 0;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready, failures }) + '\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.#options.registry.metrics();
      res.writeHead(200, { 'content-type': this.#options.registry.contentType }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
  }
}
