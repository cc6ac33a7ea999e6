import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimiter } from './connection-limiter.ts';
import { RequestBudget } from './request-budget.ts';

test('RequestBudget grants in arrival order and never lets a newcomer overtake a waiter', () => {
  const budget = new RequestBudget(100);
  const granted: string[] = [];
  const waiter = (name: string) => ({ granted: () => granted.push(name) });
  assert.equal(budget.acquire(80, waiter('a')), true);
  assert.equal(budget.acquire(80, waiter('b')), true, 'granted while the budget is not used up (non-strict)');
  assert.equal(budget.acquire(10, waiter('c')), false);
  const d = waiter('d');
  assert.equal(budget.acquire(30, d), false);
  budget.release(30);
  assert.deepEqual(granted, [], '130 of 100 still in use');
  assert.equal(budget.acquire(1, waiter('e')), false, 'queued behind c and d although nothing is free for anyone');
  budget.release(50);
  // 80 in use: c (90), then d (120), then the budget is used up again and e waits.
  assert.deepEqual(granted, ['c', 'd']);
  assert.equal(budget.usedBytes, 120);
  assert.equal(budget.waiting, 1);
  assert.equal(budget.cancel(d), false, 'd is no longer waiting');
  budget.release(120);
  assert.deepEqual(granted, ['c', 'd', 'e']);
  assert.equal(budget.usedBytes, 1);
  assert.throws(() => budget.release(2), /released more than was charged/);
});

test('RequestBudget.cancel withdraws a waiter and lets the next one through', () => {
  const budget = new RequestBudget(10);
  const granted: string[] = [];
  assert.equal(budget.acquire(10, { granted: () => granted.push('a') }), true);
  const b = { granted: () => granted.push('b') };
  assert.equal(budget.acquire(5, b), false);
  assert.equal(budget.acquire(5, { granted: () => granted.push('c') }), false);
  assert.equal(budget.cancel(b), true);
  budget.release(10);
  assert.deepEqual(granted, ['c']);
});

test('ConnectionLimiter counts per IP and in total, and frees slots on close', () => {
  const limiter = new ConnectionLimiter(3, 2);
  assert.equal(limiter.open('10.0.0.1'), null);
  assert.equal(limiter.open('10.0.0.1'), null);
  assert.equal(limiter.open('10.0.0.1'), 'max_connections_per_ip');
  assert.equal(limiter.open('10.0.0.2'), null);
  assert.equal(limiter.open('10.0.0.3'), 'max_connections');
  assert.equal(limiter.total, 3);
  limiter.close('10.0.0.1');
  assert.equal(limiter.open('10.0.0.3'), null);
  assert.throws(() => new ConnectionLimiter(0, 1), /maxConnections must be an integer >= 1/);
});
