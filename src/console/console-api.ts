/**
 * The web console on the ops listener (docs/console.md): static files under /ui and the JSON API under
 * /api/v1, which reads and acts through the broker's own services (never a Kafka connection to itself),
 * as the caller's principal, checked by the broker's authorizer. Mounted by the app into OpsServer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BrokerServices } from '../broker/broker-services.ts';
import { isKafscaleError } from '../telemetry/kafscale-error.ts';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';
import { ConsoleAccess, Op, Resource } from './console-access.ts';
import type { ConsoleDeps, StoreHealth } from './console-deps.ts';
import { ConsoleError } from './console-error.ts';
import { ConsoleEvents, type ConsoleEventsOptions } from './console-events.ts';
import { CSRF_HEADER, readJsonBody, sendError, sendJson, sendNoContent } from './console-http.ts';
import { ConsoleSessions, UNAUTHENTICATED_WARNING, type ConsoleAuthOptions } from './console-sessions.ts';
import { deleteGroup, resetOffsets } from './group-actions.ts';
import { describeGroup, listGroups } from './groups-view.ts';
import { browseMessages } from './message-browser.ts';
import { MetricsHistory, type MetricsHistoryOptions } from './metrics-history.ts';
import { OverviewView } from './overview-view.ts';
import { StaticFiles } from './static-files.ts';
import { produceTestMessage } from './test-message.ts';
import { addPartitions, alterTopicConfigs, createTopic, deleteTopic } from './topic-actions.ts';
import { describeTopic, listTopics } from './topics-view.ts';

export interface ConsoleApiOptions {
  readonly services: BrokerServices;
  readonly metrics: KafscaleMetrics;
  readonly log: Logger;
  readonly maxBytes: number;
  readonly auth: ConsoleAuthOptions;
  readonly metadataStore: StoreHealth;
  readonly objectStore: StoreHealth;
  /** Where the UI bundle is (default src/console/static). */
  readonly staticDir?: string;
  readonly history?: MetricsHistoryOptions;
  readonly events?: ConsoleEventsOptions;
}

interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly access: ConsoleAccess;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  body(): Promise<Record<string, unknown>>;
}

type Handler = (call: Call) => Promise<void>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

const SEGMENT = '([^/]+)';

/** Body bytes accepted besides a message of maxBytes (JSON quoting, headers, field names). */
const BODY_OVERHEAD_BYTES = 64 * 1024;

export class ConsoleApi {
  readonly sessions: ConsoleSessions;
  readonly history: MetricsHistory;
  readonly events: ConsoleEvents;
  readonly #deps: ConsoleDeps;
  readonly #static: StaticFiles;
  readonly #overview: OverviewView;
  readonly #routes: readonly Route[];
  readonly #log: Logger;
  readonly #bodyLimit: number;

  constructor(options: ConsoleApiOptions) {
    this.#log = options.log;
    this.history = new MetricsHistory(options.metrics, options.history);
    this.#deps = { services: options.services, history: this.history, metadataStore: options.metadataStore, objectStore: options.objectStore, maxBytes: options.maxBytes, log: options.log };
    this.sessions = new ConsoleSessions(options.auth);
    this.#static = new StaticFiles(options.staticDir);
    this.#overview = new OverviewView(this.#deps);
    this.#bodyLimit = options.maxBytes + BODY_OVERHEAD_BYTES;
    const deps = this.#deps;
    this.events = new ConsoleEvents(
      {
        overview: (access) => this.#overview.render(access),
        groups: (access) => listGroups(deps, access),
        topicNames: (access) => deps.services.topics.list().map((t) => t.name).filter((name) => access.can(Op.DESCRIBE, Resource.TOPIC, name)),
        onTopicsChange: (listener) => deps.services.topics.onChange(listener),
        isLive: (access) => access.caller.sessionId === undefined || this.sessions.isLive(access.caller.sessionId),
      },
      options.log,
      options.events,
    );
    this.#routes = this.#table();
  }

  start(): void {
    this.history.start();
  }

  async close(): Promise<void> {
    this.events.close();
    this.history.close();
    this.sessions.close();
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (path === '/ui' || path.startsWith('/ui/')) {
        await this.#static.serve(req, res, path);
        return;
      }
      await this.#api(req, res, path);
    } catch (error) {
      if (error instanceof ConsoleError) {
        sendError(res, error);
        return;
      }
      this.#log.error({ err: error, url: req.url, method: req.method }, 'console request failed');
      const retriable = isKafscaleError(error) && error.retriable;
      sendError(res, new ConsoleError(503, `the broker could not answer: ${(error as Error).message}${retriable ? ' (retriable: try again)' : ''}`));
    }
  }

  async #api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && req.headers[CSRF_HEADER] !== '1') {
      throw new ConsoleError(403, `a ${method} request must carry the header "${CSRF_HEADER}: 1" (cross-site request guard)`);
    }
    const sub = path.slice('/api/v1'.length) || '/';
    if (sub === '/session') {
      await this.#session(req, res, method);
      return;
    }
    const caller = this.sessions.caller(req);
    if (caller === null) throw new ConsoleError(401, 'log in first: POST /api/v1/session with { "user", "password" } (the SASL/SCRAM credentials)');
    const access = new ConsoleAccess(this.#deps.services, caller, this.#log);
    let methodMismatch = false;
    for (const route of this.#routes) {
      const match = route.pattern.exec(sub);
      if (match === null) continue;
      if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) {
        methodMismatch = true;
        continue;
      }
      let params: string[];
      try {
        params = match.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw new ConsoleError(400, `the path ${path} is not validly percent-encoded`);
      }
      const query = new URL(req.url ?? '/', 'http://console').searchParams;
      await route.handler({ req, res, access, params, query, body: () => readJsonBody(req, this.#bodyLimit) });
      return;
    }
    if (methodMismatch) throw new ConsoleError(400, `${method} is not supported on ${path}`);
    throw new ConsoleError(404, `no console API at ${path}; see docs/console.md`);
  }

  async #session(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const sessions = this.sessions;
    if (method === 'GET' || method === 'HEAD') {
      const caller = sessions.caller(req);
      sendJson(res, 200, { authRequired: sessions.authRequired, authMode: sessions.mode, user: caller?.user ?? null, warning: sessions.authRequired ? null : UNAUTHENTICATED_WARNING });
      return;
    }
    if (method === 'POST') {
      const body = await readJsonBody(req, 64 * 1024);
      const user = typeof body.user === 'string' ? body.user : '';
      const password = typeof body.password === 'string' ? body.password : null;
      if (password === null) throw new ConsoleError(400, '"password" must be a string');
      if (sessions.mode === 'sasl' && user === '') throw new ConsoleError(400, '"user" must be a SASL/SCRAM user name');
      const session = await sessions.login(user, password);
      this.#log.info({ user: session.user, host: req.socket.remoteAddress }, 'console login');
      sendJson(res, 200, { user: session.user }, { 'set-cookie': session.cookie });
      return;
    }
    if (method === 'DELETE') {
      sendNoContent(res, { 'set-cookie': sessions.logout(req) });
      return;
    }
    throw new ConsoleError(400, `${method} is not supported on /api/v1/session`);
  }

  #table(): Route[] {
    const deps = this.#deps;
    const route = (method: string, path: string, handler: Handler): Route => ({ method, pattern: new RegExp(`^${path.replaceAll(':p', SEGMENT)}$`), handler });
    return [
      route('GET', '/overview', async ({ res, access }) => sendJson(res, 200, await this.#overview.render(access))),
      route('GET', '/metrics/history', async ({ res }) => sendJson(res, 200, { stepMs: this.history.stepMs, points: this.history.points() })),
      route('GET', '/topics', async ({ res, access }) => sendJson(res, 200, await listTopics(deps, access))),
      route('POST', '/topics', async ({ res, access, body }) => sendJson(res, 201, await createTopic(deps, access, await body()))),
      route('GET', '/topics/:p', async ({ res, access, params }) => sendJson(res, 200, await describeTopic(deps, access, params[0] ?? ''))),
      route('DELETE', '/topics/:p', async ({ res, access, params, query }) => {
        await deleteTopic(deps, access, params[0] ?? '', query.get('confirm'));
        sendNoContent(res);
      }),
      route('PATCH', '/topics/:p/configs', async ({ res, access, params, body }) => sendJson(res, 200, await alterTopicConfigs(deps, access, params[0] ?? '', await body()))),
      route('POST', '/topics/:p/partitions', async ({ res, access, params, body }) => sendJson(res, 200, await addPartitions(deps, access, params[0] ?? '', await body()))),
      route('GET', '/topics/:p/messages', async ({ res, access, params, query }) => sendJson(res, 200, await browseMessages(deps, access, params[0] ?? '', query))),
      route('POST', '/topics/:p/messages', async ({ res, access, params, body }) => sendJson(res, 201, await produceTestMessage(deps, access, params[0] ?? '', await body()))),
      route('GET', '/groups', async ({ res, access }) => sendJson(res, 200, await listGroups(deps, access))),
      route('GET', '/groups/:p', async ({ res, access, params }) => sendJson(res, 200, await describeGroup(deps, access, params[0] ?? ''))),
      route('DELETE', '/groups/:p', async ({ res, access, params }) => {
        await deleteGroup(deps, access, params[0] ?? '');
        sendNoContent(res);
      }),
      route('POST', '/groups/:p/offsets', async ({ res, access, params, body }) => sendJson(res, 200, await resetOffsets(deps, access, params[0] ?? '', await body()))),
      route('GET', '/events', async ({ req, res, access }) => {
        if (!this.events.open(req, res, access)) throw new ConsoleError(503, `too many live event streams (at most ${this.events.maxClients}); close another console tab or poll instead`);
      }),
    ];
  }
}
