/**
 * The broker-wide budget of request bytes held in memory (Kafka's `queued.max.request.bytes`): a frame is
 * charged from the moment its size prefix is read (before its body is buffered) until its handler has
 * answered (a produce request holds its batches until they are flushed and committed). While the budget
 * is used up, connections stop reading from their sockets and wait in arrival order; the kernel's socket
 * buffers and then TCP flow control hold the clients back. So memory for requests is bounded by the
 * budget plus one frame per waiting connection's grant, whatever the number of clients.
 *
 * Like Kafka's memory pool (non-strict), a charge is granted while the budget is not yet exhausted even if
 * it takes the total past the limit, so a frame larger than the whole budget is still served (alone).
 */
import { KafscaleError } from '../errors/kafscale-error.ts';

export interface BudgetWaiter {
  /** Called once when the waiter's charge has been granted (already counted as used). */
  granted(): void;
}

class Waiting {
  readonly waiter: BudgetWaiter;
  readonly bytes: number;

  constructor(waiter: BudgetWaiter, bytes: number) {
    this.waiter = waiter;
    this.bytes = bytes;
  }
}

export class RequestBudget {
  readonly maxBytes: number;
  #usedBytes = 0;
  readonly #queue: Waiting[] = [];
  /** Times a connection had to wait (a metric: the budget is too small for the load, or clients too fast). */
  waits = 0;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`RequestBudget: maxBytes must be an integer >= 1, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Connections waiting for budget now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Charges `bytes` now and returns true, or queues `waiter` (granted() is called once budget is free)
   * and returns false. Waiters are served first-come first-served: a newcomer never overtakes them.
   */
  acquire(bytes: number, waiter: BudgetWaiter): boolean {
    if (this.#queue.length === 0 && this.#usedBytes < this.maxBytes) {
      this.#usedBytes += bytes;
      return true;
    }
    this.waits++;
    this.#queue.push(new Waiting(waiter, bytes));
    return false;
  }

  /** Gives `bytes` back and grants what waits while the budget allows. */
  release(bytes: number): void {
    this.#usedBytes -= bytes;
    if (this.#usedBytes < 0) throw new KafscaleError('KSC_INTERNAL', `RequestBudget: released more than was charged (${this.#usedBytes} bytes in use)`);
    while (this.#queue.length > 0 && this.#usedBytes < this.maxBytes) {
      const next = this.#queue.shift() as Waiting;
      this.#usedBytes += next.bytes;
      next.waiter.granted();
    }
  }

  /** Withdraws a waiter that has gone (its connection closed); false when it was not waiting. */
  cancel(waiter: BudgetWaiter): boolean {
    const index = this.#queue.findIndex((w) => w.waiter === waiter);
    if (index === -1) return false;
    this.#queue.splice(index, 1);
    // The head may have been what blocked the others only by order; the budget itself may be free.
    this.release(0);
    return true;
  }
}
