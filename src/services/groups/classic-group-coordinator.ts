import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { assignedPartitionCount } from './assigned-partition-count.ts';
import { ClassicGroup, GroupState, type JoinOutcome, type SyncOutcome } from './classic-group.ts';
import type { GroupSlots } from './group-slots.ts';
import type { GroupStore } from './group-store.ts';
import { joinError, syncError, type JoinRequest, type MemberIdentity, type Pending, type SyncRequest } from './member-answers.ts';
import { Membership } from './membership.ts';

/** The broker's classic-protocol settings. */
export interface ClassicGroupSettings {
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
}

/**
 * Classic-protocol groups (JoinGroup, SyncGroup, Heartbeat, LeaveGroup): request checks and the group's
 * lock here, the rebalance state machine in Membership. Group state is stored on every transition that
 * members were told about.
 */
export class ClassicGroupCoordinator {
  readonly #slots: GroupSlots;
  readonly #groups: GroupStore;
  readonly #settings: ClassicGroupSettings;
  readonly #membership: Membership;
  readonly #log: Logger;

  constructor(slots: GroupSlots, groups: GroupStore, settings: ClassicGroupSettings, log: Logger) {
    this.#slots = slots;
    this.#groups = groups;
    this.#settings = settings;
    this.#log = log;
    this.#membership = new Membership({
      nowMs: () => this.#slots.now(),
      initialRebalanceDelayMs: settings.initialRebalanceDelayMs,
      persist: (group) => this.#persist(group),
      transitioned: (group, from) => this.#logTransition(group, from),
    });
  }

  async join(req: JoinRequest): Promise<JoinOutcome> {
    if (req.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, req.memberId);
    if (req.sessionTimeoutMs < this.#settings.minSessionTimeoutMs || req.sessionTimeoutMs > this.#settings.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    const refused = this.#slots.refusal(req.groupId);
    if (refused !== null) return joinError(refused, req.memberId);
    const pending = await this.#slots.guarded(
      () =>
        this.#slots.withGroup(req.groupId, async (slot) => {
          if (slot.consumer !== null) {
            // A KIP-848 group with members does not take classic members (Kafka without the upgrade
            // policy); an empty one is turned into a classic group (the downgrade of an empty group).
            if (slot.consumer.members.size > 0) return { now: joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId) };
            const revision = slot.consumer.storeRevision;
            slot.consumer = null;
            slot.group = new ClassicGroup(req.groupId, this.#slots.now());
            slot.group.storeRevision = revision;
          }
          if (slot.group === null) {
            if (req.memberId !== '') return { now: joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId) };
            slot.group = new ClassicGroup(req.groupId, this.#slots.now());
          }
          const result = await this.#membership.join(slot.group, req);
          await this.#membership.checkJoin(slot.group);
          return result;
        }),
      (code): Pending<JoinOutcome> => ({ now: joinError(code, req.memberId) }),
    );
    return 'now' in pending ? pending.now : pending.later;
  }

  async sync(req: SyncRequest): Promise<SyncOutcome> {
    const pending = await this.#slots.run(req.groupId, (code): Pending<SyncOutcome> => ({ now: syncError(code) }), (slot) => this.#membership.sync(slot.group, req));
    return 'now' in pending ? pending.now : pending.later;
  }

  async heartbeat(groupId: string, member: MemberIdentity, generationId: number): Promise<number> {
    return this.#slots.run(groupId, (code) => code, (slot) => this.#membership.heartbeat(slot.group, member, generationId));
  }

  /** LeaveGroup: a group-level error code (or NONE) and one code per leaving member. */
  async leave(groupId: string, members: readonly MemberIdentity[]): Promise<{ errorCode: number; members: number[] }> {
    const whole = (code: number) => ({ errorCode: code, members: members.map(() => code) });
    return this.#slots.run(groupId, whole, async (slot) => {
      if (slot.group?.unloaded === true) return whole(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      const codes = members.map((m) => this.#membership.leave(slot.group, m));
      if (slot.group !== null) await this.#membership.checkJoin(slot.group);
      return { errorCode: ErrorCode.NONE, members: codes };
    });
  }

  /** Session and rebalance timeouts of one group (the coordinator's coarse timer). */
  tick(group: ClassicGroup): Promise<void> {
    return this.#membership.tick(group);
  }

  async #persist(group: ClassicGroup): Promise<number> {
    try {
      const outcome = await this.#groups.save(group);
      if (outcome === 'ok') return ErrorCode.NONE;
      if (outcome === 'too-large') {
        this.#log.warn({ groupId: group.groupId }, 'group state exceeds the metadata value limit; refusing it (members metadata and assignments too large)');
        return ErrorCode.UNKNOWN_SERVER_ERROR;
      }
      this.#log.warn({ groupId: group.groupId }, 'group state was changed by another coordinator; handing the group over');
      const slot = this.#slots.get(group.groupId);
      if (slot !== undefined && slot.group === group) this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
      return ErrorCode.NOT_COORDINATOR;
    } catch (error) {
      this.#log.warn({ err: error, groupId: group.groupId }, 'could not store group state');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /**
   * The group log: one debug line per state transition with the generation, the leader and every member
   * with the number of partitions it was assigned (null when the assignment is not the consumer
   * protocol's; 0 before the leader's SyncGroup). Enough to tell an extra rebalance from a client that
   * keeps reading partitions it lost.
   */
  #logTransition(group: ClassicGroup, from: GroupState): void {
    if (!this.#log.isLevelEnabled('debug')) return;
    const members = [...group.members.values()].map((m) => ({ memberId: m.memberId, clientId: m.clientId, partitions: assignedPartitionCount(m.assignment) }));
    this.#log.debug(
      { groupId: group.groupId, from, to: group.state, generationId: group.generationId, leaderId: group.leaderId, protocol: group.protocolName, members },
      'group state change',
    );
  }
}
