/**
 * Runs the real `kafscale` entrypoint as a child process (the Node running the tests, so Node 24),
 * with a clean KAFSCALE_* environment, and collects its exit code and output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = join(repoRoot, 'src', 'bin', 'kafscale.ts');
const RUN_TIMEOUT_MS = 30_000;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export async function kafscale(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KAFSCALE_')) delete env[name];
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [ENTRY, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? RUN_TIMEOUT_MS;
  const code = await new Promise<number | null>((resolveExit, rejectExit) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectExit(new Error(`kafscale ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolveExit(exitCode);
    });
  });
  return { code, stdout, stderr };
}

/** `kafscale` with `--bootstrap` set; asserts nothing. */
export function against(bootstrap: string): (args: readonly string[], options?: RunOptions) => Promise<CliResult> {
  return (args, options) => kafscale(['--bootstrap', bootstrap, ...args], options);
}

/** The result of a run that must succeed: exit 0, or an assertion that shows what the CLI printed. */
export function ok(result: CliResult): CliResult {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}
