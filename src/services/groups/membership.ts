import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ClassicGroup, GroupMember, GroupState, type JoinOutcome, type SyncOutcome } from './classic-group.ts';
import { MAX_GROUP_STATE_BYTES } from './group-store.ts';
import { awaitJoin, awaitSync, fence, joinError, respondJoin, respondSync, syncError, type JoinRequest, type MemberIdentity, type Pending, type SyncRequest } from './member-answers.ts';

const EMPTY = Buffer.alloc(0);

/** What the state machine needs from the coordinator around it. */
export interface MembershipHost {
  nowMs(): number;
  readonly initialRebalanceDelayMs: number;
  /** Writes the group's state; returns a Kafka error code (NONE on success). */
  persist(group: ClassicGroup): Promise<number>;
  /** Called after every state transition (the group log); never per request. */
  transitioned?(group: ClassicGroup, from: GroupState): void;
}

/**
 * The classic group protocol's state machine, as Kafka's GroupCoordinator runs it: join phase
 * (PreparingRebalance) → leader assigns (CompletingRebalance) → Stable, with static membership
 * (KIP-345), MEMBER_ID_REQUIRED (KIP-394) and the initial rebalance delay. Every method runs under the
 * group's lock; answers that must wait for the rest of the group are returned as `later` promises
 * which the caller awaits after releasing the lock.
 */
export class Membership {
  readonly #host: MembershipHost;

  constructor(host: MembershipHost) {
    this.#host = host;
  }

  async join(group: ClassicGroup, req: JoinRequest): Promise<Pending<JoinOutcome>> {
    if (group.unloaded) return { now: joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId) };
    if (!group.supportsProtocols(req.protocolType, req.protocols)) return { now: joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId) };
    if (!fitsInGroupState(group, req)) return { now: joinError(ErrorCode.UNKNOWN_SERVER_ERROR, req.memberId) };
    return req.memberId === '' ? this.#newMemberJoin(group, req) : this.#currentMemberJoin(group, req);
  }

  async #newMemberJoin(group: ClassicGroup, req: JoinRequest): Promise<Pending<JoinOutcome>> {
    const memberId = `${req.clientId}-${randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(req.groupInstanceId);
      if (oldMemberId !== undefined) return this.#staticRejoin(group, oldMemberId, memberId, req);
      return this.#addMemberAndRebalance(group, memberId, req);
    }
    if (req.requireKnownMemberId) {
      // KIP-394: the member id is handed out first so that a client that times out and retries
      // reuses it instead of leaving a ghost member behind for a whole session timeout.
      group.pendingMembers.set(memberId, this.#host.nowMs() + req.sessionTimeoutMs);
      return { now: joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId) };
    }
    return this.#addMemberAndRebalance(group, memberId, req);
  }

  #currentMemberJoin(group: ClassicGroup, req: JoinRequest): Pending<JoinOutcome> {
    if (group.pendingMembers.has(req.memberId)) return this.#addMemberAndRebalance(group, req.memberId, req);
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return { now: joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId) };
    const member = group.members.get(req.memberId);
    if (member === undefined) return { now: joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId) };
    switch (group.state) {
      case GroupState.PreparingRebalance:
        return this.#updateMemberAndRebalance(group, member, req);
      case GroupState.CompletingRebalance:
        // A retried join of the current generation gets the same answer again.
        if (member.matches(req.protocols)) return { now: this.#currentGeneration(group, member.memberId, group.isLeader(member.memberId)) };
        return this.#updateMemberAndRebalance(group, member, req);
      case GroupState.Stable:
        if (group.isLeader(member.memberId) || !member.matches(req.protocols)) return this.#updateMemberAndRebalance(group, member, req);
        return { now: this.#currentGeneration(group, member.memberId, false) };
      default:
        return { now: joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId) };
    }
  }

  /**
   * KIP-345: a static member restarting with the same group.instance.id takes over its old member's
   * place (the old id is fenced) without a rebalance, unless the group's protocol would change.
   */
  async #staticRejoin(group: ClassicGroup, oldMemberId: string, newMemberId: string, req: JoinRequest): Promise<Pending<JoinOutcome>> {
    const member = group.members.get(oldMemberId);
    if (member === undefined) return this.#addMemberAndRebalance(group, newMemberId, req);
    const previousLeader = group.leaderId;
    fence(member);
    group.members.delete(oldMemberId);
    member.memberId = newMemberId;
    group.members.set(newMemberId, member);
    group.staticMembers.set(req.groupInstanceId as string, newMemberId);
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId;
    updateMember(member, req, this.#host.nowMs());
    switch (group.state) {
      case GroupState.Stable: {
        if (group.selectProtocol() !== group.protocolName) {
          const later = awaitJoin(member);
          this.#prepareRebalance(group);
          return { later };
        }
        const isLeader = group.isLeader(newMemberId);
        // The store write happens under the group lock, like every other transition.
        const errorCode = await this.#host.persist(group);
        if (errorCode !== ErrorCode.NONE) return { now: joinError(errorCode, newMemberId) };
        if (req.supportSkipAssignment) return { now: { ...this.#currentGeneration(group, newMemberId, isLeader), skipAssignment: isLeader } };
        // Older clients are told the previous leader id so that a rejoining leader does not run an
        // assignment that a stable group would never distribute.
        return { now: { ...this.#currentGeneration(group, newMemberId, false), leaderId: previousLeader ?? '' } };
      }
      case GroupState.CompletingRebalance: {
        const later = awaitJoin(member);
        this.#prepareRebalance(group);
        return { later };
      }
      default:
        return { later: awaitJoin(member) };
    }
  }

  #addMemberAndRebalance(group: ClassicGroup, memberId: string, req: JoinRequest): Pending<JoinOutcome> {
    const member = new GroupMember({ ...req, memberId, nowMs: this.#host.nowMs() });
    member.isNew = true;
    if (group.state === GroupState.PreparingRebalance && group.initialDelay !== null) group.newMemberAdded = true;
    group.add(member);
    const later = awaitJoin(member);
    this.#maybePrepareRebalance(group);
    return { later };
  }

  #updateMemberAndRebalance(group: ClassicGroup, member: GroupMember, req: JoinRequest): Pending<JoinOutcome> {
    updateMember(member, req, this.#host.nowMs());
    const later = awaitJoin(member);
    this.#maybePrepareRebalance(group);
    return { later };
  }

  async sync(group: ClassicGroup | null, req: SyncRequest): Promise<Pending<SyncOutcome>> {
    if (group === null) return { now: syncError(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.unloaded) return { now: syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE) };
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return { now: syncError(ErrorCode.FENCED_INSTANCE_ID) };
    const member = group.members.get(req.memberId);
    if (member === undefined) return { now: syncError(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (req.generationId !== group.generationId) return { now: syncError(ErrorCode.ILLEGAL_GENERATION) };
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return { now: syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL) };
    }
    switch (group.state) {
      case GroupState.PreparingRebalance:
        return { now: syncError(ErrorCode.REBALANCE_IN_PROGRESS) };
      case GroupState.Stable:
        member.lastHeartbeatMs = this.#host.nowMs();
        return { now: this.#syncAnswer(group, member.assignment) };
      case GroupState.CompletingRebalance: {
        const later = awaitSync(member);
        if (group.isLeader(member.memberId)) await this.#completeSync(group, req.assignments);
        return { later };
      }
      default:
        return { now: syncError(ErrorCode.UNKNOWN_MEMBER_ID) };
    }
  }

  /** The leader's assignment is stored as sent (opaque bytes); members it leaves out get an empty one. */
  async #completeSync(group: ClassicGroup, assignments: SyncRequest['assignments']): Promise<void> {
    const given = new Map<string, Buffer>();
    for (const a of assignments) given.set(a.memberId, a.assignment);
    for (const member of group.members.values()) member.assignment = given.get(member.memberId) ?? EMPTY;
    const generation = group.generationId;
    const errorCode = await this.#host.persist(group);
    if (group.generationId !== generation || group.state !== GroupState.CompletingRebalance) return;
    if (errorCode !== ErrorCode.NONE) {
      for (const member of group.members.values()) {
        member.assignment = EMPTY;
        respondSync(member, syncError(errorCode));
      }
      if (!group.unloaded) this.#prepareRebalance(group);
      return;
    }
    this.#transition(group, GroupState.Stable, this.#host.nowMs());
    group.phaseDeadlineMs = null;
    for (const member of group.members.values()) respondSync(member, this.#syncAnswer(group, member.assignment));
  }

  heartbeat(group: ClassicGroup | null, member: MemberIdentity, generationId: number): number {
    if (group === null) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.unloaded) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(member.memberId, member.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const known = group.members.get(member.memberId);
    if (known === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        known.lastHeartbeatMs = this.#host.nowMs();
        return ErrorCode.NONE;
      case GroupState.PreparingRebalance:
        known.lastHeartbeatMs = this.#host.nowMs();
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        return ErrorCode.UNKNOWN_MEMBER_ID;
    }
  }

  /** LeaveGroup for one member (v3+ batches call it per member); returns the member's error code. */
  leave(group: ClassicGroup | null, identity: MemberIdentity): number {
    if (group === null) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.unloaded) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    let memberId = identity.memberId;
    if (memberId === '' && identity.groupInstanceId !== null) {
      const holder = group.staticMembers.get(identity.groupInstanceId);
      if (holder === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      memberId = holder;
    } else if (group.isStaticMemberFenced(memberId, identity.groupInstanceId)) {
      return ErrorCode.FENCED_INSTANCE_ID;
    } else if (group.pendingMembers.delete(memberId)) {
      return ErrorCode.NONE;
    }
    if (!group.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(group, memberId);
    return ErrorCode.NONE;
  }

  removeMember(group: ClassicGroup, memberId: string): void {
    const member = group.remove(memberId);
    if (member === undefined) return;
    respondJoin(member, joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
    respondSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.state === GroupState.Stable || group.state === GroupState.CompletingRebalance) this.#prepareRebalance(group);
  }

  /**
   * The coarse timer's work for one group: expire sessions and unused pending member ids, end the
   * join phase (all joined, initial delay over, or rebalance timeout) and the sync phase (members that
   * never sent SyncGroup within the rebalance timeout are removed, as Kafka does since 3.2).
   */
  async tick(group: ClassicGroup): Promise<void> {
    const nowMs = this.#host.nowMs();
    for (const [memberId, deadlineMs] of group.pendingMembers) if (deadlineMs <= nowMs) group.pendingMembers.delete(memberId);
    for (const member of [...group.members.values()]) if (member.expired(nowMs)) this.removeMember(group, member.memberId);
    if (group.state === GroupState.CompletingRebalance && group.phaseDeadlineMs !== null && group.phaseDeadlineMs <= nowMs) {
      for (const member of [...group.members.values()]) if (member.awaitingSync === null) this.removeMember(group, member.memberId);
      // Every member that stayed had synced, yet the leader had not: the group rebalances again.
      if (group.state === GroupState.CompletingRebalance) this.#prepareRebalance(group);
    }
    await this.checkJoin(group);
  }

  /** Ends the join phase if its condition holds; called after every change and on every tick. */
  async checkJoin(group: ClassicGroup): Promise<void> {
    if (group.state !== GroupState.PreparingRebalance || group.unloaded) return;
    const nowMs = this.#host.nowMs();
    const deadline = group.phaseDeadlineMs ?? nowMs;
    const nobodyLeft = group.members.size === 0 && group.pendingMembers.size === 0;
    if (group.initialDelay !== null && !nobodyLeft) {
      if (nowMs < deadline) return;
      const delay = group.initialDelay;
      if (group.newMemberAdded && delay.remainingMs > 0) {
        // Kafka's InitialDelayedJoin: keep waiting while members keep arriving, up to the rebalance timeout.
        const nextMs = Math.min(delay.delayMs, delay.remainingMs);
        group.initialDelay = { delayMs: delay.delayMs, remainingMs: delay.remainingMs - nextMs };
        group.phaseDeadlineMs = nowMs + nextMs;
        group.newMemberAdded = false;
        return;
      }
    } else if (!group.allMembersJoined() && nowMs < deadline) {
      return;
    }
    await this.#completeJoin(group);
  }

  #maybePrepareRebalance(group: ClassicGroup): void {
    if (group.state === GroupState.Stable || group.state === GroupState.CompletingRebalance || group.state === GroupState.Empty) this.#prepareRebalance(group);
  }

  #prepareRebalance(group: ClassicGroup): void {
    const nowMs = this.#host.nowMs();
    if (group.state === GroupState.CompletingRebalance) {
      for (const member of group.members.values()) {
        member.assignment = EMPTY;
        respondSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      }
    }
    if (group.state === GroupState.Empty) {
      const delayMs = this.#host.initialRebalanceDelayMs;
      group.initialDelay = { delayMs, remainingMs: Math.max(group.rebalanceTimeoutMs() - delayMs, 0) };
      group.phaseDeadlineMs = nowMs + delayMs;
      group.newMemberAdded = false;
    } else {
      group.initialDelay = null;
      group.phaseDeadlineMs = nowMs + group.rebalanceTimeoutMs();
    }
    this.#transition(group, GroupState.PreparingRebalance, nowMs);
  }

  async #completeJoin(group: ClassicGroup): Promise<void> {
    const nowMs = this.#host.nowMs();
    // Members that did not rejoin in time are out (static ones too: their session is what keeps them).
    for (const member of [...group.members.values()]) if (member.awaitingJoin === null) group.remove(member.memberId);
    group.initialDelay = null;
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.phaseDeadlineMs = null;
      this.#transition(group, GroupState.Empty, nowMs);
      await this.#host.persist(group);
      return;
    }
    group.protocolName = group.selectProtocol() ?? '';
    this.#transition(group, GroupState.CompletingRebalance, nowMs);
    group.phaseDeadlineMs = nowMs + group.rebalanceTimeoutMs();
    for (const member of group.members.values()) {
      const isLeader = group.isLeader(member.memberId);
      member.isNew = false;
      member.lastHeartbeatMs = nowMs;
      respondJoin(member, this.#currentGeneration(group, member.memberId, isLeader));
    }
  }

  #transition(group: ClassicGroup, state: GroupState, nowMs: number): void {
    const from = group.state;
    group.transition(state, nowMs);
    this.#host.transitioned?.(group, from);
  }

  #currentGeneration(group: ClassicGroup, memberId: string, withMembers: boolean): JoinOutcome {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId,
      skipAssignment: false,
      members: withMembers
        ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(group.protocolName) }))
        : [],
    };
  }

  #syncAnswer(group: ClassicGroup, assignment: Buffer): SyncOutcome {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment };
  }

  /** The group is gone from this coordinator: every waiting member must find the coordinator again. */
  static unload(group: ClassicGroup, errorCode: number): void {
    group.unloaded = true;
    group.state = GroupState.Dead;
    for (const member of group.members.values()) {
      respondJoin(member, joinError(errorCode, member.memberId));
      respondSync(member, syncError(errorCode));
    }
  }
}

function updateMember(member: GroupMember, req: JoinRequest, nowMs: number): void {
  member.protocols = req.protocols;
  member.protocolType = req.protocolType;
  member.sessionTimeoutMs = req.sessionTimeoutMs;
  member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  member.clientId = req.clientId;
  member.clientHost = req.clientHost;
  member.lastHeartbeatMs = nowMs;
}

/** Whether the group's persisted state would still fit one metadata value with this member's metadata. */
function fitsInGroupState(group: ClassicGroup, req: JoinRequest): boolean {
  let bytes = 0;
  for (const member of group.members.values()) {
    if (member.memberId === req.memberId) continue;
    bytes += Math.max(0, ...member.protocols.map((p) => p.metadata.length)) + member.assignment.length;
  }
  bytes += Math.max(0, ...req.protocols.map((p) => p.metadata.length));
  // Stored as base64: 4 bytes per 3.
  return Math.ceil((bytes * 4) / 3) <= MAX_GROUP_STATE_BYTES;
}
