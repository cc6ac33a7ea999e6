/**
 * The console's static files (index.html, app.js, app.css — the esbuild bundle under src/console/static/)
 * served under /ui/. Paths are resolved inside that directory only; anything that would leave it is 404.
 * A path without an extension is a client-side route and gets index.html.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS } from './console-http.ts';

export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export class StaticFiles {
  readonly #root: string;

  constructor(root: string = DEFAULT_STATIC_DIR) {
    this.#root = resolve(root);
  }

  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed: the console files are read with GET\n');
      return;
    }
    if (path === '/ui') {
      res.writeHead(301, { ...SECURITY_HEADERS, location: '/ui/' }).end();
      return;
    }
    const file = this.#resolve(path.slice('/ui/'.length));
    if (file === null) {
      res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (file.endsWith(`${sep}index.html`)) {
        res.writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'retry-after': '60' })
          .end(`the console bundle is missing: ${file} does not exist. Build it (docs/console.md, "Building the UI") or use the JSON API under /api/v1.\n`);
      } else {
        res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      }
      return;
    }
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    const headers = {
      ...SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      // Revalidated on every load (cheap: 304 by ETag), so a new broker version's bundle is picked up at once.
      'cache-control': 'no-cache',
      etag,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** The file for a path below /ui/, or null when it is not a plain path inside the root. */
  #resolve(rest: string): string | null {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return null;
    const segments = decoded.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return null;
    if (segments.length === 0 || extname(segments.at(-1) ?? '') === '') return resolve(this.#root, 'index.html');
    const file = resolve(this.#root, ...segments);
    return file.startsWith(this.#root + sep) ? file : null;
  }
}
