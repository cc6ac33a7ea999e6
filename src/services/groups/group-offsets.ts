import type { Logger } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { ClassicGroup, GroupState } from './classic-group.ts';
import type { ConsumerGroup } from './consumer-group.ts';
import { encodeGroup, type GroupStore } from './group-store.ts';
import type { GroupSlots, Slot } from './group-slots.ts';
import type { CommittedOffset, OffsetStore } from './offset-store.ts';

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

/**
 * Committed offsets of the groups this broker coordinates (Kafka's OffsetCommit, OffsetFetch,
 * OffsetDelete, offset expiry and the removal of a deleted topic's offsets), for classic and KIP-848
 * groups alike. Every write is guarded by the group's store revision; losing it to another
 * coordinator unloads the group (NOT_COORDINATOR).
 */
export class GroupOffsets {
  readonly #slots: GroupSlots;
  readonly #offsets: OffsetStore;
  readonly #groups: GroupStore;
  readonly #log: Logger;
  /** Whether a topic exists now; committed offsets of topics that do not are never reported. */
  #topicExists: (topic: string) => boolean = () => true;

  constructor(slots: GroupSlots, offsets: OffsetStore, groups: GroupStore, log: Logger) {
    this.#slots = slots;
    this.#offsets = offsets;
    this.#groups = groups;
    this.#log = log;
  }

  useTopicLookup(exists: (topic: string) => boolean): void {
    this.#topicExists = exists;
  }

  topicExists(topic: string): boolean {
    return this.#topicExists(topic);
  }

  /** Every committed offset of a group, from the store. */
  fetchAll(groupId: string): Promise<CommittedOffset[]> {
    return this.#offsets.fetchAll(groupId);
  }

  /** Commits offsets; returns one error code per offset, in request order. */
  async commit(req: OffsetCommitRequest): Promise<number[]> {
    const all = (code: number) => req.offsets.map(() => code);
    return this.#slots.run(req.groupId, all, async (slot) => {
      const nowMs = this.#slots.now();
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
          this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
          return req.offsets.map((_, i) => (i < result.written ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR));
        }
        return all(ErrorCode.NONE);
      } catch (error) {
        if (created) slot.group = null;
        throw error;
      }
    });
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
      this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
      return req.offsets.map((_, i) => (i < result.written ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR));
    }
    return all(ErrorCode.NONE);
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
    member.lastHeartbeatMs = this.#slots.now();
    return ErrorCode.NONE;
  }

  /**
   * Committed offsets of a group: of the named partitions (offset -1 where nothing is committed), or of
   * every partition with a commit when `topics` is null.
   */
  async fetch(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[] | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): Promise<{ errorCode: number; offsets: CommittedOffset[] }> {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, offsets: [] };
    const refused = this.#slots.refusal(groupId);
    if (refused !== null) return { errorCode: refused, offsets: [] };
    return this.#slots.guarded<{ errorCode: number; offsets: CommittedOffset[] }>(
      async () => {
        // OffsetFetch v9 from a KIP-848 member (Kafka's ConsumerGroup.validateOffsetFetch): the member
        // must exist and ask with its current epoch. Admin fetches (no member, epoch < 0) and classic
        // groups are not checked.
        if (member !== null && (member.memberId !== null || member.memberEpoch >= 0)) {
          const refusal = await this.#slots.withGroup(groupId, (slot) => {
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
  async delete(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
    subscribedTopics: (metadata: Buffer) => readonly string[] | null,
  ): Promise<{ errorCode: number; partitions: number[] }> {
    const whole = (code: number) => ({ errorCode: code, partitions: [] as number[] });
    return this.#slots.run(groupId, whole, async (slot) => {
      let subscribed: ReadonlySet<string> | 'all';
      let storeRevision: number;
      if (slot.consumer !== null && !slot.consumer.unloaded) {
        subscribed = new Set([...slot.consumer.members.values()].flatMap((m) => m.subscribedTopicNames));
        storeRevision = slot.consumer.storeRevision;
      } else {
        const group = slot.group;
        if (group === null || group.unloaded) return whole(ErrorCode.GROUP_ID_NOT_FOUND);
        if (group.state !== GroupState.Empty && group.protocolType !== 'consumer') return whole(ErrorCode.NON_EMPTY_GROUP);
        subscribed = group.state === GroupState.Empty ? new Set() : classicSubscriptions(group, subscribedTopics);
        storeRevision = group.storeRevision;
      }
      const codes = partitions.map((p) => (subscribed === 'all' || subscribed.has(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
      const deletable = partitions.filter((_, i) => codes[i] === ErrorCode.NONE);
      if (!(await this.#offsets.delete(groupId, storeRevision, deletable))) {
        this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
        return whole(ErrorCode.NOT_COORDINATOR);
      }
      return { errorCode: ErrorCode.NONE, partitions: codes };
    });
  }

  /**
   * Offset retention (KIP-211): offsets of an Empty group expire `retentionMs` after the group became
   * empty; those of a classic group without a protocol (standalone consumers, admin commits) that long
   * after their own commit; an explicit v2–v4 retention time wins. An Empty group left without offsets
   * is deleted. Returns the number of offsets expired.
   */
  async expire(retentionMs: number): Promise<number> {
    let expired = 0;
    for (const stored of await this.#groups.list()) {
      if (this.#slots.closed || stored.state !== GroupState.Empty || !this.#slots.isCoordinator(stored.groupId)) continue;
      expired += await this.#slots.withGroup(stored.groupId, async (slot): Promise<number> => {
        const consumer = slot.consumer;
        if (consumer !== null) {
          if (consumer.unloaded || consumer.members.size > 0) return 0;
          return this.#expireStale(slot, consumer, retentionMs, () => consumer.stateSinceMs);
        }
        const group = slot.group;
        if (group === null || group.unloaded || group.state !== GroupState.Empty) return 0;
        return this.#expireStale(slot, group, retentionMs, (o) => (group.protocolType ? group.stateSinceMs : o.commitTimestampMs));
      });
    }
    return expired;
  }

  /** Deletes the group's offsets that expired (`since` + retention, or their own expiry time); the group too when none is left. */
  async #expireStale(slot: Slot, group: ClassicGroup | ConsumerGroup, retentionMs: number, since: (offset: CommittedOffset) => number): Promise<number> {
    const nowMs = this.#slots.now();
    const offsets = await this.#offsets.fetchAll(group.groupId);
    const stale = offsets.filter((o) => (o.expireTimestampMs !== null ? o.expireTimestampMs <= nowMs : since(o) + retentionMs <= nowMs));
    if (stale.length === offsets.length) {
      const outcome = await this.#groups.delete(group);
      this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
      return outcome === 'ok' ? stale.length : 0;
    }
    if (!(await this.#offsets.delete(group.groupId, group.storeRevision, stale))) this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
    return stale.length;
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
      if (this.#slots.closed) break;
      if (!this.#slots.isCoordinator(stored.groupId)) continue;
      removed += await this.#slots.guarded(
        () =>
          this.#slots.withGroup(stored.groupId, async (slot): Promise<number> => {
            const group = slot.group ?? slot.consumer;
            if (group === null || group.unloaded) return 0;
            const gone: { topic: string; partition: number }[] = [];
            for (const topic of topics) for (const partition of await this.#offsets.partitionsOf(group.groupId, topic)) gone.push({ topic, partition });
            if (gone.length === 0) return 0;
            if (!(await this.#offsets.delete(group.groupId, group.storeRevision, gone))) {
              this.#slots.unload(slot, ErrorCode.NOT_COORDINATOR);
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
}

/**
 * The topics a non-Empty classic consumer group's members are subscribed to. A member whose subscription
 * cannot be read is taken as subscribed to every topic (as Kafka does): refusing a delete is
 * recoverable, deleting offsets a live consumer relies on is not.
 */
function classicSubscriptions(group: ClassicGroup, subscribedTopics: (metadata: Buffer) => readonly string[] | null): ReadonlySet<string> | 'all' {
  const subscribed = new Set<string>();
  for (const member of group.members.values()) {
    const topics = subscribedTopics(member.metadataFor(group.protocolName));
    if (topics === null) return 'all';
    for (const topic of topics) subscribed.add(topic);
  }
  return subscribed;
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
