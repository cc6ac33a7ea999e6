/**
 * The native (librdkafka) client the bench measures with. Preferred: `kbench`, the small C program in
 * bench/native/kbench.c, built at bench time against Debian's librdkafka-dev (installed with apt-get
 * when missing and running as root, like scripts/test.ts does). Fallback: kcat, which can produce and
 * consume but not measure end-to-end latency.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandWorks, runProcess } from './run-process.ts';

export interface TransferResult {
  /** Messages delivered (produce: acknowledged; consume: received). */
  readonly count: number;
  readonly bytes: number;
  readonly seconds: number;
}

export interface NativeClient {
  readonly name: string;
  produce(bootstrap: string, topic: string, count: number, sizeBytes: number, timeoutMs: number): Promise<TransferResult>;
  consume(bootstrap: string, topic: string, partitions: number, count: number, timeoutMs: number): Promise<TransferResult>;
  /**
   * Latencies in microseconds at a fixed rate, per record: send to receipt by the consumer (end to end)
   * and send to the producer's acknowledgement; null when this client cannot measure them.
   */
  latency: ((bootstrap: string, topic: string, partitions: number, count: number, sizeBytes: number, ratePerSec: number, timeoutMs: number) => Promise<LatencySeries>) | null;
}

export interface LatencySeries {
  readonly endToEndUs: number[];
  readonly ackUs: number[];
}

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'native', 'kbench.c');
const HEADER = '/usr/include/librdkafka/rdkafka.h';
const BUILD_PACKAGES = ['librdkafka-dev', 'gcc', 'libc6-dev'];

export class BenchClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchClientError';
  }
}

async function ensureBuildTools(log: (line: string) => void): Promise<string | null> {
  const ready = async (): Promise<boolean> => existsSync(HEADER) && (await commandWorks('cc', ['--version']));
  if (await ready()) return null;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !(await commandWorks('apt-get', ['--version']))) {
    return `librdkafka-dev or a C compiler is missing (apt-get install ${BUILD_PACKAGES.join(' ')})`;
  }
  log(`bench: installing ${BUILD_PACKAGES.join(' ')} to build the native client`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const { spawnSync } = await import('node:child_process');
  const update = spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300_000 });
  if (update.status === 0) spawnSync('apt-get', ['install', '-y', ...BUILD_PACKAGES], { stdio: 'ignore', env, timeout: 600_000 });
  return (await ready()) ? null : `installing ${BUILD_PACKAGES.join(' ')} did not succeed`;
}

/** Builds kbench once per source version into the temp dir; returns its path or why it could not. */
export async function buildKbench(log: (line: string) => void): Promise<{ path: string } | { problem: string }> {
  const source = readFileSync(SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `kafscale-kbench-${digest}`);
  const binary = join(dir, 'kbench');
  if (existsSync(binary)) return { path: binary };
  const problem = await ensureBuildTools(log);
  if (problem !== null) return { problem };
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  const built = await runProcess('cc', ['-O2', '-o', partial, SOURCE, '-lrdkafka'], { timeoutMs: 120_000 });
  if (built.code !== 0) return { problem: `cc failed: ${built.stderr.trim().slice(0, 500)}` };
  const { renameSync } = await import('node:fs');
  renameSync(partial, binary);
  return { path: binary };
}

interface KbenchJson {
  error?: string;
  count: number;
  delivered?: number;
  received?: number;
  failed?: number;
  bytes?: number;
  seconds: number;
  firstError?: string;
}

function lastJson(stdout: string, what: string): KbenchJson {
  const line = stdout.trimEnd().split('\n').at(-1) ?? '';
  let parsed: KbenchJson;
  try {
    parsed = JSON.parse(line) as KbenchJson;
  } catch {
    throw new BenchClientError(`${what}: no JSON result (last line ${JSON.stringify(line.slice(0, 200))})`);
  }
  if (parsed.error !== undefined) throw new BenchClientError(`${what}: ${parsed.error}`);
  return parsed;
}

class KbenchClient implements NativeClient {
  readonly name = 'kbench (C, librdkafka)';
  readonly #binary: string;

  constructor(binary: string) {
    this.#binary = binary;
  }

  async produce(bootstrap: string, topic: string, count: number, sizeBytes: number, timeoutMs: number): Promise<TransferResult> {
    const run = await runProcess(this.#binary, ['produce', bootstrap, topic, String(count), String(sizeBytes), 'all'], { timeoutMs });
    const result = lastJson(run.stdout, `kbench produce ${topic}`);
    if (run.code !== 0 || result.delivered !== count) {
      throw new BenchClientError(`kbench produce ${topic}: ${result.delivered ?? 0}/${count} acknowledged, ${result.failed ?? 0} failed (${result.firstError || `exit ${run.code}`})`);
    }
    return { count, bytes: result.bytes ?? count * sizeBytes, seconds: result.seconds };
  }

  async consume(bootstrap: string, topic: string, partitions: number, count: number, timeoutMs: number): Promise<TransferResult> {
    // kbench bounds itself by the timeout; the process timeout is a backstop.
    const run = await runProcess(this.#binary, ['consume', bootstrap, topic, String(partitions), String(count), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
    const result = lastJson(run.stdout, `kbench consume ${topic}`);
    if (run.code !== 0 || result.received !== count) {
      throw new BenchClientError(`kbench consume ${topic}: ${result.received ?? 0}/${count} received within ${timeoutMs} ms (${result.firstError || `exit ${run.code}`})`);
    }
    return { count, bytes: result.bytes ?? 0, seconds: result.seconds };
  }

  latency = async (bootstrap: string, topic: string, partitions: number, count: number, sizeBytes: number, ratePerSec: number, timeoutMs: number): Promise<LatencySeries> => {
    const args = ['latency', bootstrap, topic, String(partitions), String(count), String(sizeBytes), String(ratePerSec), String(timeoutMs)];
    // Two lines per record: a soak minute at 100,000 msg/s prints ~100 MB, more than is worth holding as
    // one string, so the samples are taken line by line and only the last line is kept for the result.
    const endToEndUs: number[] = [];
    const ackUs: number[] = [];
    let last = '';
    const run = await runProcess(this.#binary, args, {
      timeoutMs: timeoutMs + 10_000,
      onStdoutLine: (line) => {
        if (line.startsWith('L ')) endToEndUs.push(Number(line.slice(2)));
        else if (line.startsWith('A ')) ackUs.push(Number(line.slice(2)));
        else if (line.trim() !== '') last = line;
      },
    });
    const result = lastJson(last, `kbench latency ${topic}`);
    if (run.code !== 0 || result.received !== count) {
      throw new BenchClientError(`kbench latency ${topic}: ${result.received ?? 0}/${count} round trips within ${timeoutMs} ms (${result.firstError || `exit ${run.code}`})`);
    }
    return { endToEndUs, ackUs };
  };
}

/** kcat's producer reads one message per line; a payload of `sizeBytes` letters, no newline inside. */
export function writeMessageFile(path: string, count: number, sizeBytes: number): void {
  const line = Buffer.alloc(sizeBytes + 1, 'k');
  line[sizeBytes] = 0x0a;
  const body = Buffer.alloc(line.length * count);
  for (let i = 0; i < count; i++) line.copy(body, i * line.length);
  writeFileSync(path, body);
}

export async function kcatProduceFile(bootstrap: string, topic: string, file: string, timeoutMs: number): Promise<number> {
  const run = await runProcess('kcat', ['-P', '-b', bootstrap, '-t', topic, '-X', 'acks=all', '-X', 'linger.ms=5', '-l', file], { timeoutMs });
  if (run.code !== 0) throw new BenchClientError(`kcat -P ${topic} exited ${run.code ?? run.signal}: ${run.stderr.trim().slice(-500)}`);
  return run.seconds;
}

export async function kcatConsume(bootstrap: string, topic: string, count: number, timeoutMs: number): Promise<number> {
  // -c bounds the count, -q silences informational lines; the messages themselves are discarded.
  const run = await runProcess('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-c', String(count), '-q'], { timeoutMs, ignoreStdout: true });
  if (run.code !== 0) throw new BenchClientError(`kcat -C ${topic} exited ${run.code ?? run.signal} before ${count} messages: ${run.stderr.trim().slice(-500)}`);
  return run.seconds;
}

class KcatClient implements NativeClient {
  readonly name = 'kcat (librdkafka)';
  readonly #dir: string;
  latency = null;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async produce(bootstrap: string, topic: string, count: number, sizeBytes: number, timeoutMs: number): Promise<TransferResult> {
    const file = join(this.#dir, `messages-${count}-${sizeBytes}.txt`);
    if (!existsSync(file)) writeMessageFile(file, count, sizeBytes);
    const seconds = await kcatProduceFile(bootstrap, topic, file, timeoutMs);
    return { count, bytes: count * sizeBytes, seconds };
  }

  async consume(bootstrap: string, topic: string, _partitions: number, count: number, timeoutMs: number): Promise<TransferResult> {
    const seconds = await kcatConsume(bootstrap, topic, count, timeoutMs);
    return { count, bytes: Number.NaN, seconds };
  }
}

/** kbench when it can be built, else kcat; `workDir` holds kcat's message files. */
export async function openNativeClient(workDir: string, log: (line: string) => void, forceKcat = false): Promise<NativeClient> {
  if (!forceKcat) {
    const built = await buildKbench(log);
    if ('path' in built) return new KbenchClient(built.path);
    log(`bench: native client not built (${built.problem}); falling back to kcat`);
  }
  if (!(await commandWorks('kcat', ['-V']))) throw new BenchClientError('neither kbench (librdkafka-dev + cc) nor kcat is available: apt-get install kcat librdkafka-dev gcc');
  return new KcatClient(workDir);
}
