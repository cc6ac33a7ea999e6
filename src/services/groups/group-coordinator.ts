import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import type { AssignableTopic } from './assignors.ts';
import { GroupState, type JoinOutcome, type SyncOutcome } from './classic-group.ts';
import { ClassicGroupCoordinator, type ClassicGroupSettings } from './classic-group-coordinator.ts';
import { ConsumerGroupCoordinator, type ConsumerGroupDescription, type ConsumerGroupSettings } from './consumer-group-coordinator.ts';
import type { ConsumerHeartbeatOutcome, ConsumerHeartbeatRequest } from './consumer-heartbeat.ts';
import { GroupConfigs, type GroupConfigOutcome } from './group-configs.ts';
import { GroupOffsets, type OffsetCommitRequest } from './group-offsets.ts';
import { GroupSlots, type CoordinatorPlacement } from './group-slots.ts';
import { GroupStore } from './group-store.ts';
import type { JoinRequest, MemberIdentity, SyncRequest } from './member-answers.ts';
import { OffsetStore, type CommittedOffset } from './offset-store.ts';

export type { ConsumerGroupDescription } from './consumer-group-coordinator.ts';
export type { OffsetCommitRequest } from './group-offsets.ts';
export type { CoordinatorPlacement } from './group-slots.ts';

export interface GroupSettings extends ClassicGroupSettings, ConsumerGroupSettings {
  readonly offsetsRetentionMinutes: number;
  /** Period of the coarse timer that enforces session and rebalance timeouts; default 250 ms. */
  readonly tickMs?: number;
  /** Period of the expired-offsets sweep (offsets.retention.check.interval.ms); default 60 s. */
  readonly retentionCheckIntervalMs?: number;
  /** Clock, for tests. */
  readonly nowMs?: () => number;
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

const EMPTY = Buffer.alloc(0);

/**
 * The group coordinator of this broker (Kafka's GroupCoordinator): classic-protocol membership and
 * rebalances, admin views and the lifecycle of the groups this broker coordinates. KIP-848 consumer
 * groups are ConsumerGroupCoordinator's, committed offsets GroupOffsets'; this class is their one face.
 * Placement is rendezvous hashing of the group id over the live brokers (GroupSlots); state and offsets
 * live in the metadata store, so whichever broker coordinates a group next loads it from there and continues.
 *
 * Store faults surface as COORDINATOR_NOT_AVAILABLE (clients look the coordinator up again and
 * retry); a guarded write that loses to another coordinator surfaces as NOT_COORDINATOR.
 */
export class GroupCoordinator {
  readonly settings: GroupSettings;
  readonly #slots: GroupSlots;
  readonly #groups: GroupStore;
  readonly #offsets: GroupOffsets;
  readonly #configs: GroupConfigs;
  readonly #consumers: ConsumerGroupCoordinator;
  readonly #classic: ClassicGroupCoordinator;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #retentionTimer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(store: MetadataStore, placement: CoordinatorPlacement, settings: GroupSettings, log: Logger) {
    this.settings = settings;
    this.#groups = new GroupStore(store);
    this.#slots = new GroupSlots(placement, this.#groups, settings.consumerAssignors, settings.nowMs ?? Date.now, log);
    this.#offsets = new GroupOffsets(this.#slots, new OffsetStore(store), this.#groups, log);
    this.#configs = new GroupConfigs(store, log);
    this.#consumers = new ConsumerGroupCoordinator(this.#slots, this.#groups, this.#configs, settings, log);
    this.#classic = new ClassicGroupCoordinator(this.#slots, this.#groups, settings, log);
    this.#log = log;
  }

  /** Starts the coarse timer and the retention sweep, and hands groups over when brokers come and go. */
  start(): void {
    if (this.#timer !== null || this.#slots.closed) return;
    this.#timer = setInterval(() => this.#tickAll(), this.settings.tickMs ?? 250);
    this.#timer.unref();
    this.#retentionTimer = setInterval(() => void this.expireOffsets().catch((error: unknown) => this.#log.warn({ err: error }, 'offset expiry sweep failed')), this.settings.retentionCheckIntervalMs ?? 60_000);
    this.#retentionTimer.unref();
    this.#unsubscribe = this.#slots.onPlacementChange(() => this.#releaseMovedGroups());
    // Per-group config overrides; until the mirror is read, groups use the broker's settings.
    this.#configs.open().catch((error: unknown) => this.#log.warn({ err: error }, 'could not read the group configs; groups use the broker settings'));
  }

  /** Stops the timers and answers every waiting member with NOT_COORDINATOR; idempotent. */
  async close(): Promise<void> {
    if (this.#slots.closed) return;
    this.#slots.close();
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    this.#unsubscribe?.();
    await this.#configs.close().catch(() => {});
    this.#slots.unloadAll();
  }

  /**
   * Tells the coordinator which topics exist. OffsetFetch then leaves out offsets of topics that no
   * longer exist, even before `removeOffsetsOfTopics` has removed them (or if this broker missed it).
   */
  useTopicLookup(exists: (topic: string) => boolean): void {
    this.#offsets.useTopicLookup(exists);
  }

  /** Removes a deleted topic's committed offsets from the groups this broker coordinates (GroupOffsets). */
  removeOffsetsOfTopics(topics: readonly string[]): Promise<number> {
    return this.#offsets.removeOffsetsOfTopics(topics);
  }

  /** The broker that coordinates a group: highest rendezvous score among live brokers. */
  coordinatorOf(groupId: string): number {
    return this.#slots.coordinatorOf(groupId);
  }

  isCoordinator(groupId: string): boolean {
    return this.#slots.isCoordinator(groupId);
  }

  // ---- classic protocol (ClassicGroupCoordinator) ------------------------------------------------

  join(req: JoinRequest): Promise<JoinOutcome> {
    return this.#classic.join(req);
  }

  sync(req: SyncRequest): Promise<SyncOutcome> {
    return this.#classic.sync(req);
  }

  heartbeat(groupId: string, member: MemberIdentity, generationId: number): Promise<number> {
    return this.#classic.heartbeat(groupId, member, generationId);
  }

  /** LeaveGroup: a group-level error code (or NONE) and one code per leaving member. */
  leave(groupId: string, members: readonly MemberIdentity[]): Promise<{ errorCode: number; members: number[] }> {
    return this.#classic.leave(groupId, members);
  }

  // ---- KIP-848 consumer groups (ConsumerGroupCoordinator) ------------------------------------------

  get consumerHeartbeatIntervalMs(): number {
    return this.#consumers.heartbeatIntervalMs;
  }

  get consumerSessionTimeoutMs(): number {
    return this.#consumers.sessionTimeoutMs;
  }

  groupConfig(groupId: string): { sessionTimeoutMs: number; heartbeatIntervalMs: number; overridden: ReadonlySet<string> } {
    return this.#consumers.groupConfig(groupId);
  }

  alterGroupConfig(
    groupId: string,
    alterations: Parameters<GroupConfigs['alter']>[1],
    options: { readonly incremental: boolean; readonly validateOnly: boolean },
  ): Promise<GroupConfigOutcome> {
    return this.#consumers.alterGroupConfig(groupId, alterations, options);
  }

  consumerHeartbeat(
    req: ConsumerHeartbeatRequest,
    topic: (name: string) => AssignableTopic | undefined,
    topicNames?: () => readonly string[],
  ): Promise<ConsumerHeartbeatOutcome> {
    return this.#consumers.heartbeat(req, topic, topicNames);
  }

  describeConsumerGroup(groupId: string, topicName: (topicId: string) => string | undefined): Promise<ConsumerGroupDescription & { topicName: (id: string) => string }> {
    return this.#consumers.describe(groupId, topicName);
  }

  // ---- offsets (GroupOffsets) ---------------------------------------------------------------------

  /** Commits offsets; returns one error code per offset, in request order. */
  commitOffsets(req: OffsetCommitRequest): Promise<number[]> {
    return this.#offsets.commit(req);
  }

  fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[] | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): Promise<{ errorCode: number; offsets: CommittedOffset[] }> {
    return this.#offsets.fetch(groupId, topics, member);
  }

  deleteOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
    subscribedTopics: (metadata: Buffer) => readonly string[] | null,
  ): Promise<{ errorCode: number; partitions: number[] }> {
    return this.#offsets.delete(groupId, partitions, subscribedTopics);
  }

  // ---- admin views ------------------------------------------------------------------------------

  async describe(groupId: string): Promise<GroupDescription> {
    const failed = (code: number): GroupDescription => ({ errorCode: code, groupId, state: '', protocolType: '', protocolData: '', members: [] });
    return this.#slots.run(groupId, failed, (slot) => {
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
    });
  }

  /** Groups this broker coordinates: those in memory and those only in the store (e.g. Empty with offsets). */
  async list(): Promise<ListedGroup[]> {
    const listed = new Map<string, ListedGroup>();
    for (const stored of await this.#groups.list()) {
      if (this.isCoordinator(stored.groupId)) listed.set(stored.groupId, { groupId: stored.groupId, protocolType: stored.protocolType, state: stored.state, groupType: stored.groupType });
    }
    for (const [groupId, slot] of this.#slots.entries()) {
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
    return (await this.#offsets.fetchAll(groupId)).filter((o) => this.#offsets.topicExists(o.topic));
  }

  /** DeleteGroups for one group: its state and all its offsets go; NON_EMPTY_GROUP while members remain. */
  async deleteGroup(groupId: string): Promise<number> {
    return this.#slots.run(groupId, (code) => code, async (slot) => {
      const group = slot.group ?? slot.consumer;
      if (group === null || group.unloaded) return ErrorCode.GROUP_ID_NOT_FOUND;
      if (group.state !== GroupState.Empty) return ErrorCode.NON_EMPTY_GROUP;
      const outcome = await this.#groups.delete(group);
      this.#slots.unload(slot, outcome === 'ok' ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NOT_COORDINATOR);
      return outcome === 'ok' ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
    });
  }

  /**
   * Offset retention (KIP-211, see GroupOffsets.expire): offsets.retention.minutes after an Empty group
   * became empty (or after their commit, for groups without a protocol). Runs on its own timer; exposed for tests.
   */
  expireOffsets(): Promise<number> {
    return this.#offsets.expire(this.settings.offsetsRetentionMinutes * 60_000);
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
    if (this.#slots.closed) return { byState, lag };
    for (const group of await this.list()) {
      byState[group.state] = (byState[group.state] ?? 0) + 1;
      if (lag.length >= maxLagSeries) continue;
      for (const offset of await this.#offsets.fetchAll(group.groupId)) {
        if (lag.length >= maxLagSeries) break;
        if (offset.offset < 0n || !this.#offsets.topicExists(offset.topic)) continue;
        const end = await highWatermark(offset.topic, offset.partition);
        if (end === undefined) continue;
        lag.push({ group: group.groupId, topic: offset.topic, partition: offset.partition, lag: Math.max(0, end - Number(offset.offset)) });
      }
    }
    return { byState, lag };
  }
  // ---- internals --------------------------------------------------------------------------------

  #tickAll(): void {
    for (const [groupId, slot] of this.#slots.entries()) {
      if (slot.consumer !== null && slot.consumer.members.size > 0 && !slot.ticking) {
        slot.ticking = true;
        void this.#slots
          .withGroup(groupId, (s) => (s.consumer !== null ? this.#consumers.expireMembers(s, s.consumer) : undefined))
          .catch((error: unknown) => this.#log.warn({ err: error, groupId }, 'consumer group timer step failed'))
          .finally(() => {
            slot.ticking = false;
          });
        continue;
      }
      const group = slot.group;
      if (group === null || slot.ticking || (group.state === GroupState.Empty && group.pendingMembers.size === 0)) continue;
      slot.ticking = true;
      void this.#slots
        .withGroup(groupId, async (s) => {
          if (s.group !== null) await this.#classic.tick(s.group);
        })
        .catch((error: unknown) => this.#log.warn({ err: error, groupId }, 'group timer step failed'))
        .finally(() => {
          slot.ticking = false;
        });
    }
  }

  /** Another broker now coordinates some groups (membership of the cluster changed): let them go. */
  #releaseMovedGroups(): void {
    for (const [groupId, slot] of this.#slots.entries()) {
      if ((slot.group === null && slot.consumer === null) || this.isCoordinator(groupId)) continue;
      void this.#slots.withGroup(groupId, (s) => {
        if (!this.isCoordinator(groupId)) this.#slots.unload(s, ErrorCode.NOT_COORDINATOR);
      });
      this.#log.info({ groupId }, 'group moved to another coordinator');
    }
  }
}
