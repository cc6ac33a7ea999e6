#!/usr/bin/env node
/**
 * The kafscale entrypoint (`npm start`, the image, the bin link). `kafscale broker` first settles the
 * runtime's memory settings (broker-relaunch.ts) by re-executing itself in place, before any module of
 * the program is loaded; then the command runs (kafscale-command.ts).
 */
import { fileURLToPath } from 'node:url';
import { brokerRelaunch, COMPILE_CACHE_DIR } from './broker-relaunch.ts';

// process.execve exists on POSIX systems only (not on Windows). `compile-cache` fills the broker's compile
// cache (the image build runs it), so it runs with the broker's settings: the cache is per set of flags.
const relaunched = process.argv[2] === 'broker' || process.argv[2] === 'compile-cache';
if (relaunched && process.platform !== 'win32' && typeof process.execve === 'function') {
  const relaunch = brokerRelaunch(process, fileURLToPath(new URL(`../../${COMPILE_CACHE_DIR}`, import.meta.url)));
  // Replaces this process (same pid); it does not return.
  if (relaunch !== null) process.execve(process.execPath, relaunch.args, relaunch.env as NodeJS.ProcessEnv);
}

// Not a top-level await: a command that never settles (a running broker or proxy) must not make the
// process exit with 13 when its event loop ends.
import('./kafscale-command.ts').then(({ main }) => main(process.argv.slice(2))).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`kafscale: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
