import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingBytes } from './pending-bytes.ts';

test('PendingBytes: appends within the bound go through; beyond it they wait and are woken FIFO as flushes free bytes', async () => {
  const budget = new PendingBytes(100);
  assert.equal(budget.mustWait(60), false);
  budget.queued(60, false);
  assert.equal(budget.mustWait(60), true, 'over the bound');
  const woken: string[] = [];
  const first = budget.waitForRoom(60).then(() => woken.push('first'));
  const second = budget.waitForRoom(30).then(() => woken.push('second'));
  assert.equal(budget.mustWait(1), true, 'others wait: a newcomer queues behind them');
  budget.taken(60);
  assert.deepEqual({ bytes: budget.bytes, queued: budget.queuedBytes }, { bytes: 60, queued: 0 });
  budget.flushed(60);
  await Promise.all([first, second]);
  assert.deepEqual(woken, ['first', 'second'], 'call order');
  assert.equal(budget.bytes, 90, 'both hold reservations');
  assert.equal(budget.mustWait(1), true, 'woken appends have not queued yet: newcomers still wait');
  budget.queued(60, true);
  budget.cancel(30);
  assert.deepEqual({ bytes: budget.bytes, queued: budget.queuedBytes }, { bytes: 60, queued: 60 });
  assert.equal(budget.mustWait(40), false);
  budget.dropQueued(60);
  assert.deepEqual({ bytes: budget.bytes, queued: budget.queuedBytes }, { bytes: 0, queued: 0 });
});

test('PendingBytes: an append larger than the whole bound still goes through alone', () => {
  const budget = new PendingBytes(100);
  assert.equal(budget.mustWait(500), false);
  budget.queued(500, false);
  assert.equal(budget.mustWait(1), true);
});
