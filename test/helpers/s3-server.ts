/**
 * A real S3 protocol server (the `s3rver` npm package) on 127.0.0.1, an OS-chosen port and a temp dir,
 * for contract and fault tests of the S3 adapter.
 *
 * Why a child process: s3rver 3.7 loads and serves on Node 24, but its ListObjectsV2 continuation tokens
 * are DES-encrypted (controllers/bucket.js), and OpenSSL 3 — in Node 17+, so also the system Node 20 —
 * disables DES unless the legacy provider is loaded; every truncated listing then fails with
 * InternalError ("digital envelope routines::unsupported"). `--openssl-legacy-provider` can only be given
 * at process start, so the server runs in its own Node 24 process with that flag (no patching of
 * node_modules, and the test process keeps the default, safer OpenSSL setup). A separate process also
 * makes stop() a real crash (SIGKILL) for fault tests. Store corrections: see s3rver-process.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface S3TestServer {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly port: number;
  /** Kills the server (open connections drop, as in a crash) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./s3rver-process.ts', import.meta.url));
const START_TIMEOUT_MS = 15_000;

/** The broker settings that put its objects on `s3`, reached at `endpoint` (default: s3 itself; e.g. a fault proxy). */
export function brokerS3Env(s3: S3TestServer, endpoint: string = s3.endpoint): Record<string, string> {
  return {
    KAFSCALE_S3_BUCKET: s3.bucket,
    KAFSCALE_S3_ENDPOINT: endpoint,
    KAFSCALE_S3_PATH_STYLE: 'true',
    KAFSCALE_S3_ACCESS_KEY: s3.accessKeyId,
    KAFSCALE_S3_SECRET_KEY: s3.secretAccessKey,
    KAFSCALE_S3_REGION: s3.region,
  };
}

export async function startS3Server(options: { readonly bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'kafscale-test';
  const directory = await mkdtemp(join(tmpdir(), 'kafscale-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, JSON.stringify({ directory, bucket })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    const port = await readPort(child.stdout);
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      port,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function readPort(stdout: NodeJS.ReadableStream): Promise<number> {
  const lines = createInterface({ input: stdout });
  const signal = AbortSignal.timeout(START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      signal.throwIfAborted();
      const parsed = JSON.parse(line) as { port?: unknown };
      if (typeof parsed.port === 'number') return parsed.port;
    }
    throw new Error('s3rver child exited before it reported its port');
  } finally {
    lines.close();
  }
}
