/**
 * Runs kcat (librdkafka's command-line client) with `input` on stdin; killed after 30 s. Resolves with
 * its exit code and output, so a test can assert on librdkafka's own error text.
 */
import { spawn, spawnSync } from 'node:child_process';

/** False when kcat can run, else the reason to skip (for `test(..., { skip: kcatMissing })`). */
export const kcatMissing: false | string = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'kcat is not installed (apt-get install kcat)';

export function kcat(args: readonly string[], input = '', timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code: code ?? 1, stdout, stderr });
  }));
}
