/**
 * A lease of the embedded store. There is no remote party to keep it alive: keep-alive is a local
 * timer that renews the deadline every ttl/3. If the timer could not run for longer than the TTL
 * (event loop blocked, process suspended) the lease is treated as expired, exactly as etcd would
 * have expired it, so fencing behaves the same on both adapters. Time is the monotonic clock: a wall
 * clock step (NTP, an operator) neither expires a live lease nor keeps a dead one alive.
 */
import type { Lease } from './metadata-store.ts';
import { monotonicNowMs } from './monotonic-clock.ts';

export interface LeaseOwner {
  /** Deletes the lease and its keys. */
  endLease(id: string): void;
}

export class EmbeddedLease implements Lease {
  readonly id: string;
  readonly ttlMs: number;
  readonly lost: Promise<void>;
  #owner: LeaseOwner;
  #resolveLost!: () => void;
  #renewedAt: number;
  #timer: NodeJS.Timeout | null = null;
  #dead = false;

  constructor(id: string, ttlMs: number, owner: LeaseOwner) {
    this.id = id;
    this.ttlMs = ttlMs;
    this.#owner = owner;
    this.#renewedAt = monotonicNowMs();
    this.lost = new Promise<void>((resolve) => {
      this.#resolveLost = resolve;
    });
  }

  start(): void {
    this.#timer = setInterval(() => this.#keepAlive(), Math.max(1, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  #keepAlive(): void {
    if (this.#dead) return;
    if (monotonicNowMs() - this.#renewedAt > this.ttlMs) {
      this.#end(true);
      return;
    }
    this.#renewedAt = monotonicNowMs();
  }

  isAlive(): boolean {
    return !this.#dead && monotonicNowMs() - this.#renewedAt <= this.ttlMs;
  }

  async revoke(): Promise<void> {
    if (this.#dead) return;
    this.#end(true);
  }

  /** The store closed: stop keep-alive without deleting anything (the next open expires it). */
  abandon(): void {
    if (!this.#dead) this.#end(false);
  }

  #end(deleteKeys: boolean): void {
    this.#dead = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    try {
      if (deleteKeys) this.#owner.endLease(this.id);
    } finally {
      this.#resolveLost();
    }
  }
}
