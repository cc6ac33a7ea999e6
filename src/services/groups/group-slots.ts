import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { rendezvousScore } from '../cluster/partition-leaders.ts';
import { GroupState, type ClassicGroup } from './classic-group.ts';
import { ConsumerGroup } from './consumer-group.ts';
import type { GroupStore } from './group-store.ts';
import { Membership } from './membership.ts';
import { SerialQueue } from './serial-queue.ts';

/** Where coordinators live: the live brokers (BrokerRegistry satisfies this). */
export interface CoordinatorPlacement {
  readonly self: { readonly brokerId: number };
  live(): readonly { readonly brokerId: number }[];
  onChange(listener: () => void): () => void;
}

/** One group in memory: its lock and, once loaded from the store, its state. */
export interface Slot {
  readonly queue: SerialQueue;
  group: ClassicGroup | null;
  /** A KIP-848 consumer group; a slot holds either this or `group`, never both. */
  consumer: ConsumerGroup | null;
  loaded: boolean;
  ticking: boolean;
}

/**
 * The groups this broker coordinates, in memory: placement (rendezvous hashing of the group id over the
 * live brokers), the per-group lock with the group loaded from the store on first use, and the mapping
 * of store faults to Kafka's coordinator codes. Shared by the classic coordinator, the KIP-848 consumer
 * group coordinator and the committed offsets.
 */
export class GroupSlots {
  readonly #placement: CoordinatorPlacement;
  readonly #groups: GroupStore;
  readonly #consumerAssignors: readonly string[];
  readonly #log: Logger;
  readonly #slots = new Map<string, Slot>();
  readonly now: () => number;
  #closed = false;

  constructor(placement: CoordinatorPlacement, groups: GroupStore, consumerAssignors: readonly string[], now: () => number, log: Logger) {
    this.#placement = placement;
    this.#groups = groups;
    this.#consumerAssignors = consumerAssignors;
    this.now = now;
    this.#log = log;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** From now on every request is refused with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    this.#closed = true;
  }

  /** Answers every waiting classic member with NOT_COORDINATOR and forgets every group. */
  unloadAll(): void {
    for (const slot of this.#slots.values()) if (slot.group !== null) Membership.unload(slot.group, ErrorCode.NOT_COORDINATOR);
    this.#slots.clear();
  }

  /** The broker that coordinates a group: highest rendezvous score among live brokers. */
  coordinatorOf(groupId: string): number {
    let best = this.#placement.self.brokerId;
    let bestScore = -1n;
    for (const broker of this.#placement.live()) {
      const score = rendezvousScore(`group/${groupId}`, broker.brokerId);
      if (score > bestScore) {
        bestScore = score;
        best = broker.brokerId;
      }
    }
    return best;
  }

  isCoordinator(groupId: string): boolean {
    return this.coordinatorOf(groupId) === this.#placement.self.brokerId;
  }

  /** Calls `listener` when the live brokers change (groups may have moved). */
  onPlacementChange(listener: () => void): () => void {
    return this.#placement.onChange(listener);
  }

  /** COORDINATOR_NOT_AVAILABLE once closed, NOT_COORDINATOR for a group another broker coordinates, else null. */
  refusal(groupId: string): number | null {
    if (this.#closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.isCoordinator(groupId) ? null : ErrorCode.NOT_COORDINATOR;
  }

  get(groupId: string): Slot | undefined {
    return this.#slots.get(groupId);
  }

  entries(): IterableIterator<[string, Slot]> {
    return this.#slots.entries();
  }

  /** Runs `task` under the group's lock with the group loaded from the store if it is not in memory. */
  async withGroup<T>(groupId: string, task: (slot: Slot) => Promise<T> | T): Promise<T> {
    let slot = this.#slots.get(groupId);
    if (slot === undefined) {
      slot = { queue: new SerialQueue(), group: null, consumer: null, loaded: false, ticking: false };
      this.#slots.set(groupId, slot);
    }
    const current = slot;
    try {
      return await current.queue.run(async () => {
        if (!current.loaded) {
          const loaded = await this.#groups.load(groupId, this.now());
          current.group = loaded instanceof ConsumerGroup ? null : loaded;
          current.consumer = loaded instanceof ConsumerGroup ? loaded : null;
          if (current.consumer !== null) current.consumer.enabledAssignors = this.#consumerAssignors;
          current.loaded = true;
        }
        return task(current);
      });
    } finally {
      // Forget slots that hold nothing (lookups of unknown groups, deleted groups) once idle.
      const idle = current.queue.pending === 0;
      const consumer = current.consumer;
      const empty =
        (consumer === null || (consumer.members.size === 0 && consumer.storeRevision === 0)) &&
        (current.group === null || (current.group.state === GroupState.Empty && current.group.storeRevision === 0 && current.group.members.size === 0 && current.group.pendingMembers.size === 0));
      if (idle && empty && this.#slots.get(groupId) === current) this.#slots.delete(groupId);
    }
  }

  /**
   * The frame of a group request: INVALID_GROUP_ID for an empty id, the refusal (closed, another broker
   * coordinates the group), else `task` under the group's lock with store faults answered as `fail` does.
   */
  async run<T>(groupId: string, fail: (errorCode: number) => T, task: (slot: Slot) => Promise<T> | T): Promise<T> {
    if (groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    const refused = this.refusal(groupId);
    if (refused !== null) return fail(refused);
    return this.guarded(() => this.withGroup(groupId, task), fail);
  }

  /** Maps store faults to the codes Kafka's coordinator answers when its log is unavailable. */
  async guarded<T>(task: () => Promise<T>, onFailure: (errorCode: number) => T): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (isKafscaleError(error) && error.code.startsWith('KSC_META_')) {
        this.#log.warn({ err: error }, 'metadata store unavailable for a group request; answering COORDINATOR_NOT_AVAILABLE');
        return onFailure(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      throw error;
    }
  }

  /** Drops the slot's group from memory (waiting members get `errorCode`); the next request reloads it. */
  unload(slot: Slot, errorCode: number): void {
    if (slot.group !== null) Membership.unload(slot.group, errorCode);
    if (slot.consumer !== null) slot.consumer.unloaded = true;
    slot.consumer = null;
    slot.group = null;
    slot.loaded = false;
  }
}
