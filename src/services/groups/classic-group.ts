/**
 * The in-memory state of one classic-protocol consumer group and its members, with the pure rules of
 * Kafka's GroupMetadata (protocol support, protocol selection, static-member bookkeeping). The
 * coordinator drives the transitions; this file holds no timers and does no I/O.
 */

export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const satisfies Record<string, string>;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

export interface MemberProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

/** What a member waiting in JoinGroup receives when the join phase completes (or fails). */
export interface JoinOutcome {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leaderId: string;
  readonly memberId: string;
  readonly skipAssignment: boolean;
  /** Filled for the leader only: every member with its metadata for the selected protocol. */
  readonly members: readonly JoinedMember[];
}

export interface JoinedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface SyncOutcome {
  readonly errorCode: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class GroupMember {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly MemberProtocol[];
  assignment: Buffer = EMPTY;
  /** Resolves the member's pending JoinGroup; null when it has none. */
  awaitingJoin: ((outcome: JoinOutcome) => void) | null = null;
  /** Resolves the member's pending SyncGroup; null when it has none. */
  awaitingSync: ((outcome: SyncOutcome) => void) | null = null;
  lastHeartbeatMs: number;
  /** Joined in the current rebalance and never got a JoinGroup answer yet. */
  isNew = false;

  constructor(init: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    sessionTimeoutMs: number;
    rebalanceTimeoutMs: number;
    protocolType: string;
    protocols: readonly MemberProtocol[];
    nowMs: number;
  }) {
    this.memberId = init.memberId;
    this.groupInstanceId = init.groupInstanceId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.protocolType = init.protocolType;
    this.protocols = init.protocols;
    this.lastHeartbeatMs = init.nowMs;
  }

  metadataFor(protocolName: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
  }

  /** Same protocols in the same order with the same metadata: a retried join changes nothing. */
  matches(protocols: readonly MemberProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    for (let i = 0; i < protocols.length; i++) {
      const a = protocols[i];
      const b = this.protocols[i];
      if (a === undefined || b === undefined || a.name !== b.name || !a.metadata.equals(b.metadata)) return false;
    }
    return true;
  }

  /** Kafka's hasSatisfiedHeartbeat: a member with a pending join or sync answer cannot time out. */
  expired(nowMs: number): boolean {
    if (this.awaitingJoin !== null || this.awaitingSync !== null) return false;
    return this.lastHeartbeatMs + this.sessionTimeoutMs <= nowMs;
  }
}

export class ClassicGroup {
  readonly groupId: string;
  state: GroupState = GroupState.Empty;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  readonly members = new Map<string, GroupMember>();
  /** group.instance.id → member id of the static member currently holding it. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED (KIP-394) → deadline by which they must join. */
  readonly pendingMembers = new Map<string, number>();
  /** When the group entered its current state; offsets of an Empty group expire from here (KIP-211). */
  stateSinceMs: number;
  /** Store revision of the group's state key as last read or written here; every write compares it. */
  storeRevision = 0;
  /** Deadline of the running join phase (PreparingRebalance) or sync phase (CompletingRebalance). */
  phaseDeadlineMs: number | null = null;
  /** Set while the initial rebalance delay (group.initial.rebalance.delay.ms) of a new group runs. */
  initialDelay: { delayMs: number; remainingMs: number } | null = null;
  /** A member joined during the initial delay, so the delay is extended once more. */
  newMemberAdded = false;
  /** Set once the group was deleted or handed to another coordinator: every waiter must re-check. */
  unloaded = false;

  constructor(groupId: string, nowMs: number) {
    this.groupId = groupId;
    this.stateSinceMs = nowMs;
  }

  transition(state: GroupState, nowMs: number): void {
    this.state = state;
    this.stateSinceMs = nowMs;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  add(member: GroupMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
    this.pendingMembers.delete(member.memberId);
  }

  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  /** Another member id already holds this group.instance.id: the caller is an old, fenced instance. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.staticMembers.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  /** Protocols every member supports, in the order of the first member's preference. */
  candidateProtocols(): string[] {
    let candidates: string[] | null = null;
    for (const member of this.members.values()) {
      const names = member.protocols.map((p) => p.name);
      candidates = candidates === null ? names : candidates.filter((n) => names.includes(n));
    }
    return candidates ?? [];
  }

  /** Kafka's supportsProtocols: an empty group takes any; otherwise type must match and one protocol be common. */
  supportsProtocols(protocolType: string, protocols: readonly MemberProtocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.includes(p.name));
  }

  /** Each member votes for its most preferred candidate; the most votes win (ties: first candidate). */
  selectProtocol(): string | null {
    const candidates = this.candidateProtocols();
    if (candidates.length === 0) return null;
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const vote = member.protocols.find((p) => candidates.includes(p.name))?.name;
      if (vote !== undefined) votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    let best = candidates[0] ?? null;
    let bestVotes = -1;
    for (const name of candidates) {
      const count = votes.get(name) ?? 0;
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (member.awaitingJoin === null) return false;
    return true;
  }

  /** The largest rebalance timeout of the members bounds how long the join phase waits. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }
}
