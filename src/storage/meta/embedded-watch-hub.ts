/**
 * The embedded store's watches: registration with history replay, and a fan-out sequencer that
 * delivers committed revisions strictly in revision order — an async commit can resolve after a later
 * synchronous lease commit, and watchers must see revision order.
 */
import type { Logger } from 'pino';
import type { Watch, WatchEvent, WatchHandler } from './metadata-store.ts';
import { toWatchEvents, type StoredEvent } from './embedded-record.ts';

class WatchRegistration implements Watch {
  readonly prefix: string;
  readonly handler: WatchHandler;
  /** Revisions up to this one were replayed or precede the watch: a commit still being fanned out is skipped. */
  readonly afterRevision: number;
  readonly #hub: EmbeddedWatchHub;
  closed = false;
  constructor(hub: EmbeddedWatchHub, prefix: string, handler: WatchHandler, afterRevision: number) {
    this.#hub = hub;
    this.prefix = prefix;
    this.handler = handler;
    this.afterRevision = afterRevision;
  }
  /** `replay`: history read from the changelog at registration, which afterRevision does not filter. */
  deliver(events: readonly WatchEvent[], replay = false): void {
    const mine = events.filter((e) => e.key.startsWith(this.prefix) && (replay || e.revision > this.afterRevision));
    if (mine.length === 0 || this.closed) return;
    // Deliver after the writer's promise settles its bookkeeping; microtasks keep revision order.
    queueMicrotask(() => {
      if (this.closed) return;
      try {
        this.handler.onEvents(mine);
      } catch (error) {
        this.#hub.log?.error({ err: error, prefix: this.prefix }, 'metadata watch handler threw; continuing');
      }
    });
  }
  fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => this.handler.onError(error));
  }
  async close(): Promise<void> {
    this.closed = true;
    this.#hub.unregister(this);
  }
}

export class EmbeddedWatchHub {
  readonly log: Logger | undefined;
  readonly #watches = new Set<WatchRegistration>();
  /** The last revision delivered, and committed revisions waiting for an earlier one. */
  #fannedOut: number;
  readonly #held = new Map<number, StoredEvent[]>();

  constructor(log: Logger | undefined, deliveredRevision: number) {
    this.log = log;
    this.#fannedOut = deliveredRevision;
  }

  /**
   * A watch of `prefix` that first gets `history` (committed revisions it asked to replay), then every
   * fanned-out revision above `afterRevision`. Callers read the history and register in one synchronous
   * turn, so no write slips between them.
   */
  add(prefix: string, handler: WatchHandler, afterRevision: number, history: Iterable<{ readonly revision: number; readonly events: readonly StoredEvent[] }>): Watch {
    const registration = new WatchRegistration(this, prefix, handler, afterRevision);
    for (const { revision, events } of history) registration.deliver(toWatchEvents(events, revision), true);
    this.#watches.add(registration);
    return registration;
  }

  /** A watch that is dead at once: one onError with `error`, as for a watch that dies later. */
  failed(prefix: string, handler: WatchHandler, error: Error): Watch {
    const registration = new WatchRegistration(this, prefix, handler, 0);
    registration.fail(error);
    return registration;
  }

  /** Delivers a committed revision's events once every earlier revision was delivered. */
  fanOut(revision: number, stored: StoredEvent[]): void {
    if (stored.length === 0) return;
    if (revision <= this.#fannedOut) return;
    this.#held.set(revision, stored);
    for (let next = this.#fannedOut + 1; ; next++) {
      const ready = this.#held.get(next);
      if (ready === undefined) break;
      this.#held.delete(next);
      this.#fannedOut = next;
      if (this.#watches.size === 0) continue;
      const events = toWatchEvents(ready, next);
      for (const watch of this.#watches) watch.deliver(events);
    }
  }

  unregister(registration: WatchRegistration): void {
    this.#watches.delete(registration);
  }

  /** Ends every watch with `error` (the store closed). */
  failAll(error: Error): void {
    for (const watch of this.#watches) watch.fail(error);
    this.#watches.clear();
  }
}
