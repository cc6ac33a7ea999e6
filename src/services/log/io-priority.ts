/**
 * WAL flushes before merge I/O (docs/design/storage.md, "Merging"). Producers wait for a flush (PUT +
 * commit); nobody waits for a merge. The flush pipeline marks each flush as foreground work while it runs;
 * the merger yields before each of its object-store steps (a GET, a PUT, a synced write step of a segment)
 * until no flush is running — so a merge step starts in the gaps between flushes instead of in front of
 * one.
 *
 * Under saturation there are no gaps (flushes overlap back to back), and a merger that only ran in gaps
 * would never run: the WAL would grow without bound. So a yield waits at most `maxWaitMs`, then the step
 * runs anyway; a merge then progresses at one step per `maxWaitMs` at the least.
 */
export const YIELD_MAX_WAIT_MS_DEFAULT = 25;

export class IoPriority {
  readonly #maxWaitMs: number;
  #foreground = 0;
  readonly #idle = new Set<() => void>();
  /** Yields that found a flush running, and the milliseconds spent waiting in them (tests, logs). */
  yields = 0;
  waitedMs = 0;

  constructor(maxWaitMs = YIELD_MAX_WAIT_MS_DEFAULT) {
    this.#maxWaitMs = maxWaitMs;
  }

  /** Foreground work in flight (flushes). */
  get foreground(): number {
    return this.#foreground;
  }

  /** Marks foreground work for as long as `work` runs; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#foreground++;
    return work.finally(() => {
      if (--this.#foreground > 0) return;
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    });
  }

  /** Resolves once no foreground work runs, or after `maxWaitMs`, whichever comes first. */
  async yieldToForeground(): Promise<void> {
    if (this.#foreground === 0) return;
    this.yields++;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      this.#idle.add(resolve);
      timer = setTimeout(resolve, this.#maxWaitMs);
    });
    clearTimeout(timer);
    this.#idle.delete(wake!);
    this.waitedMs += performance.now() - started;
  }
}
