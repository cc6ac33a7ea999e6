/**
 * The bench's option checks answer before anything starts: a bad value exits 2 naming the option.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

function bench(...args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, ['--no-warnings', RUN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stderr: run.stderr };
}

describe('npm run bench: soak options', () => {
  for (const [args, message] of [
    [['--soak', '0'], /--soak takes whole minutes from 1 to 1440, got '0'/],
    [['--soak', '1', '--soak-share', '1.5'], /--soak-share takes a share of the maximum rate, 0 < F <= 1, got '1.5'/],
    [['--soak', '1', '--soak-rate', '0'], /--soak-rate takes whole messages per second from 1 to 1000000, got '0'/],
    [['--soak', '1', '--soak-rate', '2.5'], /--soak-rate takes whole messages per second from 1 to 1000000, got '2.5'/],
    [['--soak', '1', '--soak-rate', 'fast'], /--soak-rate takes whole messages per second/],
  ] as const) {
    it(`${args.join(' ')}: exit 2 with ${message.source.slice(0, 40)}…`, () => {
      const run = bench(...args);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
    });
  }
});
