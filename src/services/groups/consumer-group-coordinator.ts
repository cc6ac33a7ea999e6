import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import type { AssignableTopic } from './assignors.ts';
import { GroupState } from './classic-group.ts';
import { ConsumerGroup } from './consumer-group.ts';
import { consumerHeartbeat, expiredMembers, type ConsumerHeartbeatOutcome, type ConsumerHeartbeatRequest } from './consumer-heartbeat.ts';
import { GROUP_HEARTBEAT_INTERVAL, GROUP_SESSION_TIMEOUT, type GroupConfigOutcome, type GroupConfigs } from './group-configs.ts';
import type { GroupStore } from './group-store.ts';
import type { GroupSlots, Slot } from './group-slots.ts';

/** The broker's KIP-848 settings (group.consumer.*); a group's configs may override the first two. */
export interface ConsumerGroupSettings {
  readonly consumerSessionTimeoutMs: number;
  readonly consumerHeartbeatIntervalMs: number;
  /** group.consumer.assignors, the first one the default. */
  readonly consumerAssignors: readonly string[];
}

/** ConsumerGroupDescribe's view of one group. */
export interface ConsumerGroupDescription {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly groupId: string;
  readonly groupState: string;
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly assignorName: string;
  readonly members: readonly {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicId: string; partitions: number[] }[];
    targetAssignment: { topicId: string; partitions: number[] }[];
  }[];
}

/**
 * KIP-848 consumer groups (Kafka's GroupMetadataManager for the consumer protocol): heartbeats, member
 * expiry, ConsumerGroupDescribe and the per-group configs. Every change but the session clock is
 * persisted before the answer, so a new coordinator continues from it.
 */
export class ConsumerGroupCoordinator {
  readonly #slots: GroupSlots;
  readonly #groups: GroupStore;
  readonly #configs: GroupConfigs;
  readonly #settings: ConsumerGroupSettings;
  readonly #log: Logger;

  constructor(slots: GroupSlots, groups: GroupStore, configs: GroupConfigs, settings: ConsumerGroupSettings, log: Logger) {
    this.#slots = slots;
    this.#groups = groups;
    this.#configs = configs;
    this.#settings = settings;
    this.#log = log;
  }

  get heartbeatIntervalMs(): number {
    return this.#settings.consumerHeartbeatIntervalMs;
  }

  get sessionTimeoutMs(): number {
    return this.#settings.consumerSessionTimeoutMs;
  }

  /** A group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms: its overrides, else the broker's. */
  groupConfig(groupId: string): { sessionTimeoutMs: number; heartbeatIntervalMs: number; overridden: ReadonlySet<string> } {
    const overrides = this.#configs.overrides(groupId);
    return {
      sessionTimeoutMs: this.#configs.valueMs(groupId, GROUP_SESSION_TIMEOUT) ?? this.sessionTimeoutMs,
      heartbeatIntervalMs: this.#configs.valueMs(groupId, GROUP_HEARTBEAT_INTERVAL) ?? this.heartbeatIntervalMs,
      overridden: new Set(Object.keys(overrides)),
    };
  }

  /** AlterConfigs / IncrementalAlterConfigs on a GROUP resource (any broker may take it; all see it). */
  alterGroupConfig(
    groupId: string,
    alterations: Parameters<GroupConfigs['alter']>[1],
    options: { readonly incremental: boolean; readonly validateOnly: boolean },
  ): Promise<GroupConfigOutcome> {
    return this.#configs.alter(groupId, alterations, options, { sessionTimeoutMs: this.sessionTimeoutMs, heartbeatIntervalMs: this.heartbeatIntervalMs });
  }

  /**
   * ConsumerGroupHeartbeat: join, heartbeat, leave of a KIP-848 member. A classic group with members
   * answers GROUP_ID_NOT_FOUND (Kafka: "not a consumer group"); an empty classic group (e.g. one that
   * only holds offsets) becomes a consumer group, keeping its offsets.
   */
  async heartbeat(
    req: ConsumerHeartbeatRequest,
    topic: (name: string) => AssignableTopic | undefined,
    topicNames?: () => readonly string[],
  ): Promise<ConsumerHeartbeatOutcome> {
    const fail = (errorCode: number, errorMessage: string | null = null): ConsumerHeartbeatOutcome => ({ errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null });
    // Kafka answers an empty group id here with INVALID_REQUEST (not INVALID_GROUP_ID).
    if (req.groupId === '') return fail(ErrorCode.INVALID_REQUEST, 'GroupId can not be empty');
    return this.#slots.run(req.groupId, (code) => fail(code), async (slot) => {
      const nowMs = this.#slots.now();
      if (slot.group !== null) {
        if (slot.group.unloaded) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        // Only a join turns an empty classic group into a consumer group.
        if (req.memberEpoch !== 0 || slot.group.state !== GroupState.Empty || slot.group.pendingMembers.size > 0) {
          return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
        }
        const revision = slot.group.storeRevision;
        slot.group = null;
        slot.consumer = new ConsumerGroup(req.groupId, nowMs);
        slot.consumer.storeRevision = revision;
      }
      if (slot.consumer === null) {
        // Kafka: a group that does not exist is created only by a join (epoch 0).
        if (req.memberEpoch !== 0) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${req.groupId} not found.`);
        slot.consumer = new ConsumerGroup(req.groupId, nowMs);
      }
      const group = slot.consumer;
      group.enabledAssignors = this.#settings.consumerAssignors;
      const stateBefore = group.state;
      const { outcome, changed } = consumerHeartbeat(group, req, { nowMs, heartbeatIntervalMs: this.groupConfig(req.groupId).heartbeatIntervalMs, topic, topicNames: topicNames ?? (() => []) });
      if (!changed) return outcome;
      if (group.state !== stateBefore) group.stateSinceMs = nowMs;
      const persisted = await this.#persist(slot, group);
      if (persisted !== ErrorCode.NONE) return fail(persisted);
      this.#logChange(group, 'heartbeat', req.memberId);
      return outcome;
    });
  }

  /** ConsumerGroupDescribe for one group: GROUP_ID_NOT_FOUND for unknown and classic groups, as Kafka. */
  async describe(groupId: string, topicName: (topicId: string) => string | undefined): Promise<ConsumerGroupDescription & { topicName: (id: string) => string }> {
    const failed = (errorCode: number, errorMessage: string | null = null) => ({
      errorCode,
      errorMessage,
      groupId,
      groupState: '',
      groupEpoch: -1,
      assignmentEpoch: -1,
      assignorName: '',
      members: [],
      topicName: (id: string) => topicName(id) ?? '',
    });
    return this.#slots.run(groupId, (code) => failed(code), (slot) => {
      const group = slot.consumer;
      if (group === null || group.unloaded) {
        return failed(ErrorCode.GROUP_ID_NOT_FOUND, slot.group === null ? `Group ${groupId} not found.` : `Group ${groupId} is not a consumer group.`);
      }
      const names = new Map([...group.topics.values()].map((t) => [t.id, t.name]));
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: group.state,
        groupEpoch: group.groupEpoch,
        assignmentEpoch: group.assignmentEpoch,
        assignorName: group.assignorName,
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          subscribedTopicRegex: m.subscribedTopicRegex,
          assignment: toPartitionList(m.assigned),
          targetAssignment: toPartitionList(group.target.get(m.memberId) ?? new Map()),
        })),
        topicName: (id: string) => names.get(id) ?? topicName(id) ?? '',
      };
    });
  }

  /** Session timeouts and missed revocation deadlines: the member goes and its partitions are freed. */
  async expireMembers(slot: Slot, group: ConsumerGroup): Promise<void> {
    const expired = expiredMembers(group, this.#slots.now(), this.groupConfig(group.groupId).sessionTimeoutMs);
    if (expired.length === 0) return;
    for (const member of expired) group.remove(member.memberId);
    group.computeTargetIfNeeded();
    if (group.members.size === 0) group.stateSinceMs = this.#slots.now();
    this.#log.info({ groupId: group.groupId, members: expired.map((m) => m.memberId), groupEpoch: group.groupEpoch }, 'consumer group members expired (session timeout or revocation deadline)');
    await this.#persist(slot, group);
  }

  /**
   * Writes the group; on any failure the in-memory group is dropped, so the next request reloads the
   * last state that was stored (what the members were last told stays the truth).
   */
  async #persist(slot: Slot, group: ConsumerGroup): Promise<number> {
    try {
      return await this.#save(slot, group);
    } catch (error) {
      if (slot.consumer === group) this.#slots.unload(slot, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      throw error;
    }
  }

  async #save(slot: Slot, group: ConsumerGroup): Promise<number> {
    try {
      const outcome = await this.#groups.save(group);
      if (outcome === 'ok') return ErrorCode.NONE;
      if (outcome === 'too-large') {
        this.#log.warn({ groupId: group.groupId }, 'consumer group state exceeds the metadata value limit');
        this.#slots.unload(slot, ErrorCode.UNKNOWN_SERVER_ERROR);
        return ErrorCode.UNKNOWN_SERVER_ERROR;
      }
      this.#log.warn({ groupId: group.groupId }, 'consumer group state was changed by another coordinator; handing the group over');
      if (slot.consumer === group) this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
      return ErrorCode.NOT_COORDINATOR;
    } catch (error) {
      if (isKafscaleError(error) && error.code.startsWith('KSC_META_')) throw error;
      this.#log.warn({ err: error, groupId: group.groupId }, 'could not store consumer group state');
      this.#slots.unload(slot, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** The group log for KIP-848 groups: epochs and every member's epoch, state and partition count. */
  #logChange(group: ConsumerGroup, cause: string, memberId: string): void {
    if (!this.#log.isLevelEnabled('debug')) return;
    const members = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      epoch: m.memberEpoch,
      state: m.state,
      partitions: [...m.assigned.values()].reduce((n, ps) => n + ps.length, 0),
      revoking: [...m.revoking.values()].reduce((n, ps) => n + ps.length, 0),
    }));
    this.#log.debug({ groupId: group.groupId, cause, memberId, state: group.state, groupEpoch: group.groupEpoch, assignmentEpoch: group.assignmentEpoch, members }, 'consumer group change');
  }
}

function toPartitionList(partitions: ReadonlyMap<string, readonly number[]>): { topicId: string; partitions: number[] }[] {
  return [...partitions].filter(([, ps]) => ps.length > 0).map(([topicId, ps]) => ({ topicId, partitions: [...ps] }));
}
