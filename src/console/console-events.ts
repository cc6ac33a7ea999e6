/**
 * GET /api/v1/events: server-sent events for live pages (docs/console.md, "Live updates"). Per client:
 * `overview` every 5 s, `topics` (the names it may see) when the topic set changes, `groups` (its groups
 * list) when it changes, checked every 5 s, and a comment heartbeat every 15 s so proxies keep the stream.
 * A stream ends within 5 s of its session's logout or expiry.
 * Bounded: at most `maxClients` streams (503 beyond), a client that does not read is dropped, and
 * close() ends every stream so that the ops listener closes promptly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ConsoleAccess } from './console-access.ts';
import { SECURITY_HEADERS } from './console-http.ts';

export interface ConsoleEventSources {
  overview(access: ConsoleAccess): Promise<unknown>;
  groups(access: ConsoleAccess): Promise<unknown>;
  topicNames(access: ConsoleAccess): string[];
  /** False once the caller's session ended (logout, expiry): its streams are closed. */
  isLive(access: ConsoleAccess): boolean;
  /** Calls back on every change of the topic set; returns the unsubscribe. */
  onTopicsChange(listener: () => void): () => void;
}

export interface ConsoleEventsOptions {
  readonly maxClients?: number;
  readonly overviewMs?: number;
  readonly groupsMs?: number;
  readonly heartbeatMs?: number;
}

interface Client {
  readonly res: ServerResponse;
  readonly access: ConsoleAccess;
  topics: string;
  groups: string;
}

/** Bytes queued for a client that is not reading before it is dropped. */
const MAX_QUEUED_BYTES = 1024 * 1024;

export class ConsoleEvents {
  readonly maxClients: number;
  readonly #sources: ConsoleEventSources;
  readonly #log: Logger;
  readonly #overviewMs: number;
  readonly #groupsMs: number;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<Client>();
  #timers: NodeJS.Timeout[] = [];
  #stopTopics: (() => void) | null = null;
  #topicsPending = false;
  #closed = false;

  constructor(sources: ConsoleEventSources, log: Logger, options: ConsoleEventsOptions = {}) {
    this.#sources = sources;
    this.#log = log;
    this.maxClients = options.maxClients ?? 32;
    this.#overviewMs = options.overviewMs ?? 5_000;
    this.#groupsMs = options.groupsMs ?? 5_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Starts a stream; false when the client limit is reached (the caller answers 503). */
  open(req: IncomingMessage, res: ServerResponse, access: ConsoleAccess): boolean {
    if (this.#closed || this.#clients.size >= this.maxClients) return false;
    const client: Client = { res, access, topics: '', groups: '' };
    this.#clients.add(client);
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const drop = (): void => this.#drop(client);
    req.once('close', drop);
    res.once('close', drop);
    if (this.#clients.size === 1) this.#startTimers();
    void this.#sendOverview(client);
    this.#sendTopics(client);
    void this.#sendGroups(client);
    return true;
  }

  close(): void {
    this.#closed = true;
    for (const client of [...this.#clients]) {
      client.res.end();
      this.#drop(client);
    }
    this.#stopTimers();
  }

  #drop(client: Client): void {
    if (!this.#clients.delete(client)) return;
    if (!client.res.writableEnded) client.res.end();
    if (this.#clients.size === 0) this.#stopTimers();
  }

  #startTimers(): void {
    const every = (ms: number, task: () => void): void => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    // One computation per principal and tick: clients of the same user share it.
    every(this.#overviewMs, () => {
      const shared = new Map<string, Promise<unknown>>();
      for (const client of this.#clients) {
        if (this.#sources.isLive(client.access)) void this.#sendOverview(client, shared);
        else this.#drop(client);
      }
    });
    every(this.#groupsMs, () => {
      const shared = new Map<string, Promise<unknown>>();
      for (const client of this.#clients) void this.#sendGroups(client, shared);
    });
    every(this.#heartbeatMs, () => {
      for (const client of this.#clients) this.#write(client, ': heartbeat\n\n');
    });
    this.#stopTopics = this.#sources.onTopicsChange(() => {
      // Changes arrive in bursts (a watch batch, many creates): one pass per tick.
      if (this.#topicsPending) return;
      this.#topicsPending = true;
      setImmediate(() => {
        this.#topicsPending = false;
        for (const client of this.#clients) this.#sendTopics(client);
      });
    });
  }

  #stopTimers(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    this.#stopTopics?.();
    this.#stopTopics = null;
  }

  async #sendOverview(client: Client, shared = new Map<string, Promise<unknown>>()): Promise<void> {
    try {
      this.#event(client, 'overview', JSON.stringify(await once(shared, client, () => this.#sources.overview(client.access))));
    } catch (error) {
      this.#log.debug({ err: error }, 'console overview event failed');
    }
  }

  #sendTopics(client: Client): void {
    const body = JSON.stringify({ names: this.#sources.topicNames(client.access) });
    if (body === client.topics) return;
    client.topics = body;
    this.#event(client, 'topics', body);
  }

  async #sendGroups(client: Client, shared = new Map<string, Promise<unknown>>()): Promise<void> {
    try {
      const body = JSON.stringify(await once(shared, client, () => this.#sources.groups(client.access)));
      if (body === client.groups) return;
      client.groups = body;
      this.#event(client, 'groups', body);
    } catch (error) {
      this.#log.debug({ err: error }, 'console groups event failed');
    }
  }

  #event(client: Client, name: string, data: string): void {
    this.#write(client, `event: ${name}\ndata: ${data}\n\n`);
  }

  #write(client: Client, text: string): void {
    if (!this.#clients.has(client)) return;
    if (client.res.writableLength > MAX_QUEUED_BYTES) {
      this.#log.info({ queuedBytes: client.res.writableLength }, 'console event stream not read; dropping it');
      this.#drop(client);
      return;
    }
    client.res.write(text);
  }
}

function once(shared: Map<string, Promise<unknown>>, client: Client, compute: () => Promise<unknown>): Promise<unknown> {
  const key = client.access.caller.principal;
  let result = shared.get(key);
  if (result === undefined) shared.set(key, (result = compute()));
  return result;
}
