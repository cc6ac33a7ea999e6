/**
 * Runs `kafscale proxy` as a child process on loopback ports in front of the given brokers, and waits
 * until /readyz says it has fresh metadata.
 *
 *   const proxy = await startProxy({ bootstrap: cluster.bootstrap });
 *   after(() => proxy.stop());
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ClusterFixture } from '../helpers/cluster.ts';
import { freePort } from '../helpers/free-port.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = join(repoRoot, 'src', 'bin', 'kafscale.ts');
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 15_000;
const MAX_LOG_CHARS = 2 * 1024 * 1024;

export interface ProxyProcess {
  readonly host: string;
  readonly port: number;
  /** Every virtual broker's port (consecutive, from `port`). */
  readonly ports: readonly number[];
  readonly opsPort: number;
  /** `host:port` for clients. */
  readonly bootstrap: string;
  readonly pid: number;
  logs(): string;
  /** SIGTERM (drain), SIGKILL after 15 s; resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>;
  /** GET on the ops listener: status and body. */
  ops(path: string): Promise<{ status: number; body: string }>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * One proxy in front of a cluster fixture's brokers for a whole test file: started when the first test
 * asks for it (the fixture's cluster exists only once a test runs), stopped with the cluster, and
 * required to drain and exit 0 on SIGTERM.
 *
 *   const proxyOf = proxyInFrontOf(fixture);
 *   beforeEach(async () => { proxy = await proxyOf(); });
 */
export function proxyInFrontOf(fixture: ClusterFixture, options: { readonly virtualBrokers?: number } = {}): () => Promise<ProxyProcess> {
  let starting: Promise<ProxyProcess> | null = null;
  return () =>
    (starting ??= startProxy({ bootstrap: fixture.cluster.bootstrap, ...options }).then((started) => {
      fixture.stops.push(async () => {
        assert.equal(await started.stop(), 0, 'the proxy drains and exits 0 on SIGTERM');
      });
      return started;
    }));
}

export async function startProxy(options: {
  bootstrap: string;
  env?: Readonly<Record<string, string>>;
  logLevel?: string;
  /** Wait for /readyz (default) or only /healthz (a proxy whose brokers are unreachable never gets ready). */
  waitFor?: '/readyz' | '/healthz';
  /** KAFSCALE_PROXY_VIRTUAL_BROKERS (default: the proxy's default); the proxy listens on that many consecutive ports. */
  virtualBrokers?: number;
}): Promise<ProxyProcess> {
  const host = '127.0.0.1';
  const count = options.virtualBrokers ?? 1;
  const port = count === 1 ? await freePort(host) : await freePortRange(host, count);
  const ports = Array.from({ length: count }, (_, i) => port + i);
  let opsPort = await freePort(host);
  for (let attempt = 0; ports.includes(opsPort) && attempt < 5; attempt++) opsPort = await freePort(host);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KAFSCALE_')) delete env[name];
  Object.assign(env, {
    KAFSCALE_PROXY_ADDR: `${host}:${port}`,
    KAFSCALE_PROXY_ADVERTISED_HOST: host,
    KAFSCALE_PROXY_ADVERTISED_PORT: String(port),
    KAFSCALE_PROXY_BOOTSTRAP: options.bootstrap,
    KAFSCALE_METRICS_ADDR: `${host}:${opsPort}`,
    KAFSCALE_LOG_LEVEL: options.logLevel ?? 'warn',
    ...(options.virtualBrokers === undefined ? {} : { KAFSCALE_PROXY_VIRTUAL_BROKERS: String(options.virtualBrokers) }),
    ...options.env,
  });
  const child = spawn(process.execPath, [ENTRY, 'proxy'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > MAX_LOG_CHARS) output = output.slice(output.length - MAX_LOG_CHARS / 2);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => {
      live.delete(child);
      exitCode = code;
      resolveExit(code);
    }),
  );

  const ops = async (path: string): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://${host}:${opsPort}${path}`, { signal: AbortSignal.timeout(2_000) });
    return { status: response.status, body: await response.text() };
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the proxy exited (code ${String(exitCode)}) before it was ready:\n${output}`);
    try {
      if ((await ops(options.waitFor ?? '/readyz')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the proxy was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(100);
  }

  let stopping: Promise<number | null> | null = null;
  return {
    host,
    port,
    ports,
    opsPort,
    bootstrap: `${host}:${port}`,
    pid: child.pid ?? -1,
    logs: () => output,
    ops,
    stop() {
      stopping ??= (async () => {
        if (exitCode !== undefined) return exitCode;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        const code = await exited;
        clearTimeout(timer);
        return code;
      })();
      return stopping;
    },
  };
}

/** The first of `count` consecutive ports that were all free a moment ago (same race as freePort). */
async function freePortRange(host: string, count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort(host);
    if (first + count - 1 > 65535) continue;
    const held: Server[] = [];
    let free = true;
    for (let port = first; port < first + count && free; port++) {
      const server = createServer();
      free = await new Promise<boolean>((resolveListen) => {
        server.once('error', () => resolveListen(false));
        server.listen(port, host, () => resolveListen(true));
      });
      if (free) held.push(server);
    }
    await Promise.all(held.map((server) => new Promise<void>((resolveClose) => server.close(() => resolveClose()))));
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports on ${host}`);
}
