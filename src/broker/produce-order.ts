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

export class ProduceOrder {
  #received = 0;
  #written = 0;
  /** Partition key → requests refused for it that may still fence a request (ascending index). */
  readonly #refusals = new Map<string, Refusal[]>();

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

  /** Records that `ticket`'s request was refused for the partition (its batches were not written). */
  refuse(topicId: string, partition: number, ticket: ProduceTicket): void {
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
