import { createHash } from 'node:crypto';
import type { BrokerRegistry } from './broker-registry.ts';

export interface PartitionLeader {
  readonly brokerId: number;
  /** Leader epoch reported to clients (the owner epoch once ownership leases exist). */
  readonly epoch: number;
}

/**
 * Who leads (owns) each partition. Placement is rendezvous hashing over the live brokers: deterministic,
 * balanced, and moving only the partitions of a broker that joins or leaves. With one broker every
 * partition is led by it.
 */
export class PartitionLeaders {
  readonly #brokers: BrokerRegistry;
  #epochOf: (topicId: string, partition: number) => number | undefined = () => undefined;

  constructor(brokers: BrokerRegistry) {
    this.#brokers = brokers;
  }

  /** Where owner epochs come from (the storage engine's ownership); unknown epochs are reported as 0. */
  useEpochSource(epochOf: (topicId: string, partition: number) => number | undefined): void {
    this.#epochOf = epochOf;
  }

  leaderOf(topicId: string, partition: number): PartitionLeader {
    const live = this.#brokers.live();
    let best = this.#brokers.self.brokerId;
    let bestScore = -1n;
    for (const broker of live) {
      const score = rendezvousScore(`${topicId}/${partition}`, broker.brokerId);
      if (score > bestScore) {
        bestScore = score;
        best = broker.brokerId;
      }
    }
    return { brokerId: best, epoch: this.#epochOf(topicId, partition) ?? 0 };
  }
}

export function rendezvousScore(item: string, brokerId: number): bigint {
  return createHash('sha256').update(item).update('\0').update(String(brokerId)).digest().readBigUInt64BE(0);
}
