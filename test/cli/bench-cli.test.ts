/**
 * `kafscale bench` runs the benchmark script (bench/run.ts) as its own process: its usage and exit codes
 * come through. The benchmark itself runs in test/bench/bench-short.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../src/bin/kafscale.ts', import.meta.url));

function kafscale(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('kafscale bench --help prints the bench options and exits 0', () => {
  const run = kafscale('bench', '--help');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /kafscale bench \[options\]/);
  assert.match(run.stdout, /--short/);
});

test('kafscale bench with an unknown option is a usage error (exit 2)', () => {
  const run = kafscale('bench', '--no-such-option');
  assert.equal(run.status, 2);
  assert.match(run.stderr, /no-such-option/);
});

test('the top-level help lists bench', () => {
  const run = kafscale('--help');
  assert.equal(run.status, 0);
  assert.match(run.stdout, /bench/);
});
