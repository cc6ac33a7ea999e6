/**
 * The one way the UI talks to the broker: JSON in and out under /api/v1, the CSRF header on every
 * change, and an ApiError that carries the message from the API's error body so the page can show it.
 */
export const API_BASE = '/api/v1';

/** Fired on window when a call answers 401: the session is gone. */
export const UNAUTHENTICATED_EVENT = 'kafscale-unauthenticated';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

let inFlight = 0;
let idleWaiters: (() => void)[] = [];

/** Resolves once no API call is in flight (the live stream starts after the page's first reads). */
export function whenIdle(): Promise<void> {
  return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
}

export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  inFlight++;
  try {
    return await call<T>(method, path, body);
  } finally {
    inFlight--;
    if (inFlight === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-kafscale-console'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `The broker did not answer (${(error as Error).message}). Is it running?`);
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const error = errorFrom(response, parsed, text);
    // A session that expired (or a cookie cleared elsewhere): the app shows the login form again.
    if (response.status === 401 && path !== '/session') dispatchEvent(new Event(UNAUTHENTICATED_EVENT));
    throw error;
  }
  return parsed as T;
}

function errorFrom(response: Response, parsed: unknown, text: string): ApiError {
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error !== undefined && typeof error.message === 'string') {
    return new ApiError(response.status, typeof error.code === 'string' ? error.code : 'ERROR', error.message);
  }
  const detail = text.trim().slice(0, 200);
  return new ApiError(response.status, 'HTTP_' + response.status, `HTTP ${response.status} ${response.statusText}${detail === '' ? '' : ': ' + detail}`);
}

/** `encodeURIComponent` for a path segment (topic names may hold dots; group ids anything). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
