/**
 * A KIP-848 consumer group (the `consumer` group type): members, epochs, the target assignment and the
 * incremental reconciliation of each member toward it (Kafka's CurrentAssignmentBuilder). Pure state and
 * rules: no timers, no I/O; consumer-heartbeat.ts applies a heartbeat to it, the coordinator persists the
 * group after every change and drives the session timers.
 *
 * Invariant: a partition is in at most one member's `assigned ∪ revoking`. A member gets a partition
 * only once no other member holds it there, i.e. once its previous owner's heartbeat stopped listing it
 * (or the owner left, was fenced or timed out).
 */
import { ASSIGNORS, DEFAULT_ASSIGNOR, type AssignableTopic, type TargetAssignment } from './assignors.ts';
import { intersect, overlaps, size, subtract, toList, type Partitions } from './partition-sets.ts';


export const MemberState = { Stable: 'stable', UnrevokedPartitions: 'unrevoked_partitions', UnreleasedPartitions: 'unreleased_partitions' } as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/** KIP-848 epochs with a meaning: join, leave, static leave. */
export const JOIN_EPOCH = 0;
export const LEAVE_EPOCH = -1;
export const STATIC_LEAVE_EPOCH = -2;

/** Topics a member subscribes to: its names and what its regex matches. */
export function effectiveTopics(m: ConsumerMember): string[] {
  return m.regexTopics.length === 0 ? m.subscribedTopicNames : [...new Set([...m.subscribedTopicNames, ...m.regexTopics])].sort();
}

const compiled = new Map<string, RegExp | null>();

/**
 * Compiles a SubscribedTopicRegex the way Kafka matches it (the whole topic name must match, as Java's
 * Matcher.matches()); null when JS cannot compile it. Compiled patterns are cached (bounded).
 */
export function compileTopicRegex(pattern: string): RegExp | null {
  let re = compiled.get(pattern);
  if (re !== undefined) return re;
  try {
    re = new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    re = null;
  }
  if (compiled.size >= 1_000) compiled.clear();
  compiled.set(pattern, re);
  return re;
}

export class ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[] = [];
  /** KIP-848 SubscribedTopicRegex (JS RegExp, matched against the whole topic name); null when none. */
  subscribedTopicRegex: string | null = null;
  /** The existing topics the regex matched at the last heartbeat of any member. */
  regexTopics: string[] = [];
  serverAssignor: string | null = null;
  rebalanceTimeoutMs: number;
  memberEpoch = 0;
  previousMemberEpoch = -1;
  state: MemberState = MemberState.Stable;
  assigned: Partitions = new Map();
  revoking: Partitions = new Map();
  lastHeartbeatMs: number;
  /** When a member asked to revoke partitions is fenced if it has not (its rebalance timeout). */
  revokeDeadlineMs: number | null = null;

  constructor(init: { memberId: string; instanceId: string | null; rackId: string | null; clientId: string; clientHost: string; rebalanceTimeoutMs: number; nowMs: number }) {
    this.memberId = init.memberId;
    this.instanceId = init.instanceId;
    this.rackId = init.rackId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.lastHeartbeatMs = init.nowMs;
  }
}

/** KIP-848 group states as ListGroups and ConsumerGroupDescribe name them. */
export const ConsumerGroupState = { Empty: 'Empty', Assigning: 'Assigning', Reconciling: 'Reconciling', Stable: 'Stable', Dead: 'Dead' } as const;

export class ConsumerGroup {
  readonly groupId: string;
  groupEpoch = 0;
  assignmentEpoch = 0;
  target: TargetAssignment = new Map();
  readonly members = new Map<string, ConsumerMember>();
  /** The subscribed topics as of the last heartbeat that looked them up (name → topic). */
  topics = new Map<string, AssignableTopic>();
  stateSinceMs: number;
  storeRevision = 0;
  unloaded = false;

  constructor(groupId: string, nowMs: number) {
    this.groupId = groupId;
    this.stateSinceMs = nowMs;
  }

  get state(): string {
    if (this.members.size === 0) return ConsumerGroupState.Empty;
    if (this.groupEpoch !== this.assignmentEpoch) return ConsumerGroupState.Assigning;
    for (const m of this.members.values()) if (m.memberEpoch !== this.assignmentEpoch || m.state !== MemberState.Stable) return ConsumerGroupState.Reconciling;
    return ConsumerGroupState.Stable;
  }

  /** The broker's group.consumer.assignors (the first is the default); every assignor kafscale has when unset. */
  enabledAssignors: readonly string[] = [...ASSIGNORS.keys()];

  /** The assignor in use: the one most members name (ties: by name), the broker's default when none does. */
  get assignorName(): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = this.enabledAssignors[0] ?? DEFAULT_ASSIGNOR;
    let bestVotes = 0;
    for (const [name, n] of [...votes].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  staticMember(instanceId: string): ConsumerMember | undefined {
    for (const m of this.members.values()) if (m.instanceId === instanceId) return m;
    return undefined;
  }

  /** Which member holds a partition (assigned or still revoking), if any. */
  holderOf(topicId: string, partition: number): string | null {
    for (const m of this.members.values()) if (m.assigned.get(topicId)?.includes(partition) === true || m.revoking.get(topicId)?.includes(partition) === true) return m.memberId;
    return null;
  }

  /** Removes a member (left, fenced or timed out) and bumps the group epoch; its partitions become free. */
  remove(memberId: string): void {
    if (!this.members.delete(memberId)) return;
    this.target.delete(memberId);
    this.groupEpoch++;
  }

  /** Recomputes the target assignment when the group epoch moved past it. */
  computeTargetIfNeeded(): void {
    if (this.assignmentEpoch === this.groupEpoch) return;
    const assignor = ASSIGNORS.get(this.assignorName) ?? (ASSIGNORS.get(DEFAULT_ASSIGNOR) as NonNullable<ReturnType<typeof ASSIGNORS.get>>);
    const members = [...this.members.values()].map((m) => ({ memberId: m.memberId, topics: effectiveTopics(m) }));
    this.target = assignor.assign(members, this.topics, this.target);
    this.assignmentEpoch = this.groupEpoch;
  }

  /**
   * Moves a member toward its target (CurrentAssignmentBuilder). `owned` is what the member reported
   * owning (null: unchanged). Returns whether anything about the member changed.
   */
  reconcile(member: ConsumerMember, owned: Partitions | null, nowMs: number): boolean {
    const before = snapshot(member);
    if (member.state === MemberState.UnrevokedPartitions) {
      // Still revoking until its heartbeat no longer lists any partition it was asked to give up.
      if (owned === null || overlaps(owned, member.revoking)) return false;
      member.revoking = new Map();
      member.revokeDeadlineMs = null;
      member.state = MemberState.Stable;
    }
    const target = this.target.get(member.memberId) ?? new Map<string, number[]>();
    if (member.memberEpoch !== this.assignmentEpoch) {
      const keep = intersect(member.assigned, target);
      const revoke = subtract(member.assigned, target);
      if (size(revoke) > 0) {
        member.assigned = keep;
        member.revoking = revoke;
        member.state = MemberState.UnrevokedPartitions;
        member.revokeDeadlineMs = nowMs + Math.max(member.rebalanceTimeoutMs, 0);
        return snapshot(member) !== before;
      }
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = this.assignmentEpoch;
    }
    // Same epoch as the target: take every target partition nobody else holds any more.
    const next = new Map([...member.assigned].map(([t, ps]) => [t, [...ps]]));
    let unreleased = false;
    for (const [topicId, partitions] of target) {
      for (const p of partitions) {
        if (next.get(topicId)?.includes(p) === true) continue;
        const holder = this.holderOf(topicId, p);
        if (holder !== null && holder !== member.memberId) {
          unreleased = true;
          continue;
        }
        const list = next.get(topicId);
        if (list === undefined) next.set(topicId, [p]);
        else list.push(p);
      }
    }
    for (const ps of next.values()) ps.sort((a, b) => a - b);
    member.assigned = next;
    member.state = unreleased ? MemberState.UnreleasedPartitions : MemberState.Stable;
    return snapshot(member) !== before;
  }
}

/** What a member is, for telling whether a heartbeat changed it. */
export function snapshot(m: ConsumerMember): string {
  return JSON.stringify([m.memberEpoch, m.state, toList(m.assigned), toList(m.revoking)]);
}
