import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';

/** The listener certificate, re-read by its owner when the files change. */
export interface OpsTlsSource {
  readonly options: SecureContextOptions;
  onReload(listener: (options: SecureContextOptions) => void): () => void;
}

/**
 * A web console mounted on the ops listener (src/console): it answers `/ui…` and `/api/v1…` itself, with
 * its own sessions instead of the bearer token (docs/design/console.md), and `/` redirects to `/ui/`.
 */
export interface OpsConsole {
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Ends long-lived responses (server-sent events) so that the listener closes promptly. */
  close(): Promise<void>;
}

/** What readiness depends on; each probe resolves to null when healthy or a reason when not. */
export type ReadinessProbe = () => Promise<string | null>;

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: Readonly<Record<string, ReadinessProbe>>;
  readonly log: Logger;
  readonly metrics?: KafscaleMetrics;
  /** Serve HTTPS with this certificate (KAFSCALE_OPS_TLS). */
  readonly tls?: OpsTlsSource;
  /** Every request but /healthz must carry `Authorization: Bearer <token>` (KAFSCALE_OPS_TOKEN_FILE). */
  readonly token?: string;
  /** KAFSCALE_CONSOLE: the web console and its API; absent, `/ui` and `/api/v1` are 404. */
  readonly console?: OpsConsole;
}

/** How long one readiness probe may take before it counts as failed (the manifests give /readyz 3 s). */
const READINESS_PROBE_TIMEOUT_MS = 2_000;

async function boundedProbe(probe: ReadinessProbe): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${READINESS_PROBE_TIMEOUT_MS} ms`), READINESS_PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([probe().catch((error: unknown) => (error instanceof Error ? error.message : String(error))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The ops HTTP listener: `/healthz` (the process is alive), `/readyz` (every readiness probe passes),
 * `/metrics` (Prometheus text format).
 */
export class OpsServer {
  readonly #options: OpsServerOptions;
  readonly #server: Server | HttpsServer;
  readonly #tokenDigest: Buffer | null;
  #stopReload: () => void = () => {};
  #closed: Promise<void> | null = null;

  constructor(options: OpsServerOptions) {
    this.#options = options;
    this.#tokenDigest = options.token === undefined ? null : digest(options.token);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#route(req, res).catch((error: unknown) => {
        options.log.error({ err: error, url: req.url }, 'ops request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    };
    const tls = options.tls;
    if (tls === undefined) {
      this.#server = createServer(handler);
    } else {
      const server = createHttpsServer({ ...tls.options }, handler);
      this.#stopReload = tls.onReload((secure) => server.setSecureContext(secure));
      this.#server = server;
    }
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
    this.#stopReload();
    this.#closed ??= (async () => {
      await this.#options.console?.close();
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        this.#server.closeAllConnections();
      });
    })();
    return this.#closed;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const mounted = this.#options.console;
    if (mounted !== undefined) {
      if (path === '/') {
        res.writeHead(302, { location: '/ui/', 'content-type': 'text/plain' }).end('see /ui/\n');
        return;
      }
      if (path === '/ui' || path.startsWith('/ui/') || path === '/api/v1' || path.startsWith('/api/v1/')) {
        await mounted.handle(req, res, path);
        return;
      }
    }
    if (!this.#authorized(req)) {
      this.#options.metrics?.opsRequestsUnauthorizedTotal.inc();
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="kafscale"' }).end('unauthorized: send Authorization: Bearer <token from KAFSCALE_OPS_TOKEN_FILE>\n');
      return;
    }
    if (path === '/readyz') {
      const failures: Record<string, string> = {};
      // In parallel, each bounded: a store that hangs (retries, a black-holed endpoint) must make the
      // broker not ready within a kubelet probe's timeout, not hold the answer for minutes.
      const probes = Object.entries(this.#options.readiness);
      const problems = await Promise.all(probes.map(([, probe]) => boundedProbe(probe)));
      probes.forEach(([name], i) => {
        const problem = problems[i] ?? null;
        if (problem !== null) failures[name] = problem;
      });
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

  /** No token configured: open. Otherwise a constant-time comparison of digests. */
  #authorized(req: IncomingMessage): boolean {
    const expected = this.#tokenDigest;
    if (expected === null) return true;
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice('Bearer '.length).trim()), expected);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
