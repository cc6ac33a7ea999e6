/**
 * An etcd lease with our own keep-alive loop (not etcd3's Lease, which only gives up after twice
 * the TTL). Every ttl/3 one keep-alive is sent on a short-lived stream with a deadline. The lease is
 * lost as soon as etcd answers TTL 0 (expired or revoked elsewhere) or no keep-alive has succeeded
 * for a whole TTL — measured from when the last successful request was *sent*, so the local view
 * never outlives the server's. A lost lease is revoked best-effort so its keys go promptly.
 *
 * Time is the monotonic clock (performance.now), never the wall clock: an NTP step or an operator
 * setting the date must neither expire a live lease nor keep a dead one alive.
 */
import type { LeaseClient } from 'etcd3';
import type { Logger } from 'pino';
import { isKafscaleError } from '../../errors/kafscale-error.ts';
import { callWithTimeout } from './etcd-call.ts';
import type { Lease } from './metadata-store.ts';
import { monotonicNowMs } from './monotonic-clock.ts';

export class EtcdLease implements Lease {
  readonly id: string;
  readonly ttlMs: number;
  readonly lost: Promise<void>;
  #client: LeaseClient;
  #requestTimeoutMs: number;
  #log: Logger | undefined;
  #resolveLost!: () => void;
  #aliveUntil: number;
  #timer: NodeJS.Timeout | null = null;
  #inFlight = false;
  #dead = false;

  /** `grantSentAt`: monotonicNowMs() when the grant request was sent. */
  constructor(id: string, ttlMs: number, grantSentAt: number, client: LeaseClient, requestTimeoutMs: number, log: Logger | undefined) {
    this.id = id;
    this.ttlMs = ttlMs;
    this.#client = client;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#log = log;
    this.#aliveUntil = grantSentAt + ttlMs;
    this.lost = new Promise<void>((resolve) => {
      this.#resolveLost = resolve;
    });
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  isAlive(): boolean {
    return !this.#dead && monotonicNowMs() <= this.#aliveUntil;
  }

  #tick(): void {
    if (this.#dead) return;
    if (monotonicNowMs() > this.#aliveUntil) {
      this.#lose('no keep-alive succeeded within the TTL');
      return;
    }
    if (this.#inFlight) return;
    this.#inFlight = true;
    this.#keepAliveOnce().then(
      () => { this.#inFlight = false; },
      (error: unknown) => {
        this.#inFlight = false;
        this.#log?.warn({ err: error, lease: this.id }, 'etcd lease keep-alive failed; retrying until the TTL runs out');
      },
    );
  }

  async #keepAliveOnce(): Promise<void> {
    const sentAt = monotonicNowMs();
    const timeoutMs = Math.min(this.#requestTimeoutMs, this.ttlMs);
    const ttl = await callWithTimeout('lease keep-alive', timeoutMs, async (deadline) => {
      const stream = await this.#client.leaseKeepAlive({ deadline });
      try {
        return await new Promise<string>((resolve, reject) => {
          stream.on('data', (res: { TTL: string }) => resolve(res.TTL));
          stream.on('error', reject);
          stream.write({ ID: this.id });
        });
      } finally {
        stream.end();
      }
    });
    if (this.#dead) return;
    if (Number(ttl) <= 0) {
      this.#lose('etcd reports the lease expired or revoked');
      return;
    }
    this.#aliveUntil = Math.max(this.#aliveUntil, sentAt + this.ttlMs);
  }

  #lose(reason: string): void {
    if (this.#dead) return;
    this.#log?.warn({ lease: this.id, reason }, 'etcd lease lost');
    this.#stop();
    // Best effort: if etcd still has the lease, revoking it fences its keys now rather than at expiry.
    this.#revokeRemote().catch(() => undefined);
  }

  #stop(): void {
    this.#dead = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#resolveLost();
  }

  async #revokeRemote(): Promise<void> {
    try {
      await callWithTimeout('lease revoke', this.#requestTimeoutMs, (deadline) => this.#client.leaseRevoke({ ID: this.id }, { deadline }));
    } catch (error) {
      if (!isKafscaleError(error, 'KSC_META_LEASE_LOST')) throw error;
    }
  }

  async revoke(): Promise<void> {
    if (this.#dead) return;
    this.#stop();
    await this.#revokeRemote();
  }

  /** The store closed: stop keep-alive and let etcd expire the lease. */
  abandon(): void {
    if (!this.#dead) this.#stop();
  }
}
