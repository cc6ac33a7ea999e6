/**
 * Who is calling the console API. With a SASL listener the console logs users in with their SCRAM
 * password (checked against the stored credential: SaltedPassword from the stored salt and iterations →
 * StoredKey, compared in constant time) and every call acts as `User:<name>`. Without SASL but with an ops
 * token the token is the password; without either the console is unauthenticated (docs/design/console.md).
 * Sessions are random ids in an HttpOnly, SameSite=Strict cookie, bounded in lifetime and in number.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScramCredential, ScramMechanism } from '../services/security/index.ts';
import { createScramCredential } from '../services/security/index.ts';
import { ConsoleError } from './console-error.ts';
import { passwordMatches } from './password-check.ts';

export type ConsoleAuthMode = 'sasl' | 'token' | 'none';

export interface ConsoleAuthOptions {
  readonly mode: ConsoleAuthMode;
  /** The ops bearer token (mode 'token'). */
  readonly token?: string;
  /** Set the cookie's Secure flag (the ops listener serves HTTPS). */
  readonly secureCookies: boolean;
  /** connection.failed.authentication.delay.ms, applied to a failed login as on the Kafka listener. */
  readonly failureDelayMs: number;
  readonly lookup: (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;
  readonly lifetimeMs?: number;
  readonly maxSessions?: number;
  readonly now?: () => number;
}

export interface ConsoleCaller {
  /** The principal the authorizer sees: `User:<name>`, or `User:ANONYMOUS` without SASL. */
  readonly principal: string;
  /** The logged-in user; null when unauthenticated. */
  readonly user: string | null;
  readonly remoteAddress?: string;
  /** The session behind a logged-in caller (live streams end when it does). */
  readonly sessionId?: string;
}

export const SESSION_COOKIE = 'kafscale_console';
const ANONYMOUS = 'User:ANONYMOUS';
const DEFAULT_LIFETIME_MS = 8 * 60 * 60 * 1000;
const DEFAULT_MAX_SESSIONS = 1_000;
/** Checked when a user is unknown, so that a wrong user name costs as long as a wrong password. */
const DECOY = createScramCredential('SCRAM-SHA-512', randomBytes(16).toString('hex'));

interface Session {
  readonly user: string;
  readonly principal: string;
  readonly expiresMs: number;
}

export const UNAUTHENTICATED_WARNING = 'This console is unauthenticated: the broker has no SASL listener, so anyone who can reach the ops listener can read messages and change topics and groups. Turn on a SASL listener to require a login (docs/design/console.md).';

export class ConsoleSessions {
  readonly #options: ConsoleAuthOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #lifetimeMs: number;
  readonly #maxSessions: number;
  readonly #now: () => number;
  readonly #tokenDigest: Buffer | null;

  constructor(options: ConsoleAuthOptions) {
    this.#options = options;
    this.#lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#now = options.now ?? Date.now;
    this.#tokenDigest = options.token === undefined ? null : digest(options.token);
  }

  get authRequired(): boolean {
    return this.#options.mode !== 'none';
  }

  get mode(): ConsoleAuthMode {
    return this.#options.mode;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The caller of a request; null when a login is required and the request has no live session. */
  caller(req: IncomingMessage): ConsoleCaller | null {
    const remoteAddress = req.socket.remoteAddress;
    const base = remoteAddress === undefined ? {} : { remoteAddress };
    if (!this.authRequired) return { principal: ANONYMOUS, user: null, ...base };
    const id = sessionIdOf(req);
    if (id === null) return null;
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    if (session.expiresMs <= this.#now()) {
      this.#sessions.delete(id);
      return null;
    }
    return { principal: session.principal, user: session.user, sessionId: id, ...base };
  }

  /** Whether a session still exists and has not expired. */
  isLive(id: string): boolean {
    const session = this.#sessions.get(id);
    return session !== undefined && session.expiresMs > this.#now();
  }

  /** Checks the password; on success a new session id and its Set-Cookie header. 401 (after the failure delay) otherwise. */
  async login(user: string, password: string): Promise<{ user: string; cookie: string }> {
    if (!this.authRequired) throw new ConsoleError(400, 'this console has no login: the broker has no SASL listener (see the session warning)');
    const principal = await this.#verify(user, password);
    if (principal === null) {
      await sleep(this.#options.failureDelayMs);
      throw new ConsoleError(401, this.#options.mode === 'token' ? 'wrong token: give the ops token (KAFSCALE_OPS_TOKEN_FILE) as the password' : 'Authentication failed: invalid user name or password', 'SASL_AUTHENTICATION_FAILED');
    }
    this.#prune();
    while (this.#sessions.size >= this.#maxSessions) {
      // Oldest first (insertion order): a flood of logins cannot grow memory without bound.
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const name = this.#options.mode === 'token' ? 'ops-token' : user;
    this.#sessions.set(id, { user: name, principal: principal, expiresMs: this.#now() + this.#lifetimeMs });
    return { user: name, cookie: this.#cookie(id, Math.floor(this.#lifetimeMs / 1000)) };
  }

  /** Ends the request's session; the Set-Cookie header that clears the cookie. */
  logout(req: IncomingMessage): string {
    const id = sessionIdOf(req);
    if (id !== null) this.#sessions.delete(id);
    return this.#cookie('', 0);
  }

  close(): void {
    this.#sessions.clear();
  }

  /** The principal for a correct password, else null. */
  async #verify(user: string, password: string): Promise<string | null> {
    if (this.#options.mode === 'token') {
      const expected = this.#tokenDigest;
      return expected !== null && timingSafeEqual(digest(password), expected) ? ANONYMOUS : null;
    }
    let ok = false;
    let found = false;
    for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const) {
      const credential = this.#options.lookup(user, mechanism);
      if (credential === undefined) continue;
      found = true;
      if (await passwordMatches(mechanism, credential, password)) {
        ok = true;
        break;
      }
    }
    if (!found) await passwordMatches('SCRAM-SHA-512', DECOY, password);
    return ok ? `User:${user}` : null;
  }

  #prune(): void {
    const now = this.#now();
    for (const [id, session] of this.#sessions) if (session.expiresMs <= now) this.#sessions.delete(id);
  }

  #cookie(value: string, maxAgeSeconds: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${this.#options.secureCookies ? '; Secure' : ''}`;
  }
}

function sessionIdOf(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) {
      const value = rest.join('=');
      return value === '' ? null : value;
    }
  }
  return null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
