/**
 * The kafkajs producers behind a per-partition lane harness: one shared producer, or, for idempotent
 * lanes, one per lane that is replaced after a failed send. kafkajs 2.2.4 rolls a partition's sequence
 * number back when a send fails (sendMessages.js), also when the request reached the broker and was
 * written before the connection died; the next send then reuses that sequence, and any broker (Kafka's
 * too) answers it as a duplicate of the written batch — kafkajs acknowledges the new record at the old
 * record's offset and the new record is never written. A fresh producer (new producer id, sequence 0) is
 * what an application has to do to stay correct (docs/compatibility.md).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';

export class KafkajsLaneProducers {
  /** Producers replaced after a failed send (idempotent lanes only). */
  replaced = 0;
  readonly #kafka: kafkajs.Kafka;
  readonly #idempotent: boolean;
  readonly #producers: kafkajs.Producer[] = [];
  #stopped = false;

  constructor(kafka: kafkajs.Kafka, idempotent: boolean, lanes: number) {
    this.#kafka = kafka;
    this.#idempotent = idempotent;
    for (let i = 0; i < (idempotent ? lanes : 1); i++) this.#producers.push(this.#newProducer());
  }

  async connect(): Promise<void> {
    await Promise.all(this.#producers.map((producer) => producer.connect()));
  }

  /** The producer lane `lane` sends with now. */
  of(lane: number): kafkajs.Producer {
    return this.#producers[this.#idempotent ? lane : 0] as kafkajs.Producer;
  }

  /** After a failed send: an idempotent lane gets a new producer (retried while brokers are down). */
  async failed(lane: number): Promise<void> {
    if (!this.#idempotent) return;
    await this.of(lane).disconnect().catch(() => {});
    const fresh = this.#newProducer();
    this.#producers[lane] = fresh;
    this.replaced++;
    while (!this.#stopped) {
      try {
        await fresh.connect();
        return;
      } catch {
        await sleep(200);
      }
    }
  }

  async disconnect(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#producers.map((producer) => producer.disconnect().catch(() => {})));
  }

  #newProducer(): kafkajs.Producer {
    return this.#kafka.producer(this.#idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
  }
}
