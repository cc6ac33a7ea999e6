/**
 * A real etcd for tests: one member on 127.0.0.1 with OS-chosen free client and peer ports and a
 * temporary data directory. stop()/kill()/restart() keep the ports and data so outage tests can
 * take etcd away and bring the same cluster back.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdServer {
  /** http://127.0.0.1:<clientPort> */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data directory and waits until it is healthy. */
  restart(): Promise<void>;
  /** Kills etcd (if running) and deletes the data directory; idempotent. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function assertEtcdInstalled(binary: string): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`etcd is not installed at ${binary}; install the Debian package etcd-server (apt-get install etcd-server) to run the etcd metadata store tests`);
  }
}

export async function startEtcdServer(options: { readonly binary?: string; readonly startTimeoutMs?: number } = {}): Promise<EtcdServer> {
  const binary = options.binary ?? ETCD_BINARY;
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  assertEtcdInstalled(binary);
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'kafscale-etcd-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'kafscale-test',
    '--data-dir', dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `kafscale-test=${peer}`,
    '--initial-cluster-state', 'new',
    // Short ticks let tests use 1 s leases (etcd's minimum TTL is 1.5 election timeouts, rounded up).
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
    '--log-level', 'error',
  ];
  let child: ChildProcess | null = null;
  let stderrTail = '';

  const waitForExit = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const launch = async (): Promise<void> => {
    stderrTail = '';
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    // If the test process dies without running its after() hooks, do not leave etcd behind.
    const killOnExit = (): void => {
      proc.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    proc.once('exit', () => process.removeListener('exit', killOnExit));
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    let exitedEarly = false;
    proc.once('exit', () => {
      exitedEarly = true;
    });
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitedEarly) throw new Error(`etcd exited during start (${binary} ${args.join(' ')}):\n${stderrTail}`);
      try {
        const response = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await response.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitForExit('SIGKILL');
    throw new Error(`etcd did not become healthy within ${startTimeoutMs} ms:\n${stderrTail}`);
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  return {
    endpoint: client,
    clientPort,
    peerPort,
    dataDir,
    stop: () => waitForExit('SIGTERM'),
    kill: () => waitForExit('SIGKILL'),
    restart: async () => {
      await waitForExit('SIGTERM');
      await launch();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await waitForExit('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
