import { spawn } from 'node:child_process';

export interface ProcessOutcome {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time from spawn to exit. */
  readonly seconds: number;
}

export interface RunProcessOptions {
  readonly timeoutMs: number;
  /** stdout kept at most (the tail past it is dropped); stderr keeps its last 64 KiB. */
  readonly maxStdoutBytes?: number;
  /** Discard stdout entirely (a consumer printing every message we do not need). */
  readonly ignoreStdout?: boolean;
  /**
   * Each complete stdout line as it arrives (without its newline; a last line without one comes at exit).
   * The lines are then not kept: `stdout` is empty. For outputs too large to hold as one string.
   */
  readonly onStdoutLine?: (line: string) => void;
}

const STDERR_KEEP = 64 * 1024;

/** Runs a command to completion, killing it (SIGKILL) when it outlives `timeoutMs`. Never rejects on exit codes. */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions): Promise<ProcessOutcome> {
  const maxStdout = options.maxStdoutBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', options.ignoreStdout === true ? 'ignore' : 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    const onLine = options.onStdoutLine;
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (onLine !== undefined) {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
        return;
      }
      if (outBytes >= maxStdout) return;
      out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      if (err.length > STDERR_KEEP) err = err.slice(-STDERR_KEEP);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (onLine !== undefined && partial !== '') onLine(partial);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Whether `command args` runs and exits 0 (a presence check). */
export async function commandWorks(command: string, args: readonly string[]): Promise<boolean> {
  try {
    return (await runProcess(command, args, { timeoutMs: 15_000, ignoreStdout: true })).code === 0;
  } catch {
    return false;
  }
}
