import type { Logger } from 'pino';
import { Backoff } from '../../timing/backoff.ts';

export interface WatchRecoveryOptions {
  readonly log: Logger;
  /** Re-establishes the watch and re-reads what it mirrors; throws to be retried. */
  readonly resync: () => Promise<void>;
  /** Log line when the watch is lost, and when a re-sync attempt fails. */
  readonly lostMessage: string;
  readonly retryMessage: string;
  /** Fields added to both log lines (e.g. the prefix). */
  readonly context?: Readonly<Record<string, unknown>>;
}

/**
 * What every watcher of the metadata store does when its watch dies (history compacted, store
 * reconnected): re-sync — watch again and re-read what it mirrors — one attempt at a time, backing off
 * 100 ms → 5 s between failures, until it succeeds or the watcher closes. Shared by WatchedPrefix,
 * OwnerDirectory and LogCatalog.
 */
export class WatchRecovery {
  readonly #o: WatchRecoveryOptions;
  readonly #closed = new AbortController();
  #running: Promise<void> | null = null;

  constructor(options: WatchRecoveryOptions) {
    this.#o = options;
  }

  /** True while a re-sync runs. */
  get resyncing(): boolean {
    return this.#running !== null;
  }

  /**
   * Called from the watch's onError: starts a re-sync unless one runs or the watcher closed. Returns
   * whether it started one (the caller drops its dead watch only then).
   */
  lost(error: Error): boolean {
    if (this.#closed.signal.aborted || this.#running !== null) return false;
    this.#o.log.warn({ err: error, ...this.#o.context }, this.#o.lostMessage);
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
    return true;
  }

  /** Stops retrying (a wait in progress ends at once). Idempotent. */
  close(): void {
    this.#closed.abort();
  }

  async #loop(): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
    const signal = this.#closed.signal;
    while (!signal.aborted) {
      try {
        await this.#o.resync();
        return;
      } catch (error) {
        this.#o.log.warn({ err: error, ...this.#o.context, retryInMs: backoff.delayMs }, this.#o.retryMessage);
        if (!(await backoff.wait(signal))) return;
      }
    }
  }
}
