import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { rendezvousScore } from '../cluster/partition-leaders.ts';
import { assignedPartitionCount } from './assigned-partition-count.ts';
import { ClassicGroup, GroupState, type JoinOutcome, type SyncOutcome } from './classic-group.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { ConsumerGroup } from './consumer-group.ts';
import { consumerHeartbeat, expiredMembers, type ConsumerHeartbeatOutcome, type ConsumerHeartbeatRequest } from './consumer-heartbeat.ts';
import type { AssignableTopic } from './assignors.ts';
import { GROUP_HEARTBEAT_INTERVAL, GROUP_SESSION_TIMEOUT, GroupConfigs, type GroupConfigOutcome } from './group-configs.ts';
import { encodeGroup, GroupStore } from './group-store.ts';
import { joinError, Membership, syncError, type JoinRequest, type MemberIdentity, type Pending, type SyncRequest } from './membership.ts';
import { OffsetStore, type CommittedOffset } from './offset-store.ts';
import { SerialQueue } from './serial-queue.ts';

export interface GroupSettings {
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly offsetsRetentionMinutes: number;
  /** Period of the coarse timer that enforces session and rebalance timeouts; default 250 ms. */
  readonly tickMs?: number;
  /** Period of the expired-offsets sweep (offsets.retention.check.interval.ms); default 60 s. */
  readonly retentionCheckIntervalMs?: number;
  /** Clock, for tests. */
  readonly nowMs?: () => number;
  /** KIP-848 groups: group.consumer.session.timeout.ms (Kafka's default 45 s). */
  readonly consumerSessionTimeoutMs?: number;
  /** KIP-848 groups: group.consumer.heartbeat.interval.ms (Kafka's default 5 s). */
  readonly consumerHeartbeatIntervalMs?: number;
  /** KIP-848 groups: group.consumer.assignors, the first one the default (default: uniform, range). */
  readonly consumerAssignors?: readonly string[];
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

/** Where coordinators live: the live brokers (BrokerRegistry satisfies this). */
export interface CoordinatorPlacement {
  readonly self: { readonly brokerId: number };
  live(): readonly { readonly brokerId: number }[];
  onChange(listener: () => void): () => void;
}

export interface OffsetCommitRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** OffsetCommit v2–v4 retention time; -1 when absent. */
  readonly retentionTimeMs: number;
  /** The OffsetCommit version (consumer groups need v9+); absent means the newest. */
  readonly apiVersion?: number;
  /** commitTimestampMs: OffsetCommit v1's per-partition commit time; absent or -1 means now (as Kafka). */
  readonly offsets: readonly { topic: string; partition: number; offset: bigint; leaderEpoch: number; metadata: string | null; commitTimestampMs?: number }[];
}

export interface GroupDescription {
  readonly errorCode: number;
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  /** The selected protocol while Stable, '' otherwise (Kafka's GroupSummary). */
  readonly protocolData: string;
  readonly members: readonly {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: string;
  /** 'classic' or 'consumer' (KIP-848). */
  readonly groupType: string;
}

interface Slot {
  readonly queue: SerialQueue;
  group: ClassicGroup | null;
  /** A KIP-848 consumer group; a slot holds either this or `group`, never both. */
  consumer: ConsumerGroup | null;
  loaded: boolean;
  ticking: boolean;
}

const EMPTY = Buffer.alloc(0);

function toPartitionList(partitions: ReadonlyMap<string, readonly number[]>): { topicId: string; partitions: number[] }[] {
  return [...partitions].filter(([, ps]) => ps.length > 0).map(([topicId, ps]) => ({ topicId, partitions: [...ps] }));
}

/**
 * The classic-protocol group coordinator (Kafka's GroupCoordinator): membership, rebalances, committed
 * offsets and admin views for the groups this broker coordinates. Placement is rendezvous hashing of
 * the group id over the live brokers; state and offsets live in the metadata store, so whichever
 * broker coordinates a group next loads it from there and continues.
 *
 * Store faults surface as COORDINATOR_NOT_AVAILABLE (clients look the coordinator up again and
 * retry); a guarded write that loses to another coordinator surfaces as NOT_COORDINATOR.
 */
export class GroupCoordinator {
  readonly settings: GroupSettings;
  readonly #placement: CoordinatorPlacement;
  readonly #groups: GroupStore;
  readonly #offsets: OffsetStore;
  readonly #configs: GroupConfigs;
  readonly #membership: Membership;
  readonly #log: Logger;
  readonly #slots = new Map<string, Slot>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #retentionTimer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #closed = false;
  /** Whether a topic exists now; committed offsets of topics that do not are never reported. */
  #topicExists: (topic: string) => boolean = () => true;

  constructor(store: MetadataStore, placement: CoordinatorPlacement, settings: GroupSettings, log: Logger) {
    this.settings = settings;
    this.#placement = placement;
    this.#groups = new GroupStore(store);
    this.#offsets = new OffsetStore(store);
    this.#configs = new GroupConfigs(store, log);
    this.#log = log;
    this.#now = settings.nowMs ?? Date.now;
    this.#membership = new Membership({
      nowMs: () => this.#now(),
      initialRebalanceDelayMs: settings.initialRebalanceDelayMs,
      persist: (group) => this.#persist(group),
      transitioned: (group, from) => this.#logTransition(group, from),
    });
  }

  /** Starts the coarse timer and the retention sweep, and hands groups over when brokers come and go. */
  start(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setInterval(() => this.#tickAll(), this.settings.tickMs ?? 250);
    this.#timer.unref();
    this.#retentionTimer = setInterval(() => void this.expireOffsets().catch((error: unknown) => this.#log.warn({ err: error }, 'offset expiry sweep failed')), this.settings.retentionCheckIntervalMs ?? 60_000);
    this.#retentionTimer.unref();
    this.#unsubscribe = this.#placement.onChange(() => this.#releaseMovedGroups());
    // Per-group config overrides; until the mirror is read, groups use the broker's settings.
    this.#configs.open().catch((error: unknown) => this.#log.warn({ err: error }, 'could not read the group configs; groups use the broker settings'));
  }

  /** Stops the timers and answers every waiting member with NOT_COORDINATOR; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    this.#unsubscribe?.();
    await this.#configs.close().catch(() => {});
    for (const slot of this.#slots.values()) if (slot.group !== null) Membership.unload(slot.group, ErrorCode.NOT_COORDINATOR);
    this.#slots.clear();
  }

  /**
   * Tells the coordinator which topics exist. OffsetFetch then leaves out offsets of topics that no
   * longer exist, even before `removeOffsetsOfTopics` has removed them (or if this broker missed it).
   */
  useTopicLookup(exists: (topic: string) => boolean): void {
    this.#topicExists = exists;
  }

  /**
   * Kafka's GroupCoordinator.onPartitionsDeleted: when a topic is deleted, its committed offsets are
   * removed from every group. Each broker removes them from the groups it coordinates (every group has
   * one live coordinator), so a topic re-created with the same name starts without stale offsets.
   * Returns the number of offsets removed.
   */
  async removeOffsetsOfTopics(topics: readonly string[]): Promise<number> {
    if (topics.length === 0) return 0;
    let removed = 0;
    for (const stored of await this.#groups.list()) {
      if (this.#closed) break;
      if (!this.isCoordinator(stored.groupId)) continue;
      removed += await this.#guarded(
        () =>
          this.#withGroup(stored.groupId, async (slot): Promise<number> => {
            const group = slot.group ?? slot.consumer;
            if (group === null || group.unloaded) return 0;
            const gone: { topic: string; partition: number }[] = [];
            for (const topic of topics) for (const partition of await this.#offsets.partitionsOf(group.groupId, topic)) gone.push({ topic, partition });
            if (gone.length === 0) return 0;
            if (!(await this.#offsets.delete(group.groupId, group.storeRevision, gone))) {
              this.#unload(slot, ErrorCode.NOT_COORDINATOR);
              return 0;
            }
            return gone.length;
          }),
        () => 0,
      );
    }
    if (removed > 0) this.#log.info({ topics, removed }, 'removed committed offsets of deleted topics');
    return removed;
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

  // ---- membership -------------------------------------------------------------------------------

  async join(req: JoinRequest): Promise<JoinOutcome> {
    if (req.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, req.memberId);
    if (req.sessionTimeoutMs < this.settings.minSessionTimeoutMs || req.sessionTimeoutMs > this.settings.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    const refused = this.#refusal(req.groupId);
    if (refused !== null) return joinError(refused, req.memberId);
    const pending = await this.#guarded(
      () =>
        this.#withGroup(req.groupId, async (slot) => {
          if (slot.consumer !== null) {
            // A KIP-848 group with members does not take classic members (Kafka without the upgrade
            // policy); an empty one is turned into a classic group (the downgrade of an empty group).
            if (slot.consumer.members.size > 0) return { now: joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId) };
            const revision = slot.consumer.storeRevision;
            slot.consumer = null;
            slot.group = new ClassicGroup(req.groupId, this.#now());
            slot.group.storeRevision = revision;
          }
          if (slot.group === null) {
            if (req.memberId !== '') return { now: joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId) };
            slot.group = new ClassicGroup(req.groupId, this.#now());
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
    if (req.groupId === '') return syncError(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(req.groupId);
    if (refused !== null) return syncError(refused);
    const pending = await this.#guarded(
      () => this.#withGroup(req.groupId, (slot) => this.#membership.sync(slot.group, req)),
      (code): Pending<SyncOutcome> => ({ now: syncError(code) }),
    );
    return 'now' in pending ? pending.now : pending.later;
  }

  async heartbeat(groupId: string, member: MemberIdentity, generationId: number): Promise<number> {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const refused = this.#refusal(groupId);
    if (refused !== null) return refused;
    return this.#guarded(
      () => this.#withGroup(groupId, (slot) => this.#membership.heartbeat(slot.group, member, generationId)),
      (code) => code,
    );
  }

  /** LeaveGroup: a group-level error code (or NONE) and one code per leaving member. */
  async leave(groupId: string, members: readonly MemberIdentity[]): Promise<{ errorCode: number; members: number[] }> {
    const whole = (code: number) => ({ errorCode: code, members: members.map(() => code) });
    if (groupId === '') return whole(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(groupId);
    if (refused !== null) return whole(refused);
    return this.#guarded(
      () =>
        this.#withGroup(groupId, async (slot) => {
          if (slot.group?.unloaded === true) return whole(ErrorCode.COORDINATOR_NOT_AVAILABLE);
          const codes = members.map((m) => this.#membership.leave(slot.group, m));
          if (slot.group !== null) await this.#membership.checkJoin(slot.group);
          return { errorCode: ErrorCode.NONE, members: codes };
        }),
      whole,
    );
  }

  // ---- KIP-848 consumer groups -------------------------------------------------------------------

  get consumerHeartbeatIntervalMs(): number {
    return this.settings.consumerHeartbeatIntervalMs ?? 5_000;
  }

  get consumerSessionTimeoutMs(): number {
    return this.settings.consumerSessionTimeoutMs ?? 45_000;
  }

  /** A group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms: its overrides, else the broker's. */
  groupConfig(groupId: string): { sessionTimeoutMs: number; heartbeatIntervalMs: number; overridden: ReadonlySet<string> } {
    const overrides = this.#configs.overrides(groupId);
    return {
      sessionTimeoutMs: this.#configs.valueMs(groupId, GROUP_SESSION_TIMEOUT) ?? this.consumerSessionTimeoutMs,
      heartbeatIntervalMs: this.#configs.valueMs(groupId, GROUP_HEARTBEAT_INTERVAL) ?? this.consumerHeartbeatIntervalMs,
      overridden: new Set(Object.keys(overrides)),
    };
  }

  /** AlterConfigs / IncrementalAlterConfigs on a GROUP resource (any broker may take it; all see it). */
  alterGroupConfig(
    groupId: string,
    alterations: Parameters<GroupConfigs['alter']>[1],
    options: { readonly incremental: boolean; readonly validateOnly: boolean },
  ): Promise<GroupConfigOutcome> {
    return this.#configs.alter(groupId, alterations, options, { sessionTimeoutMs: this.consumerSessionTimeoutMs, heartbeatIntervalMs: this.consumerHeartbeatIntervalMs });
  }

  /**
   * ConsumerGroupHeartbeat: join, heartbeat, leave of a KIP-848 member. A classic group with members
   * answers GROUP_ID_NOT_FOUND (Kafka: "not a consumer group"); an empty classic group (e.g. one that
   * only holds offsets) becomes a consumer group, keeping its offsets. Every change but the session
   * clock is persisted before the answer, so a new coordinator continues from it.
   */
  async consumerHeartbeat(
    req: ConsumerHeartbeatRequest,
    topic: (name: string) => AssignableTopic | undefined,
    topicNames?: () => readonly string[],
  ): Promise<ConsumerHeartbeatOutcome> {
    const fail = (errorCode: number, errorMessage: string | null = null): ConsumerHeartbeatOutcome => ({ errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null });
    if (req.groupId === '') return fail(ErrorCode.INVALID_REQUEST, 'GroupId can not be empty');
    const refused = this.#refusal(req.groupId);
    if (refused !== null) return fail(refused);
    return this.#guarded(
      () =>
        this.#withGroup(req.groupId, async (slot) => {
          const nowMs = this.#now();
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
          if (this.settings.consumerAssignors !== undefined) group.enabledAssignors = this.settings.consumerAssignors;
          const stateBefore = group.state;
          const { outcome, changed } = consumerHeartbeat(group, req, { nowMs, heartbeatIntervalMs: this.groupConfig(req.groupId).heartbeatIntervalMs, topic, topicNames: topicNames ?? (() => []) });
          if (!changed) return outcome;
          if (group.state !== stateBefore) group.stateSinceMs = nowMs;
          const persisted = await this.#persistConsumer(slot, group);
          if (persisted !== ErrorCode.NONE) return fail(persisted);
          this.#logConsumer(group, 'heartbeat', req.memberId);
          return outcome;
        }),
      (code) => fail(code),
    );
  }

  /** ConsumerGroupDescribe for one group: GROUP_ID_NOT_FOUND for unknown and classic groups, as Kafka. */
  async describeConsumerGroup(groupId: string, topicName: (topicId: string) => string | undefined): Promise<ConsumerGroupDescription & { topicName: (id: string) => string }> {
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
    if (groupId === '') return failed(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(groupId);
    if (refused !== null) return failed(refused);
    return this.#guarded(
      () =>
        this.#withGroup(groupId, (slot) => {
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
        }),
      (code) => failed(code),
    );
  }

  /**
   * OffsetCommit to a consumer group (Kafka's ConsumerGroup.validateOffsetCommit): a simple commit
   * (member epoch < 0) is accepted while the group has no members; otherwise the member must exist
   * (UNKNOWN_MEMBER_ID) and commit with its current epoch (STALE_MEMBER_EPOCH), with OffsetCommit v9+
   * (UNSUPPORTED_VERSION below it, as Kafka).
   */
  async #commitToConsumerGroup(slot: Slot, group: ConsumerGroup, req: OffsetCommitRequest, nowMs: number): Promise<number[]> {
    const all = (code: number) => req.offsets.map(() => code);
    if (group.unloaded) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!(req.generationId < 0 && group.members.size === 0)) {
      const member = group.members.get(req.memberId);
      if (member === undefined) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      if ((req.apiVersion ?? 9) < 9) return all(ErrorCode.UNSUPPORTED_VERSION);
      if (req.generationId !== member.memberEpoch) return all(ErrorCode.STALE_MEMBER_EPOCH);
    }
    const offsets = committedOffsets(req, nowMs);
    const result = await this.#offsets.commit(group.groupId, group.storeRevision, offsets);
    if (result.conflict) {
      this.#unload(slot, ErrorCode.NOT_COORDINATOR);
      return req.offsets.map((_, i) => (i < result.written ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR));
    }
    return all(ErrorCode.NONE);
  }

  /**
   * Offset retention of an Empty consumer group (Kafka: offsets expire offsets.retention.minutes after
   * the group became empty; an explicit v2–v4 retention time wins); a group left without offsets is deleted.
   */
  async #expireConsumerOffsets(slot: Slot, group: ConsumerGroup, retentionMs: number): Promise<number> {
    if (group.unloaded || group.members.size > 0) return 0;
    const nowMs = this.#now();
    const offsets = await this.#offsets.fetchAll(group.groupId);
    const stale = offsets.filter((o) => (o.expireTimestampMs !== null ? o.expireTimestampMs <= nowMs : group.stateSinceMs + retentionMs <= nowMs));
    if (stale.length === offsets.length) {
      const outcome = await this.#groups.delete(group);
      this.#unload(slot, ErrorCode.NOT_COORDINATOR);
      return outcome === 'ok' ? stale.length : 0;
    }
    if (!(await this.#offsets.delete(group.groupId, group.storeRevision, stale))) this.#unload(slot, ErrorCode.NOT_COORDINATOR);
    return stale.length;
  }

  /** Session timeouts and missed revocation deadlines: the member goes and its partitions are freed. */
  async #expireConsumerMembers(slot: Slot, group: ConsumerGroup): Promise<void> {
    const expired = expiredMembers(group, this.#now(), this.groupConfig(group.groupId).sessionTimeoutMs);
    if (expired.length === 0) return;
    for (const member of expired) group.remove(member.memberId);
    group.computeTargetIfNeeded();
    if (group.members.size === 0) group.stateSinceMs = this.#now();
    this.#log.info({ groupId: group.groupId, members: expired.map((m) => m.memberId), groupEpoch: group.groupEpoch }, 'consumer group members expired (session timeout or revocation deadline)');
    await this.#persistConsumer(slot, group);
  }

  /**
   * Writes the group; on any failure the in-memory group is dropped, so the next request reloads the
   * last state that was stored (what the members were last told stays the truth).
   */
  async #persistConsumer(slot: Slot, group: ConsumerGroup): Promise<number> {
    try {
      return await this.#saveConsumer(slot, group);
    } catch (error) {
      if (slot.consumer === group) this.#unload(slot, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      throw error;
    }
  }

  async #saveConsumer(slot: Slot, group: ConsumerGroup): Promise<number> {
    try {
      const outcome = await this.#groups.save(group);
      if (outcome === 'ok') return ErrorCode.NONE;
      if (outcome === 'too-large') {
        this.#log.warn({ groupId: group.groupId }, 'consumer group state exceeds the metadata value limit');
        this.#unload(slot, ErrorCode.UNKNOWN_SERVER_ERROR);
        return ErrorCode.UNKNOWN_SERVER_ERROR;
      }
      this.#log.warn({ groupId: group.groupId }, 'consumer group state was changed by another coordinator; handing the group over');
      if (slot.consumer === group) this.#unload(slot, ErrorCode.NOT_COORDINATOR);
      return ErrorCode.NOT_COORDINATOR;
    } catch (error) {
      if (isKafscaleError(error) && error.code.startsWith('KSC_META_')) throw error;
      this.#log.warn({ err: error, groupId: group.groupId }, 'could not store consumer group state');
      this.#unload(slot, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** The group log for KIP-848 groups: epochs and every member's epoch, state and partition count. */
  #logConsumer(group: ConsumerGroup, cause: string, memberId: string): void {
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

  // ---- offsets ----------------------------------------------------------------------------------

  /** Commits offsets; returns one error code per offset, in request order. */
  async commitOffsets(req: OffsetCommitRequest): Promise<number[]> {
    const all = (code: number) => req.offsets.map(() => code);
    if (req.groupId === '') return all(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(req.groupId);
    if (refused !== null) return all(refused);
    return this.#guarded(
      () =>
        this.#withGroup(req.groupId, async (slot) => {
          const nowMs = this.#now();
          if (slot.consumer !== null) return this.#commitToConsumerGroup(slot, slot.consumer, req, nowMs);
          let created = false;
          if (slot.group === null) {
            // Kafka: a commit with generation < 0 for an unknown group comes from a consumer that manages
            // its partitions itself (or an admin tool); the group is created Empty just to hold offsets.
            if (req.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
            slot.group = new ClassicGroup(req.groupId, nowMs);
            created = true;
          }
          const group = slot.group;
          const refusal = this.#commitRefusal(group, req);
          if (refusal !== ErrorCode.NONE) return all(refusal);
          const offsets = committedOffsets(req, nowMs);
          // A group that exists only in memory (new, never stable) gets its state key with the first offsets.
          const firstOps = group.storeRevision === 0 ? [{ type: 'put' as const, key: MetaKeys.group(group.groupId), value: encodeGroup(group) }] : [];
          try {
            const result = await this.#offsets.commit(group.groupId, group.storeRevision, offsets, firstOps);
            group.storeRevision = result.groupRevision;
            if (result.conflict) {
              this.#unload(slot, ErrorCode.NOT_COORDINATOR);
              return req.offsets.map((_, i) => (i < result.written ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR));
            }
            return all(ErrorCode.NONE);
          } catch (error) {
            if (created) slot.group = null;
            throw error;
          }
        }),
      all,
    );
  }

  /**
   * Committed offsets of a group: of the named partitions (offset -1 where nothing is committed), or of
   * every partition with a commit when `topics` is null.
   */
  async fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[] | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): Promise<{ errorCode: number; offsets: CommittedOffset[] }> {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, offsets: [] };
    const refused = this.#refusal(groupId);
    if (refused !== null) return { errorCode: refused, offsets: [] };
    return this.#guarded<{ errorCode: number; offsets: CommittedOffset[] }>(
      async () => {
        // OffsetFetch v9 from a KIP-848 member (Kafka's ConsumerGroup.validateOffsetFetch): the member
        // must exist and ask with its current epoch. Admin fetches (no member, epoch < 0) and classic
        // groups are not checked.
        if (member !== null && (member.memberId !== null || member.memberEpoch >= 0)) {
          const refusal = await this.#withGroup(groupId, (slot) => {
            const consumer = slot.consumer;
            if (consumer === null || consumer.unloaded) return ErrorCode.NONE;
            const known = consumer.members.get(member.memberId ?? '');
            if (known === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
            return known.memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
          });
          if (refusal !== ErrorCode.NONE) return { errorCode: refusal, offsets: [] };
        }
        const stored = (await this.#offsets.fetchAll(groupId)).filter((o) => this.#topicExists(o.topic));
        if (topics === null) return { errorCode: ErrorCode.NONE, offsets: stored };
        const byKey = new Map(stored.map((o) => [`${o.topic}\0${o.partition}`, o]));
        const offsets: CommittedOffset[] = [];
        for (const t of topics) {
          for (const partition of t.partitions) {
            offsets.push(
              byKey.get(`${t.name}\0${partition}`) ?? { topic: t.name, partition, offset: -1n, leaderEpoch: -1, metadata: '', commitTimestampMs: 0, expireTimestampMs: null },
            );
          }
        }
        return { errorCode: ErrorCode.NONE, offsets };
      },
      (code) => ({ errorCode: code, offsets: [] }),
    );
  }

  /**
   * OffsetDelete: Empty groups lose any offsets; a consumer group with members only those of topics it
   * is not subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise). `subscribedTopics` reads a member's
   * subscription (the broker layer decodes the consumer protocol; null when it cannot).
   */
  async deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
    subscribedTopics: (metadata: Buffer) => readonly string[] | null,
  ): Promise<{ errorCode: number; partitions: number[] }> {
    const whole = (code: number) => ({ errorCode: code, partitions: [] as number[] });
    if (groupId === '') return whole(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(groupId);
    if (refused !== null) return whole(refused);
    return this.#guarded(
      () =>
        this.#withGroup(groupId, async (slot) => {
          if (slot.consumer !== null && !slot.consumer.unloaded) {
            const consumer = slot.consumer;
            const topics = new Set([...consumer.members.values()].flatMap((m) => m.subscribedTopicNames));
            const codes = partitions.map((p) => (topics.has(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
            if (!(await this.#offsets.delete(groupId, consumer.storeRevision, partitions.filter((_, i) => codes[i] === ErrorCode.NONE)))) {
              this.#unload(slot, ErrorCode.NOT_COORDINATOR);
              return whole(ErrorCode.NOT_COORDINATOR);
            }
            return { errorCode: ErrorCode.NONE, partitions: codes };
          }
          const group = slot.group;
          if (group === null || group.unloaded) return whole(ErrorCode.GROUP_ID_NOT_FOUND);
          const subscribed = new Set<string>();
          // A member whose subscription cannot be read is taken as subscribed to every topic (as Kafka
          // does): refusing a delete is recoverable, deleting offsets a live consumer relies on is not.
          let subscribedToAll = false;
          if (group.state !== GroupState.Empty) {
            if (group.protocolType !== 'consumer') return whole(ErrorCode.NON_EMPTY_GROUP);
            for (const member of group.members.values()) {
              const topics = subscribedTopics(member.metadataFor(group.protocolName));
              if (topics === null) subscribedToAll = true;
              else for (const topic of topics) subscribed.add(topic);
            }
          }
          const codes = partitions.map((p) => (subscribedToAll || subscribed.has(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
          const deletable = partitions.filter((_, i) => codes[i] === ErrorCode.NONE);
          if (!(await this.#offsets.delete(groupId, group.storeRevision, deletable))) {
            this.#unload(slot, ErrorCode.NOT_COORDINATOR);
            return whole(ErrorCode.NOT_COORDINATOR);
          }
          return { errorCode: ErrorCode.NONE, partitions: codes };
        }),
      whole,
    );
  }

  // ---- admin views ------------------------------------------------------------------------------

  async describe(groupId: string): Promise<GroupDescription> {
    const failed = (code: number): GroupDescription => ({ errorCode: code, groupId, state: '', protocolType: '', protocolData: '', members: [] });
    if (groupId === '') return failed(ErrorCode.INVALID_GROUP_ID);
    const refused = this.#refusal(groupId);
    if (refused !== null) return failed(refused);
    return this.#guarded(
      () =>
        this.#withGroup(groupId, (slot) => {
          // Kafka: DescribeGroups of a KIP-848 group is GROUP_ID_NOT_FOUND ("not a classic group").
          if (slot.consumer !== null) return failed(ErrorCode.GROUP_ID_NOT_FOUND);
          const group = slot.group;
          // Kafka (DescribeGroups < v6) describes an unknown group as Dead, without an error.
          if (group === null || group.unloaded) return { ...failed(ErrorCode.NONE), state: GroupState.Dead };
          const stable = group.state === GroupState.Stable;
          return {
            errorCode: ErrorCode.NONE,
            groupId,
            state: group.state,
            protocolType: group.protocolType ?? '',
            protocolData: stable ? (group.protocolName ?? '') : '',
            members: [...group.members.values()].map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              metadata: stable ? m.metadataFor(group.protocolName) : EMPTY,
              assignment: stable ? m.assignment : EMPTY,
            })),
          };
        }),
      failed,
    );
  }

  /** Groups this broker coordinates: those in memory and those only in the store (e.g. Empty with offsets). */
  async list(): Promise<ListedGroup[]> {
    const listed = new Map<string, ListedGroup>();
    for (const stored of await this.#groups.list()) {
      if (this.isCoordinator(stored.groupId)) listed.set(stored.groupId, { groupId: stored.groupId, protocolType: stored.protocolType, state: stored.state, groupType: stored.groupType });
    }
    for (const [groupId, slot] of this.#slots) {
      const consumer = slot.consumer;
      if (consumer !== null && !consumer.unloaded) listed.set(groupId, { groupId, protocolType: 'consumer', state: consumer.state, groupType: 'consumer' });
      const group = slot.group;
      if (group === null || group.unloaded) continue;
      listed.set(groupId, { groupId, protocolType: group.protocolType ?? '', state: group.state, groupType: 'classic' });
    }
    return [...listed.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /**
   * Every group in the metadata store, whichever broker coordinates it: the coordinated ones as `list()`
   * sees them (live state), the others as last stored (the console's cluster-wide view).
   */
  async listStored(): Promise<(ListedGroup & { readonly coordinator: number })[]> {
    const live = new Map((await this.list()).map((g) => [g.groupId, g]));
    for (const stored of await this.#groups.list()) if (!live.has(stored.groupId)) live.set(stored.groupId, stored);
    return [...live.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)).map((g) => ({ ...g, coordinator: this.coordinatorOf(g.groupId) }));
  }

  /** The committed offsets of a group as stored, without the coordinator check (admin views of any group). */
  async storedOffsets(groupId: string): Promise<CommittedOffset[]> {
    return (await this.#offsets.fetchAll(groupId)).filter((o) => this.#topicExists(o.topic));
  }

  /** DeleteGroups for one group: its state and all its offsets go; NON_EMPTY_GROUP while members remain. */
  async deleteGroup(groupId: string): Promise<number> {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const refused = this.#refusal(groupId);
    if (refused !== null) return refused;
    return this.#guarded(
      () =>
        this.#withGroup(groupId, async (slot) => {
          const group = slot.group ?? slot.consumer;
          if (group === null || group.unloaded) return ErrorCode.GROUP_ID_NOT_FOUND;
          if (group.state !== GroupState.Empty) return ErrorCode.NON_EMPTY_GROUP;
          const outcome = await this.#groups.delete(group);
          this.#unload(slot, outcome === 'ok' ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NOT_COORDINATOR);
          return outcome === 'ok' ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
        }),
      (code) => code,
    );
  }

  /**
   * Offset retention (KIP-211): offsets of an Empty consumer group expire offsets.retention.minutes
   * after the group became empty; those of a group without a protocol (standalone consumers, admin
   * commits) that long after their own commit; an explicit v2–v4 retention time wins. An Empty group
   * left without offsets is deleted. Runs on its own timer; exposed for tests.
   */
  async expireOffsets(): Promise<number> {
    const retentionMs = this.settings.offsetsRetentionMinutes * 60_000;
    let expired = 0;
    for (const stored of await this.#groups.list()) {
      if (this.#closed || stored.state !== GroupState.Empty || !this.isCoordinator(stored.groupId)) continue;
      expired += await this.#withGroup(stored.groupId, async (slot): Promise<number> => {
        if (slot.consumer !== null) return this.#expireConsumerOffsets(slot, slot.consumer, retentionMs);
        const group = slot.group;
        if (group === null || group.unloaded || group.state !== GroupState.Empty) return 0;
        const nowMs = this.#now();
        const offsets = await this.#offsets.fetchAll(group.groupId);
        const stale = offsets.filter((o) =>
          o.expireTimestampMs !== null ? o.expireTimestampMs <= nowMs : (group.protocolType ? group.stateSinceMs : o.commitTimestampMs) + retentionMs <= nowMs,
        );
        if (stale.length === offsets.length) {
          const outcome = await this.#groups.delete(group);
          this.#unload(slot, ErrorCode.NOT_COORDINATOR);
          return outcome === 'ok' ? stale.length : 0;
        }
        if (!(await this.#offsets.delete(group.groupId, group.storeRevision, stale))) this.#unload(slot, ErrorCode.NOT_COORDINATOR);
        return stale.length;
      });
    }
    return expired;
  }

  /**
   * For metrics, at scrape time: the groups this broker coordinates by state, and the lag (high watermark
   * minus committed offset) of their committed partitions — of at most `maxLagSeries` partitions, so a
   * broker with many groups cannot flood the scrape. `highWatermark` answers undefined for a partition it
   * cannot tell. Offsets are read from the store (one range read per group with offsets).
   */
  async metricsSnapshot(
    highWatermark: (topic: string, partition: number) => Promise<number | undefined>,
    maxLagSeries = 1_000,
  ): Promise<{ byState: Record<string, number>; lag: { group: string; topic: string; partition: number; lag: number }[] }> {
    const byState: Record<string, number> = {};
    const lag: { group: string; topic: string; partition: number; lag: number }[] = [];
    if (this.#closed) return { byState, lag };
    for (const group of await this.list()) {
      byState[group.state] = (byState[group.state] ?? 0) + 1;
      if (lag.length >= maxLagSeries) continue;
      for (const offset of await this.#offsets.fetchAll(group.groupId)) {
        if (lag.length >= maxLagSeries) break;
        if (offset.offset < 0n || !this.#topicExists(offset.topic)) continue;
        const end = await highWatermark(offset.topic, offset.partition);
        if (end === undefined) continue;
        lag.push({ group: group.groupId, topic: offset.topic, partition: offset.partition, lag: Math.max(0, end - Number(offset.offset)) });
      }
    }
    return { byState, lag };
  }

  // ---- internals --------------------------------------------------------------------------------

  #refusal(groupId: string): number | null {
    if (this.#closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.isCoordinator(groupId) ? null : ErrorCode.NOT_COORDINATOR;
  }

  #commitRefusal(group: ClassicGroup, req: OffsetCommitRequest): number {
    if (group.unloaded) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (req.generationId < 0 && group.state === GroupState.Empty) return ErrorCode.NONE;
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = group.members.get(req.memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === GroupState.CompletingRebalance) return ErrorCode.REBALANCE_IN_PROGRESS;
    // A commit is proof of life, as in Kafka.
    member.lastHeartbeatMs = this.#now();
    return ErrorCode.NONE;
  }

  /** Runs `task` under the group's lock with the group loaded from the store if it is not in memory. */
  async #withGroup<T>(groupId: string, task: (slot: Slot) => Promise<T> | T): Promise<T> {
    let slot = this.#slots.get(groupId);
    if (slot === undefined) {
      slot = { queue: new SerialQueue(), group: null, consumer: null, loaded: false, ticking: false };
      this.#slots.set(groupId, slot);
    }
    const current = slot;
    try {
      return await current.queue.run(async () => {
        if (!current.loaded) {
          const loaded = await this.#groups.load(groupId, this.#now());
          current.group = loaded instanceof ConsumerGroup ? null : loaded;
          current.consumer = loaded instanceof ConsumerGroup ? loaded : null;
          if (current.consumer !== null && this.settings.consumerAssignors !== undefined) current.consumer.enabledAssignors = this.settings.consumerAssignors;
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

  /** Maps store faults to the codes Kafka's coordinator answers when its log is unavailable. */
  async #guarded<T>(task: () => Promise<T>, onFailure: (errorCode: number) => T): Promise<T> {
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
      if (slot !== undefined && slot.group === group) this.#unload(slot, ErrorCode.NOT_COORDINATOR);
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

  #unload(slot: Slot, errorCode: number): void {
    if (slot.group !== null) Membership.unload(slot.group, errorCode);
    if (slot.consumer !== null) slot.consumer.unloaded = true;
    slot.consumer = null;
    slot.group = null;
    slot.loaded = false;
  }

  #tickAll(): void {
    for (const [groupId, slot] of this.#slots) {
      if (slot.consumer !== null && slot.consumer.members.size > 0 && !slot.ticking) {
        slot.ticking = true;
        void this.#withGroup(groupId, (s) => (s.consumer !== null ? this.#expireConsumerMembers(s, s.consumer) : undefined))
          .catch((error: unknown) => this.#log.warn({ err: error, groupId }, 'consumer group timer step failed'))
          .finally(() => {
            slot.ticking = false;
          });
        continue;
      }
      const group = slot.group;
      if (group === null || slot.ticking || (group.state === GroupState.Empty && group.pendingMembers.size === 0)) continue;
      slot.ticking = true;
      void this.#withGroup(groupId, async (s) => {
        if (s.group !== null) await this.#membership.tick(s.group);
      })
        .catch((error: unknown) => this.#log.warn({ err: error, groupId }, 'group timer step failed'))
        .finally(() => {
          slot.ticking = false;
        });
    }
  }

  /** Another broker now coordinates some groups (membership of the cluster changed): let them go. */
  #releaseMovedGroups(): void {
    for (const [groupId, slot] of this.#slots) {
      if ((slot.group === null && slot.consumer === null) || this.isCoordinator(groupId)) continue;
      void this.#withGroup(groupId, (s) => {
        if (!this.isCoordinator(groupId)) this.#unload(s, ErrorCode.NOT_COORDINATOR);
      });
      this.#log.info({ groupId }, 'group moved to another coordinator');
    }
  }
}

/** The offsets of an OffsetCommit as stored: commit time now unless the client gave one (v1), expiry from v2–v4's retention. */
function committedOffsets(req: OffsetCommitRequest, nowMs: number): CommittedOffset[] {
  return req.offsets.map((o) => ({
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    leaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    commitTimestampMs: o.commitTimestampMs === undefined || o.commitTimestampMs === -1 ? nowMs : o.commitTimestampMs,
    expireTimestampMs: req.retentionTimeMs > 0 ? nowMs + req.retentionTimeMs : null,
  }));
}
