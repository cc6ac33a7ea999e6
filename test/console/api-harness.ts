/**
 * A real broker (embedded store, loopback, random ports) with the console on, and a small HTTP client for
 * its API that keeps the session cookie and sends the CSRF header unless told not to.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerApp } from '../../src/app/broker-app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

export interface ConsoleBroker {
  readonly app: BrokerApp;
  readonly dir: string;
  readonly base: string;
  readonly bootstrap: string;
  close(): Promise<void>;
}

export async function startConsoleBroker(env: Readonly<Record<string, string>> = {}, dir?: string): Promise<ConsoleBroker> {
  const dataDir = dir ?? (await mkdtemp(join(tmpdir(), 'kafscale-console-')));
  const config = loadConfig({
    argv: [],
    env: {
      KAFSCALE_DATA_DIR: dataDir,
      KAFSCALE_BROKER_ADDR: '127.0.0.1:0',
      KAFSCALE_METRICS_ADDR: '127.0.0.1:0',
      KAFSCALE_BROKER_HOST: '127.0.0.1',
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFSCALE_CONSOLE: 'true',
      ...env,
    },
    cwd: dataDir,
  });
  const app = new BrokerApp(config, silentLogger());
  await app.start();
  return {
    app,
    dir: dataDir,
    base: `http://127.0.0.1:${app.opsPort}`,
    bootstrap: `127.0.0.1:${app.kafkaPort}`,
    async close() {
      await app.close();
      if (dir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

export class ConsoleClient {
  readonly base: string;
  cookie: string | null = null;

  constructor(base: string) {
    this.base = base;
  }

  async call(method: string, path: string, options: { body?: unknown; rawBody?: string; csrf?: boolean; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.csrf !== false && method !== 'GET') headers['x-kafscale-console'] = '1';
    if (this.cookie !== null) headers.cookie = this.cookie;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.base + path, { method, headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie !== null) {
      const value = setCookie.split(';')[0] ?? '';
      this.cookie = value.endsWith('=') ? null : value;
    }
    const text = await response.text();
    let json: unknown = null;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') json = JSON.parse(text);
    return { status: response.status, headers: response.headers, text, json };
  }

  get(path: string): Promise<ApiResponse> {
    return this.call('GET', path);
  }
}
