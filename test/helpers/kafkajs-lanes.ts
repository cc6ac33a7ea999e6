/**
 * A kafkajs producer harness with one sequential lane per partition: each lane sends, waits for the
 * answer, reports it, pauses, and sends again until stop(), so every acknowledgement names the offset
 * of exactly the values it carried. After a failed send the lane's producer is replaced when idempotent
 * (KafkajsLaneProducers says why). What the values are and how outcomes are recorded is the caller's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type kafkajs from 'kafkajs';
import { KafkajsLaneProducers } from './kafkajs-lane-producers.ts';

export interface KafkajsLaneOptions {
  readonly topic: string;
  readonly partitions: number;
  readonly idempotent: boolean;
  /** Pause after every send. */
  readonly pauseMs: number;
  /** Extra pause after a send that threw, before the lane's next send. */
  readonly failurePauseMs: number;
}

export interface KafkajsLaneHandlers {
  /** The values the next send on `partition` carries (one record each). */
  next(partition: number): string[];
  acknowledged(partition: number, baseOffset: bigint, values: readonly string[]): void;
  /** The send returned without an acknowledgement (an error code or no base offset). */
  answered(partition: number, meta: kafkajs.RecordMetadata | undefined): void;
  threw(partition: number, error: unknown): void;
}

export class KafkajsLanes {
  readonly #producers: KafkajsLaneProducers;
  readonly #options: KafkajsLaneOptions;
  readonly #handlers: KafkajsLaneHandlers;
  #lanes: Promise<void>[] = [];
  #stopped = false;

  constructor(kafka: kafkajs.Kafka, options: KafkajsLaneOptions, handlers: KafkajsLaneHandlers) {
    this.#producers = new KafkajsLaneProducers(kafka, options.idempotent, options.partitions);
    this.#options = options;
    this.#handlers = handlers;
  }

  /** Producers replaced after a failed send (idempotent lanes only). */
  get replaced(): number {
    return this.#producers.replaced;
  }

  async start(): Promise<void> {
    await this.#producers.connect();
    this.#lanes = Array.from({ length: this.#options.partitions }, (_, partition) => this.#lane(partition));
  }

  /** Lets every lane finish its send in flight, then disconnects the producers. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#lanes);
    await this.#producers.disconnect();
  }

  async #lane(partition: number): Promise<void> {
    const { topic, pauseMs, failurePauseMs } = this.#options;
    while (!this.#stopped) {
      const values = this.#handlers.next(partition);
      try {
        const [meta] = await this.#producers.of(partition).send({ topic, acks: -1, messages: values.map((value) => ({ value, partition })) });
        if (meta !== undefined && meta.errorCode === 0 && meta.baseOffset !== undefined) {
          this.#handlers.acknowledged(partition, BigInt(meta.baseOffset), values);
        } else {
          this.#handlers.answered(partition, meta);
        }
      } catch (error) {
        this.#handlers.threw(partition, error);
        await this.#producers.failed(partition);
        await sleep(failurePauseMs);
      }
      await sleep(pauseMs);
    }
  }
}
