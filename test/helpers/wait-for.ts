/**
 * The one way tests wait for something to become true: poll a condition until it holds, or fail naming
 * what was awaited. For state that only changes through the system under test (a consumer's assignment,
 * a committed offset) and that the test cannot be notified of.
 *
 *   await waitFor('every partition assigned', () => owned(members) === '0,1,2,3,4,5', 30_000);
 *   const tookMs = await waitFor('the survivor owns six partitions', () => a.assigned().length === 6, { timeoutMs: 20_000 });
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** How long to wait before failing (default 25 s). */
  readonly timeoutMs?: number;
  /** How often the condition is checked (default 50 ms). */
  readonly intervalMs?: number;
  /** More context for the failure message (e.g. the errors a client stream reported meanwhile). */
  readonly detail?: () => string;
}

const DEFAULT_TIMEOUT_MS = 25_000;
const DEFAULT_INTERVAL_MS = 50;

/** Resolves with the milliseconds it waited once `condition` holds; rejects after the timeout. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, options: number | WaitOptions = {}): Promise<number> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = DEFAULT_INTERVAL_MS, detail } = typeof options === 'number' ? { timeoutMs: options } : options;
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) {
      const more = detail?.() ?? '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more === '' ? '' : `; ${more}`}`);
    }
    await sleep(intervalMs);
  }
  return Date.now() - started;
}
