/**
 * The console's parts on their own: static files from a directory of our own (traversal to a file
 * beside it, missing bundle → 503), sessions (bounded count, expiry, password checks against real SCRAM
 * credentials), and the metrics history ring (bounded, rates from the broker's counters).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConsoleError } from '../../src/console/console-error.ts';
import { ConsoleSessions, SESSION_COOKIE } from '../../src/console/console-sessions.ts';
import { MetricsHistory } from '../../src/console/metrics-history.ts';
import { StaticFiles } from '../../src/console/static-files.ts';
import { createScramCredential, type ScramCredential, type ScramMechanism } from '../../src/services/security/scram.ts';
import { KafscaleMetrics } from '../../src/telemetry/metrics.ts';

describe('static files', () => {
  let dir: string;
  let server: Server;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kafscale-static-'));
    mkdirSync(join(dir, 'static'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'secret.txt'), 'TOP SECRET');
    writeFileSync(join(dir, 'static', 'index.html'), '<html>console</html>');
    writeFileSync(join(dir, 'static', 'app.js'), 'console.log(1)');
    const bundle = new StaticFiles(join(dir, 'static'));
    const empty = new StaticFiles(join(dir, 'empty'));
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      void (path.startsWith('/empty/') ? empty.serve(req, res, path.slice('/empty'.length)) : bundle.serve(req, res, path));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The path sent as given (fetch and URL parsing would normalise the dots away). */
  function raw(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ hostname: '127.0.0.1', port, path, method: 'GET' }, (res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('serves the bundle; never a file outside its directory', async () => {
    assert.equal((await raw('/ui/')).body, '<html>console</html>');
    assert.equal((await raw('/ui/app.js')).body, 'console.log(1)');
    for (const path of ['/ui/../secret.txt', '/ui/%2e%2e/secret.txt', '/ui/..%2fsecret.txt', '/ui/%2e%2e%2fsecret.txt', '/ui/..%5csecret.txt', '/ui/%00/../secret.txt', '/ui/./../secret.txt', '/ui/%252e%252e/secret.txt']) {
      const response = await raw(path);
      assert.notEqual(response.body, 'TOP SECRET', path);
      assert.ok(response.status === 404 || response.body === '<html>console</html>', `${path}: ${response.status}`);
    }
    assert.equal((await raw('/ui/secret.txt')).status, 404);
    assert.equal((await raw('/ui')).status, 301);
  });

  test('a missing bundle is a 503 that says so', async () => {
    const response = await raw('/empty/ui/');
    assert.equal(response.status, 503);
    assert.match(response.body, /console bundle is missing/);
  });
});

describe('console sessions', () => {
  const credentials = new Map<string, ScramCredential>([['alice/SCRAM-SHA-256', createScramCredential('SCRAM-SHA-256', 'wonderland', 4096)]]);
  const lookup = (user: string, mechanism: ScramMechanism): ScramCredential | undefined => credentials.get(`${user}/${mechanism}`);
  const request = (cookie?: string): IncomingMessage => ({ headers: cookie === undefined ? {} : { cookie }, socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;
  const cookieOf = (setCookie: string): string => setCookie.split(';')[0] ?? '';

  test('a correct SCRAM password gives a session; a wrong one or an unknown user is 401', async () => {
    const sessions = new ConsoleSessions({ mode: 'sasl', secureCookies: true, failureDelayMs: 0, lookup });
    const login = await sessions.login('alice', 'wonderland');
    assert.match(login.cookie, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$`));
    const caller = sessions.caller(request(cookieOf(login.cookie)));
    assert.equal(caller?.principal, 'User:alice');
    assert.equal(caller?.user, 'alice');
    assert.equal(sessions.isLive(caller?.sessionId ?? ''), true);
    await assert.rejects(sessions.login('alice', 'Wonderland'), (e: ConsoleError) => e.status === 401);
    await assert.rejects(sessions.login('bob', 'wonderland'), (e: ConsoleError) => e.status === 401);
    assert.equal(sessions.caller(request()), null);
    assert.equal(sessions.caller(request(`${SESSION_COOKIE}=forged`)), null);
  });

  test('sessions expire and their number is bounded', async () => {
    let now = 1_000_000;
    const sessions = new ConsoleSessions({ mode: 'sasl', secureCookies: false, failureDelayMs: 0, lookup, lifetimeMs: 60_000, maxSessions: 3, now: () => now });
    const cookies = [];
    for (let i = 0; i < 5; i++) cookies.push(cookieOf((await sessions.login('alice', 'wonderland')).cookie));
    assert.equal(sessions.size, 3);
    assert.equal(sessions.caller(request(cookies[0])), null, 'the oldest sessions were evicted');
    assert.notEqual(sessions.caller(request(cookies[4])), null);
    now += 60_000;
    assert.equal(sessions.caller(request(cookies[4])), null, 'expired');
  });

  test('without SASL: anonymous callers, no login', async () => {
    const sessions = new ConsoleSessions({ mode: 'none', secureCookies: false, failureDelayMs: 0, lookup });
    assert.equal(sessions.caller(request())?.principal, 'User:ANONYMOUS');
    await assert.rejects(sessions.login('alice', 'wonderland'), (e: ConsoleError) => e.status === 400);
  });
});

describe('metrics history', () => {
  test('rates from the topic counters; the ring keeps at most `capacity` points', async () => {
    const metrics = new KafscaleMetrics();
    let now = 0;
    const history = new MetricsHistory(metrics, { capacity: 5, now: () => now });
    await history.sample();
    for (let i = 1; i <= 8; i++) {
      metrics.topicBytesInTotal.inc({ topic: 'a' }, 1_000 * i);
      metrics.topicRecordsInTotal.inc({ topic: 'a' }, 10);
      metrics.topicBytesOutTotal.inc({ topic: 'b' }, 500);
      now += 10_000;
      await history.sample();
    }
    const points = history.points();
    assert.equal(points.length, 5);
    assert.deepEqual(points.map((p) => p.t), [40_000, 50_000, 60_000, 70_000, 80_000]);
    assert.equal(points.at(-1)?.bytesInPerSec, 800);
    assert.equal(points.at(-1)?.recordsInPerSec, 1);
    assert.equal(points.at(-1)?.bytesOutPerSec, 50);
    assert.equal(history.topicBytesInPerSec('a'), 800);
    assert.equal(history.topicBytesInPerSec('missing'), 0);
  });
});
