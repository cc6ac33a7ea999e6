import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, sleep } from './backoff.ts';

test('sleep resolves true after the delay, false at once when aborted', async () => {
  const started = performance.now();
  assert.equal(await sleep(20), true);
  assert.ok(performance.now() - started >= 15);

  const controller = new AbortController();
  const waiting = sleep(60_000, { signal: controller.signal, ref: true });
  controller.abort();
  assert.equal(await waiting, false);
  assert.equal(await sleep(60_000, { signal: AbortSignal.abort() }), false);
});

test('backoff doubles up to its cap and resets', async () => {
  const backoff = new Backoff({ initialMs: 1, maxMs: 5 });
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    seen.push(backoff.delayMs);
    assert.equal(await backoff.wait(), true);
  }
  assert.deepEqual(seen, [1, 2, 4, 5, 5]);
  backoff.reset();
  assert.equal(backoff.delayMs, 1);
  assert.equal(new Backoff({ initialMs: 100, maxMs: 1_000, factor: 3 }).delayMs, 100);
});

test('a jittered wait never exceeds the delay, and an aborted one ends the loop', async () => {
  const backoff = new Backoff({ initialMs: 40, maxMs: 40, jitter: 1 });
  const started = performance.now();
  for (let i = 0; i < 3; i++) assert.equal(await backoff.wait(), true);
  assert.ok(performance.now() - started < 40 * 3 + 200);
  const controller = new AbortController();
  const slow = new Backoff({ initialMs: 60_000, maxMs: 60_000 });
  setTimeout(() => controller.abort(), 10);
  assert.equal(await slow.wait(controller.signal), false);
});
