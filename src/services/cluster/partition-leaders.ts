import { createHash } from 'node:crypto';
import type { BrokerRegistry } from './broker-registry.ts';
import { NO_OWNER, type OwnerDirectory } from './owner-directory.ts';

export interface PartitionLeader {
  readonly brokerId: number;
  /** Leader epoch reported to clients: the owner epoch. */
  readonly epoch: number;
}

/**
 * Who leads (owns) each partition, and where it should live.
 *
 * Placement is rendezvous hashing over the live brokers: deterministic, balanced, and moving only the
 * partitions of a broker that joins or leaves. The *leader* is the actual owner from the owner
 * directory (docs/design/cluster.md); the placement target stands in only while nobody owns the
 * partition, so a client is sent where the partition is about to be acquired.
 *
 * Placements are cached per topic and recomputed lazily after the live broker set changes, so a
 * Metadata request over many partitions does not hash every partition against every broker.
 */
export class PartitionLeaders {
  readonly #brokers: BrokerRegistry;
  readonly #directory: OwnerDirectory | null;
  #localEpoch: (topicId: string, partition: number) => number | undefined = () => undefined;
  readonly #placements = new Map<string, number[]>();

  constructor(brokers: BrokerRegistry, directory: OwnerDirectory | null = null) {
    this.#brokers = brokers;
    this.#directory = directory;
    brokers.onChange(() => this.#placements.clear());
  }

  /**
   * This broker's own active ownership (the storage engine): the epoch of a partition it owns right
   * now, else undefined. It wins over the directory, which learns of our own acquire a watch event later.
   */
  useEpochSource(epochOf: (topicId: string, partition: number) => number | undefined): void {
    this.#localEpoch = epochOf;
  }

  leaderOf(topicId: string, partition: number): PartitionLeader {
    const self = this.#brokers.self.brokerId;
    const localEpoch = this.#localEpoch(topicId, partition);
    if (localEpoch !== undefined) return { brokerId: self, epoch: localEpoch };
    const directory = this.#directory;
    if (directory === null) return { brokerId: this.placementOf(topicId, partition), epoch: 0 };
    const owner = directory.ownerOf(topicId, partition);
    const epoch = directory.epochOf(topicId, partition);
    // With no owner we report the epoch the next owner will get (the epoch key is CAS'd: exactly last + 1),
    // so a client that learns it now is not answered FENCED_LEADER_EPOCH once the partition is acquired.
    if (owner === NO_OWNER) return { brokerId: this.placementOf(topicId, partition), epoch: epoch + 1 };
    // The directory naming us while we hold no active log: we are acquiring it (our log is not ready yet),
    // releasing it (handover), or it is a previous incarnation's key waiting for its lease to expire.
    // Clients go to the placement target with the key's own epoch. Never over-report: a client holding an
    // epoch above the owner's gets UNKNOWN_LEADER_EPOCH and retries without refreshing metadata, while one
    // holding an older epoch gets FENCED_LEADER_EPOCH and refreshes (KIP-320).
    if (owner === self) return { brokerId: this.placementOf(topicId, partition), epoch };
    return { brokerId: owner, epoch };
  }

  /** The broker placement gives the partition to (not necessarily its owner right now). */
  placementOf(topicId: string, partition: number): number {
    let cached = this.#placements.get(topicId);
    if (cached === undefined) {
      cached = [];
      this.#placements.set(topicId, cached);
    }
    let target = cached[partition];
    if (target === undefined) {
      target = this.#place(topicId, partition);
      while (cached.length < partition) cached.push(this.#place(topicId, cached.length));
      cached[partition] = target;
    }
    return target;
  }

  /** Forgets a deleted topic's placements. */
  forgetTopic(topicId: string): void {
    this.#placements.delete(topicId);
  }

  #place(topicId: string, partition: number): number {
    let best = this.#brokers.self.brokerId;
    let bestScore = -1n;
    for (const broker of this.#brokers.live()) {
      const score = rendezvousScore(`${topicId}/${partition}`, broker.brokerId);
      if (score > bestScore) {
        bestScore = score;
        best = broker.brokerId;
      }
    }
    return best;
  }
}

export function rendezvousScore(item: string, brokerId: number): bigint {
  return createHash('sha256').update(item).update('\0').update(String(brokerId)).digest().readBigUInt64BE(0);
}
