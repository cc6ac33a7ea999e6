/**
 * Keeps one connection's pipelined Produce requests in step after a partition refuses one of them.
 *
 * A client pipelines requests to the broker it believes leads a partition: batch A in request 1, batch
 * B in request 2. If request 1 is refused for that partition (NOT_LEADER_OR_FOLLOWER while the broker
 * is still acquiring it, or a retriable storage fault) and the broker acquires the partition before
 * request 2 is handled, B is written without A. An idempotent producer then sees OUT_OF_ORDER_SEQUENCE_NUMBER
 * for B (Kafka's answer to a sequence gap), and librdkafka before 2.3 (Debian 12 ships 2.0.2) turns that
 * into a fatal error after a disconnect ("rewound sequence number", librdkafka #4438); a producer without
 * idempotence writes B before A.
 *
 * The rule: a request received on the connection before the refusal's response was written was sent by
 * a client that had not seen the refusal, so its batches for that partition are refused as well (not
 * written, retriable). The client retries A then B in order once it has read the refusals. Responses are
 * written in request order, so "received before the refusal was written" is "received while fewer than
 * (refused request's index + 1) responses had been written".
 *
 * A request sent before the client read the refusal can also arrive just after it was written (the
 * client sends B a moment after A, the refusal crosses B on the wire). B is then checked, and for an
 * idempotent producer the check fails with OUT_OF_ORDER_SEQUENCE_NUMBER: nothing is written, but
 * librdkafka 2.0.2 treats that answer as fatal or bumps its epoch (re-sending possibly written batches
 * under new sequence numbers: duplicates). So for REFUSAL_MEMORY_MS after a refusal for a partition, the
 * produce handler answers a sequence gap on that partition as a refusal too (`refusedRecently`): not
 * written, retriable, and the client's next round resends in order.
 */
export interface ProduceTicket {
  /** 1-based position of the request on its connection. */
  readonly index: number;
  /** Responses written on the connection when the request was received. */
  readonly writtenBefore: number;
}

/** A refused request: its index, and how many requests had been received when its response was written. */
interface Refusal {
  readonly index: number;
  receivedAtWrite: number;
}

/** How long a refusal turns a later sequence gap on the same connection and partition into a refusal. */
export const REFUSAL_MEMORY_MS = 10_000;

/** Partitions remembered per connection before old refusals are forgotten early. */
const MAX_REMEMBERED_PARTITIONS = 1_024;

export class ProduceOrder {
  #received = 0;
  #written = 0;
  /** Partition key → requests refused for it that may still fence a request (ascending index). */
  readonly #refusals = new Map<string, Refusal[]>();
  /** Partition key → monotonic ms of its latest refusal on this connection. */
  readonly #lastRefusalMs = new Map<string, number>();
  readonly #now: () => number;

  /** `now`: a monotonic clock in ms (tests pass their own). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** The connection calls this as it hands a request to the dispatcher. */
  received(): void {
    this.#received++;
  }

  /** The connection calls this once per request whose response was written (or that has none). */
  written(): void {
    this.#written++;
    if (this.#refusals.size === 0) return;
    for (const [partition, refusals] of this.#refusals) {
      for (const refusal of refusals) {
        if (refusal.index === this.#written) refusal.receivedAtWrite = this.#received;
      }
      // A refusal fences only requests received before its response was written; once all of those
      // are answered it can fence nothing more.
      while (refusals.length > 0 && this.#written >= (refusals[0] as Refusal).receivedAtWrite) refusals.shift();
      if (refusals.length === 0) this.#refusals.delete(partition);
    }
  }

  /** The request being dispatched right now (read synchronously when its handler starts). */
  ticket(): ProduceTicket {
    return { index: this.#received, writtenBefore: this.#written };
  }

  /**
   * Records that `ticket`'s request was refused for the partition (its batches were not written): it
   * fences the requests pipelined behind it and opens the REFUSAL_MEMORY_MS window.
   */
  refuse(topicId: string, partition: number, ticket: ProduceTicket): void {
    this.#remember(`${topicId}/${partition}`, this.#now());
    this.fence(topicId, partition, ticket);
  }

  /**
   * Like refuse() for a refusal that follows from an earlier one (a fenced request, a gap answered as a
   * refusal): it fences what is pipelined behind it but does not extend the window, so a client stuck on
   * a real gap gets OUT_OF_ORDER_SEQUENCE_NUMBER once the window has passed.
   */
  fence(topicId: string, partition: number, ticket: ProduceTicket): void {
    const key = `${topicId}/${partition}`;
    const refusal: Refusal = { index: ticket.index, receivedAtWrite: Number.POSITIVE_INFINITY };
    const refusals = this.#refusals.get(key);
    if (refusals === undefined) {
      this.#refusals.set(key, [refusal]);
      return;
    }
    let at = refusals.length;
    while (at > 0 && (refusals[at - 1] as Refusal).index > ticket.index) at--;
    if (refusals[at - 1]?.index !== ticket.index) refusals.splice(at, 0, refusal);
  }

  /** Opens the REFUSAL_MEMORY_MS window without fencing (the proxy, which does not count requests). */
  noteRefusal(topicId: string, partition: number): void {
    this.#remember(`${topicId}/${partition}`, this.#now());
  }

  /** Whether this connection had a request refused for the partition within REFUSAL_MEMORY_MS. */
  refusedRecently(topicId: string, partition: number): boolean {
    if (this.#lastRefusalMs.size === 0) return false;
    const at = this.#lastRefusalMs.get(`${topicId}/${partition}`);
    return at !== undefined && this.#now() - at < REFUSAL_MEMORY_MS;
  }

  #remember(key: string, nowMs: number): void {
    this.#lastRefusalMs.delete(key); // re-inserted last: the map stays in refusal order
    this.#lastRefusalMs.set(key, nowMs);
    for (const [oldest, at] of this.#lastRefusalMs) {
      if (this.#lastRefusalMs.size <= MAX_REMEMBERED_PARTITIONS && nowMs - at < REFUSAL_MEMORY_MS) break;
      this.#lastRefusalMs.delete(oldest);
    }
  }

  /** Whether an earlier request refused for the partition was still unanswered when `ticket`'s request arrived. */
  fenced(topicId: string, partition: number, ticket: ProduceTicket): boolean {
    if (this.#refusals.size === 0) return false;
    const refusals = this.#refusals.get(`${topicId}/${partition}`);
    if (refusals === undefined) return false;
    for (const refusal of refusals) {
      if (refusal.index >= ticket.index) return false;
      if (refusal.index > ticket.writtenBefore) return true;
    }
    return false;
  }
}
