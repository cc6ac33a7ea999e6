/**
 * Request and response plumbing of the console: security headers on every answer, JSON bodies read with
 * a byte limit, JSON answers and error answers in the contract's shape (docs/console.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConsoleError } from './console-error.ts';

/**
 * Same-origin only: scripts, styles, fetches and images from the console itself, no framing (clickjacking),
 * no inline script. The bundle is built to need nothing else.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The header a non-GET API request must carry (a cross-site form or image cannot set it). */
export const CSRF_HEADER = 'x-kafscale-console';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string | string[]>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendNoContent(res: ServerResponse, headers: Readonly<Record<string, string | string[]>> = {}): void {
  res.writeHead(204, { ...SECURITY_HEADERS, 'cache-control': 'no-store', ...headers }).end();
}

export function sendError(res: ServerResponse, error: ConsoleError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, error.status, { error: { code: error.publicCode, message: error.message } });
}

/**
 * The request's JSON body: 413 past `maxBytes` (the stream is not read further), 400 when it is not
 * JSON or not an object.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (bytes === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new ConsoleError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConsoleError(400, 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function tooLarge(maxBytes: number): ConsoleError {
  return new ConsoleError(413, `the request body is larger than ${maxBytes} bytes (KAFSCALE_CONSOLE_MAX_BYTES bounds it)`);
}

/** Reads one field of a parsed body with its expected type; 400 naming the field otherwise. */
export const field = {
  string(body: Record<string, unknown>, name: string): string {
    const value = body[name];
    if (typeof value !== 'string') throw new ConsoleError(400, `"${name}" must be a string`);
    return value;
  },
  optionalString(body: Record<string, unknown>, name: string): string | null | undefined {
    const value = body[name];
    if (value === undefined || value === null || typeof value === 'string') return value;
    throw new ConsoleError(400, `"${name}" must be a string or null`);
  },
  integer(body: Record<string, unknown>, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = body[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new ConsoleError(400, `"${name}" must be an integer from ${min} to ${max}`);
    return value;
  },
  optionalInteger(body: Record<string, unknown>, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    return body[name] === undefined || body[name] === null ? undefined : field.integer(body, name, min, max);
  },
  boolean(body: Record<string, unknown>, name: string, fallback: boolean): boolean {
    const value = body[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new ConsoleError(400, `"${name}" must be true or false`);
    return value;
  },
  stringMap(body: Record<string, unknown>, name: string): Record<string, string> {
    const value = body[name];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConsoleError(400, `"${name}" must be an object of string values`);
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new ConsoleError(400, `"${name}.${key}" must be a string`);
      out[key] = v;
    }
    return out;
  },
};

/** A query parameter as an integer in range, or the fallback when absent; 400 otherwise. */
export function queryInteger(query: URLSearchParams, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConsoleError(400, `query parameter "${name}" must be an integer from ${min} to ${max} (got ${raw})`);
  return value;
}
