/**
 * Cancellable waits for retry loops: one `sleep` that an AbortSignal ends early, and a `Backoff` that
 * grows the delay exponentially up to a cap, optionally jittered. Built on `node:timers/promises`; the
 * timer is unref'd by default so a retry loop never keeps the process alive on its own.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface SleepOptions {
  readonly signal?: AbortSignal | undefined;
  /** Keep the process alive while waiting (default false: unref'd). */
  readonly ref?: boolean;
}

/** Waits `ms`; resolves true when the time passed, false when `signal` aborted first. Never rejects. */
export async function sleep(ms: number, options: SleepOptions = {}): Promise<boolean> {
  if (options.signal?.aborted === true) return false;
  try {
    await delay(ms, undefined, { ref: options.ref ?? false, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    return true;
  } catch (error) {
    if ((error as { name?: unknown }).name === 'AbortError') return false;
    throw error;
  }
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per wait (default 2). */
  readonly factor?: number;
  /**
   * Fraction of each delay drawn at random (default 0: exact delays): 0.5 waits between half and all of
   * it, 1 anywhere from 0 to all of it. Spreads the retries of many brokers hitting one fault.
   */
  readonly jitter?: number;
  /** Keep the process alive while waiting (default false). */
  readonly ref?: boolean;
}

/** Delays of one retry loop: initialMs, then ×factor per wait, capped at maxMs. */
export class Backoff {
  readonly #options: BackoffOptions;
  #delayMs: number;

  constructor(options: BackoffOptions) {
    this.#options = options;
    this.#delayMs = options.initialMs;
  }

  /** The delay (before jitter) the next wait uses: what a log line's `retryInMs` reports. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Waits the current delay and grows it; false when `signal` aborted (the loop should stop). */
  wait(signal?: AbortSignal): Promise<boolean> {
    const jitter = this.#options.jitter ?? 0;
    const ms = jitter > 0 ? Math.floor(this.#delayMs * (1 - jitter * Math.random())) : this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * (this.#options.factor ?? 2), this.#options.maxMs);
    return sleep(ms, { signal, ref: this.#options.ref ?? false });
  }

  /** Back to the initial delay (after a success). */
  reset(): void {
    this.#delayMs = this.#options.initialMs;
  }
}
