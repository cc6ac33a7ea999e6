/**
 * Runs a real broker (`node src/bin/kafscale.ts broker`) as a child process on loopback ports, for
 * integration and client-compatibility tests. Every test file that starts one stops it in `after`.
 *
 *   const broker = await startBroker();
 *   after(() => broker.stop());
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BROKER_ENTRY = join(repoRoot, 'src', 'bin', 'kafscale.ts');
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;
/** Keep the tail of the broker's output only; a chatty broker must not grow the test's memory. */
const MAX_LOG_CHARS = 4 * 1024 * 1024;
const LAST_LOG_LINES = 40;

export interface StartBrokerOptions {
  /** Reuse a data directory (it is then not removed by stop()); default: a fresh temp directory. */
  readonly dataDir?: string;
  /** Extra environment (wins over the defaults below), e.g. KAFSCALE_SOCKET_REQUEST_MAX_BYTES. */
  readonly env?: Readonly<Record<string, string>>;
  /** KAFSCALE_LOG_LEVEL; default 'info'. */
  readonly logLevel?: string;
  /**
   * Listener names besides PLAINTEXT (e.g. ['SSL', 'SASL_SSL']): each gets a free loopback port and
   * KAFSCALE_LISTENERS names them all, PLAINTEXT first on `port`. Their ports: `listenerPorts`.
   */
  readonly extraListeners?: readonly string[];
}

export interface BrokerProcess {
  readonly host: string;
  readonly port: number;
  readonly opsPort: number;
  readonly dataDir: string;
  /** The current process id (changes on restart()). */
  readonly pid: number;
  /** `host:port` for clients' bootstrap lists. */
  readonly bootstrap: string;
  /** Port of every listener by name (PLAINTEXT and the `extraListeners`). */
  readonly listenerPorts: Readonly<Record<string, number>>;
  /** Everything the broker printed (stdout and stderr, JSON lines), across restarts. */
  logs(): string;
  /** SIGTERM, wait up to 10 s, then SIGKILL; removes a temp data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); the data dir stays so that restart() can bring the broker back. */
  kill(): Promise<void>;
  /** Stops the broker if it runs (SIGTERM) and starts it again on the same data dir and ports. */
  restart(): Promise<void>;
}

/** Children still running, killed when the test process exits however it exits. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Starts with fresh ports this many times at most when a port was taken before the broker bound it. */
const PORT_RACE_ATTEMPTS = 3;

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBrokerOnce(options);
    } catch (error) {
      // freePort's listen(0) numbers are free when found, but another process (a client's ephemeral
      // port, a parallel test file) can take one before the broker binds it: seen once in a CI run, as
      // EADDRINUSE on an SSL listener that failed a whole file. The next attempt picks new ports.
      if (attempt >= PORT_RACE_ATTEMPTS || !(error instanceof Error) || !error.message.includes('EADDRINUSE')) throw error;
    }
  }
}

async function startBrokerOnce(options: StartBrokerOptions): Promise<BrokerProcess> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  let opsPort = await freePort(host);
  // Two listen(0) calls in a row can in principle return the same number once the first is closed.
  for (let attempt = 0; opsPort === port && attempt < 5; attempt++) opsPort = await freePort(host);
  const listenerPorts: Record<string, number> = { PLAINTEXT: port };
  const taken = new Set([port, opsPort]);
  for (const name of options.extraListeners ?? []) {
    let listenerPort = await freePort(host);
    for (let attempt = 0; taken.has(listenerPort) && attempt < 5; attempt++) listenerPort = await freePort(host);
    taken.add(listenerPort);
    listenerPorts[name] = listenerPort;
  }
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kafscale-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The broker reads only KAFSCALE_* settings; never let the caller's shell leak into a test broker.
  for (const name of Object.keys(env)) if (name.startsWith('KAFSCALE_')) delete env[name];
  Object.assign(env, {
    KAFSCALE_DATA_DIR: dataDir,
    KAFSCALE_BROKER_ADDR: `${host}:${port}`,
    KAFSCALE_BROKER_HOST: host,
    KAFSCALE_BROKER_PORT: String(port),
    KAFSCALE_METRICS_ADDR: `${host}:${opsPort}`,
    KAFSCALE_LOG_LEVEL: options.logLevel ?? 'info',
    // Tests create their topics explicitly; a typo must not silently create one.
    KAFSCALE_AUTO_CREATE_TOPICS: 'false',
    ...(options.extraListeners === undefined
      ? {}
      : { KAFSCALE_LISTENERS: Object.entries(listenerPorts).map(([name, p]) => `${name}://${host}:${p}`).join(',') }),
    ...options.env,
  });

  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > MAX_LOG_CHARS) output = output.slice(output.length - MAX_LOG_CHARS / 2);
  };
  let child: ChildProcess | null = null;
  let stopped = false;

  const lastLines = (): string => output.trimEnd().split('\n').slice(-LAST_LOG_LINES).join('\n');

  const launch = async (): Promise<void> => {
    const started = spawn(process.execPath, [BROKER_ENTRY, 'broker'], {
      cwd: dataDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    liveChildren.add(started);
    started.stdout?.on('data', append);
    started.stderr?.on('data', append);
    const exited = new Promise<string>((resolveExit) => {
      started.once('exit', (code, signal) => {
        liveChildren.delete(started);
        resolveExit(`exited (code ${String(code)}, signal ${String(signal)})`);
      });
      started.once('error', (error) => resolveExit(`could not be spawned: ${error.message}`));
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = 'no attempt';
    while (Date.now() < deadline) {
      const outcome = await Promise.race([
        exited.then((why) => ({ exited: why })),
        probeApiVersions(host, port, 1_000).then(
          () => ({ ready: true as const }),
          (error: unknown) => ({ failed: (error as Error).message }),
        ),
      ]);
      if ('ready' in outcome) return;
      if ('exited' in outcome) {
        throw new Error(`broker ${outcome.exited} before it was ready; last log lines:\n${lastLines()}`);
      }
      lastError = outcome.failed;
      await sleep(100);
    }
    await terminate(started, 'SIGKILL');
    throw new Error(
      `broker not ready on ${host}:${port} within ${READY_TIMEOUT_MS} ms (${lastError}); last log lines:\n${lastLines()}`,
    );
  };

  const removeDataDir = (): void => {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    removeDataDir();
    throw error;
  }

  const current = (): ChildProcess => {
    if (child === null) throw new Error('broker was never started');
    return child;
  };

  return {
    host,
    port,
    opsPort,
    dataDir,
    bootstrap: `${host}:${port}`,
    listenerPorts,
    get pid(): number {
      return current().pid ?? -1;
    },
    logs: () => output,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (child !== null) await terminate(child, 'SIGTERM');
      removeDataDir();
    },
    async kill(): Promise<void> {
      await terminate(current(), 'SIGKILL');
    },
    async restart(): Promise<void> {
      if (stopped) throw new Error('restart() after stop(): the data dir is gone');
      await terminate(current(), 'SIGTERM');
      await launch();
    },
  };
}

/** Sends `signal` and waits for the exit; a SIGTERM that is not honoured within 10 s becomes SIGKILL. */
async function terminate(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill(signal);
  const timer = new Promise<'timeout'>((resolveTimer) => {
    setTimeout(() => resolveTimer('timeout'), STOP_GRACE_MS).unref();
  });
  if ((await Promise.race([exited, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * One ApiVersions v0 round trip in raw bytes (no codec), so readiness does not depend on the code
 * under test beyond the listener answering: size, int16 apiKey 18, int16 version 0, int32 correlation
 * id, int16 client id length + bytes; the response begins with the correlation id and an int16 error
 * code. Resolves with the error code; rejects on refusal, close or timeout.
 */
export async function probeApiVersions(host: string, port: number, timeoutMs: number): Promise<number> {
  const correlationId = 0x6b61_6673; // 'kafs'
  const clientId = Buffer.from('kafscale-test-probe');
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4);
  request.writeInt16BE(0, 6);
  request.writeInt32BE(correlationId, 8);
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);

  return new Promise<number>((resolveProbe, rejectProbe) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (error: Error | null, errorCode?: number): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) rejectProbe(error);
      else resolveProbe(errorCode ?? -1);
    };
    const timer = setTimeout(() => finish(new Error(`no ApiVersions response within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 10) return;
      const gotCorrelationId = received.readInt32BE(4);
      if (gotCorrelationId !== correlationId) {
        finish(new Error(`ApiVersions response has correlation id ${gotCorrelationId}, sent ${correlationId}`));
        return;
      }
      finish(null, received.readInt16BE(8));
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error('connection closed before an ApiVersions response')));
  });
}
