import { it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestSemaphore } from './request-semaphore.ts';

it('RequestSemaphore admits up to the limit and hands permits over in FIFO order', async () => {
  const semaphore = new RequestSemaphore(2);
  await semaphore.acquire();
  await semaphore.acquire();
  const order: number[] = [];
  const waiters = [1, 2, 3].map((n) => semaphore.acquire().then(() => order.push(n)));
  assert.equal(semaphore.inFlight, 2);
  assert.equal(semaphore.waiting, 3);
  semaphore.release();
  semaphore.release();
  await Promise.resolve();
  assert.deepEqual(order, [1, 2]);
  assert.equal(semaphore.inFlight, 2);
  semaphore.release();
  await Promise.all(waiters);
  assert.deepEqual(order, [1, 2, 3]);
  semaphore.release();
  semaphore.release();
  assert.equal(semaphore.inFlight, 0);
  assert.throws(() => new RequestSemaphore(0), RangeError);
});
