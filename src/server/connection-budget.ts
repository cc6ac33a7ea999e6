/**
 * One connection's part of the broker-wide RequestBudget (queued.max.request.bytes): the charge of the
 * frame being received or held, the charge it is waiting for, and the hand-over of a dispatched frame's
 * charge to its request (given back when the handler has answered, in whatever order requests finish).
 */
import type { KafscaleMetrics } from '../telemetry/metrics.ts';
import type { BudgetWaiter, RequestBudget } from './request-budget.ts';

/** A frame's charge on the request budget, given back when its handler has answered (or failed). */
export class BudgetCharge {
  readonly #budget: RequestBudget;
  readonly #metrics: KafscaleMetrics;
  readonly #bytes: number;

  constructor(budget: RequestBudget, metrics: KafscaleMetrics, bytes: number) {
    this.#budget = budget;
    this.#metrics = metrics;
    this.#bytes = bytes;
  }

  readonly release = (): void => {
    this.#budget.release(this.#bytes);
    this.#metrics.queuedRequestBytes.dec(this.#bytes);
  };
}

export class ConnectionBudget {
  /** Null: no broker-wide bound, every charge is granted at once and nothing is counted. */
  readonly #budget: RequestBudget | null;
  readonly #metrics: KafscaleMetrics;
  readonly #waiter: BudgetWaiter;
  readonly #onGranted: () => void;
  /** Bytes charged to the budget for the frame being received or held, not yet dispatched. */
  #chargedBytes: number;
  /** Bytes asked of the budget and not yet granted (-1: not waiting). */
  #awaitedBytes: number;

  /** `onGranted` runs when a charge the connection waited for has been granted. */
  constructor(budget: RequestBudget | null, metrics: KafscaleMetrics, onGranted: () => void) {
    this.#budget = budget;
    this.#metrics = metrics;
    this.#waiter = { granted: this.#granted };
    this.#onGranted = onGranted;
    this.#chargedBytes = 0;
    this.#awaitedBytes = -1;
  }

  /** True while a charge was asked for and not yet granted. */
  get waiting(): boolean {
    return this.#awaitedBytes !== -1;
  }

  /** True when the frame being received (or held) is already charged. */
  get charged(): boolean {
    return this.#chargedBytes !== 0;
  }

  /** True when `bytes` are charged now; false when the connection waits for them (then `onGranted`). */
  charge(bytes: number): boolean {
    const budget = this.#budget;
    if (budget === null || bytes === 0) return true;
    if (!budget.acquire(bytes, this.#waiter)) {
      this.#awaitedBytes = bytes;
      this.#metrics.requestBudgetWaitsTotal.inc();
      return false;
    }
    this.#chargedBytes = bytes;
    this.#metrics.queuedRequestBytes.inc(bytes);
    return true;
  }

  /** The charge of the frame being dispatched, now its request's to release; null when nothing was charged. */
  take(): BudgetCharge | null {
    if (this.#chargedBytes === 0 || this.#budget === null) return null;
    const charge = new BudgetCharge(this.#budget, this.#metrics, this.#chargedBytes);
    this.#chargedBytes = 0;
    return charge;
  }

  /** Gives back what this connection holds of the budget but has not dispatched (on close). */
  release(): void {
    const budget = this.#budget;
    if (budget === null) return;
    if (this.#awaitedBytes !== -1) {
      budget.cancel(this.#waiter);
      this.#awaitedBytes = -1;
    }
    if (this.#chargedBytes > 0) {
      const bytes = this.#chargedBytes;
      this.#chargedBytes = 0;
      budget.release(bytes);
      this.#metrics.queuedRequestBytes.dec(bytes);
    }
  }

  readonly #granted = (): void => {
    this.#chargedBytes = this.#awaitedBytes;
    this.#awaitedBytes = -1;
    this.#metrics.queuedRequestBytes.inc(this.#chargedBytes);
    this.#onGranted();
  };
}
