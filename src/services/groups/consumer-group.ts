/**
 * A KIP-848 consumer group (the `consumer` group type): members, epochs, the target assignment and the
 * incremental reconciliation of each member toward it (Kafka's GroupMetadataManager.consumerGroupHeartbeat
 * and CurrentAssignmentBuilder). Pure state and rules: no timers, no I/O; the coordinator persists the
 * group after every change and drives the session timers.
 *
 * Invariant: a partition is in at most one member's `assigned ∪ revoking`. A member gets a partition
 * only once no other member holds it there, i.e. once its previous owner's heartbeat stopped listing it
 * (or the owner left, was fenced or timed out).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ASSIGNORS, DEFAULT_ASSIGNOR, type AssignableTopic, type TargetAssignment } from './assignors.ts';

/** topic id → sorted partitions. */
export type Partitions = Map<string, number[]>;

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

export interface ConsumerHeartbeatRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: string | null;
  /** The partitions the member owns now; null when unchanged since its last heartbeat. */
  readonly ownedTopicPartitions: readonly { topicId: string; partitions: readonly number[] }[] | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** ConsumerGroupHeartbeat version: v0 lets the broker choose the member id, v1 has the client choose it. */
  readonly apiVersion: number;
}

export interface ConsumerHeartbeatOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly memberId: string | null;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: { topicId: string; partitions: number[] }[] | null;
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

export interface HeartbeatEnv {
  readonly nowMs: number;
  readonly heartbeatIntervalMs: number;
  /** Looks a topic up by name (undefined when it does not exist). */
  readonly topic: (name: string) => AssignableTopic | undefined;
  /** Every existing topic name a regex may match (internal topics excluded, as in Kafka). */
  readonly topicNames?: () => readonly string[];
}

/**
 * One ConsumerGroupHeartbeat against a group (created by the caller when new). Returns the answer and
 * whether the group changed in a way worth persisting (anything but the session clock).
 */
export function consumerHeartbeat(group: ConsumerGroup, req: ConsumerHeartbeatRequest, env: HeartbeatEnv): { outcome: ConsumerHeartbeatOutcome; changed: boolean } {
  const fail = (errorCode: number, errorMessage: string | null = null) => ({
    outcome: { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null },
    changed: false,
  });
  const invalid = checkRequest(req);
  if (invalid !== null) return fail(ErrorCode.INVALID_REQUEST, invalid);
  if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== '' && compileTopicRegex(req.subscribedTopicRegex) === null) {
    return fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression`);
  }
  if (req.serverAssignor !== null && (!ASSIGNORS.has(req.serverAssignor) || !group.enabledAssignors.includes(req.serverAssignor))) {
    return fail(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${req.serverAssignor} is not supported; supported: ${group.enabledAssignors.join(', ')}`);
  }
  const answer = (member: ConsumerMember, assignment: Partitions | null, changed: boolean) => ({
    outcome: {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: env.heartbeatIntervalMs,
      assignment: assignment === null ? null : toList(assignment),
    },
    changed,
  });

  // Leaving.
  if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === STATIC_LEAVE_EPOCH) {
    const member = group.members.get(req.memberId);
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (member.instanceId !== null && req.instanceId !== null && member.instanceId !== req.instanceId) return fail(ErrorCode.FENCED_INSTANCE_ID);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (member.instanceId === null) return fail(ErrorCode.INVALID_REQUEST, 'MemberEpoch -2 (static leave) needs an InstanceId');
      // A static member keeps its assignment until it comes back or its session times out.
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      return { outcome: { ...answer(member, null, true).outcome, memberEpoch: STATIC_LEAVE_EPOCH }, changed: true };
    }
    group.remove(member.memberId);
    group.computeTargetIfNeeded();
    return { outcome: { errorCode: ErrorCode.NONE, errorMessage: null, memberId: req.memberId, memberEpoch: LEAVE_EPOCH, heartbeatIntervalMs: 0, assignment: null }, changed: true };
  }

  let changed = false;
  // One group epoch bump per heartbeat, whatever changed (membership, subscription, assignor, topics).
  let bump = false;
  let member = group.members.get(req.memberId);
  const owned = req.ownedTopicPartitions === null ? null : fromList(req.ownedTopicPartitions);
  if (req.memberEpoch === JOIN_EPOCH) {
    if (req.instanceId !== null) {
      const holder = group.staticMember(req.instanceId);
      if (holder !== undefined && holder.memberId !== req.memberId) {
        if (holder.memberEpoch !== STATIC_LEAVE_EPOCH) return fail(ErrorCode.UNRELEASED_INSTANCE_ID, `instance ${req.instanceId} is still used by member ${holder.memberId}`);
        // The static member comes back under a new member id: it takes over the old one's epoch and partitions.
        group.members.delete(holder.memberId);
        const target = group.target.get(holder.memberId);
        group.target.delete(holder.memberId);
        holder.memberId = req.memberId === '' ? randomUUID() : req.memberId;
        holder.memberEpoch = Math.max(holder.previousMemberEpoch, 0);
        group.members.set(holder.memberId, holder);
        if (target !== undefined) group.target.set(holder.memberId, target);
        member = holder;
        changed = true;
      }
    }
    if (member === undefined) {
      member = new ConsumerMember({
        memberId: req.memberId === '' ? randomUUID() : req.memberId,
        instanceId: req.instanceId,
        rackId: req.rackId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        nowMs: env.nowMs,
      });
      group.members.set(member.memberId, member);
      bump = true;
    } else if (!changed && member.memberEpoch === STATIC_LEAVE_EPOCH) {
      // The static member comes back under the same member id: it resumes with its partitions.
      member.memberEpoch = Math.max(member.previousMemberEpoch, 0);
      changed = true;
    } else if (!changed) {
      // A known member joining again (e.g. after being fenced) owns nothing any more.
      member.assigned = new Map();
      member.revoking = new Map();
      member.state = MemberState.Stable;
      member.memberEpoch = 0;
      changed = true;
    }
  } else {
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (member.instanceId !== req.instanceId && req.instanceId !== null) return fail(ErrorCode.FENCED_INSTANCE_ID);
    if (req.memberEpoch > member.memberEpoch) return fail(ErrorCode.FENCED_MEMBER_EPOCH, `epoch ${req.memberEpoch} is ahead of the member's ${member.memberEpoch}`);
    if (req.memberEpoch < member.memberEpoch && (req.memberEpoch !== member.previousMemberEpoch || owned === null || !isSubset(owned, member.assigned))) {
      return fail(ErrorCode.FENCED_MEMBER_EPOCH, `epoch ${req.memberEpoch} is older than the member's ${member.memberEpoch}`);
    }
  }
  member.lastHeartbeatMs = env.nowMs;
  if (req.rebalanceTimeoutMs >= 0) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  if (req.clientId !== member.clientId || req.clientHost !== member.clientHost) {
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
  }
  if (req.rackId !== null && req.rackId !== member.rackId) member.rackId = req.rackId;

  // Subscription and assignor changes bump the group epoch.
  if (req.subscribedTopicNames !== null) {
    const names = [...new Set(req.subscribedTopicNames)].sort();
    if (names.join('\0') !== member.subscribedTopicNames.join('\0')) {
      member.subscribedTopicNames = names;
      bump = true;
    }
  }
  if (req.subscribedTopicRegex !== null) {
    const regex = req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex;
    if (regex !== member.subscribedTopicRegex) {
      member.subscribedTopicRegex = regex;
      bump = true;
    }
  }
  if (req.serverAssignor !== null && req.serverAssignor !== member.serverAssignor) {
    member.serverAssignor = req.serverAssignor;
    bump = true;
  }
  // Regexes are resolved against the topics that exist now: a matching topic created or deleted moves them.
  const withRegex = [...group.members.values()].filter((m) => m.subscribedTopicRegex !== null);
  if (withRegex.length > 0) {
    const names = env.topicNames?.() ?? [];
    for (const m of withRegex) {
      const re = compileTopicRegex(m.subscribedTopicRegex as string);
      const matched = re === null ? [] : names.filter((n) => re.test(n)).sort();
      if (matched.join('\0') !== m.regexTopics.join('\0')) {
        m.regexTopics = matched;
        changed = true;
      }
    }
  }
  // Topic metadata of every subscription: a topic created, deleted or grown bumps the epoch.
  const topics = new Map<string, AssignableTopic>();
  for (const m of group.members.values()) {
    for (const name of effectiveTopics(m)) {
      const topic = env.topic(name);
      if (topic !== undefined) topics.set(name, { name: topic.name, id: topic.id, partitions: topic.partitions });
    }
  }
  if (signature(topics) !== signature(group.topics)) {
    group.topics = topics;
    bump = true;
  }
  if (bump) {
    group.groupEpoch++;
    changed = true;
  }
  group.computeTargetIfNeeded();
  const before = snapshot(member);
  const reconciled = group.reconcile(member, owned, env.nowMs);
  changed ||= reconciled;
  // The assignment goes out on a join, when it changed, or when the member reports owning something else.
  const sendAssignment = req.memberEpoch === JOIN_EPOCH || snapshot(member) !== before || (owned !== null && !sameAssignment(owned, member.assigned));
  return answer(member, sendAssignment ? member.assigned : null, changed);
}

/** Members whose session or revocation deadline passed; the caller removes them (and persists). */
export function expiredMembers(group: ConsumerGroup, nowMs: number, sessionTimeoutMs: number): ConsumerMember[] {
  return [...group.members.values()].filter((m) => nowMs - m.lastHeartbeatMs > sessionTimeoutMs || (m.revokeDeadlineMs !== null && nowMs > m.revokeDeadlineMs));
}

function checkRequest(req: ConsumerHeartbeatRequest): string | null {
  if (req.groupId === '') return 'GroupId can not be empty';
  if (req.instanceId === '') return 'InstanceId can not be empty';
  if (req.rackId === '') return 'RackId can not be empty';
  if (req.memberEpoch === JOIN_EPOCH) {
    if (req.apiVersion >= 1 && req.memberId === '') return 'MemberId can not be empty';
    if (req.rebalanceTimeoutMs === -1) return 'RebalanceTimeoutMs must be provided in first request';
    if (req.ownedTopicPartitions === null || req.ownedTopicPartitions.length > 0) return 'TopicPartitions must be empty when (re-)joining';
    if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) return 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request';
  } else if (req.memberId === '') {
    return 'MemberId can not be empty';
  } else if (req.memberEpoch < STATIC_LEAVE_EPOCH) {
    return `MemberEpoch ${req.memberEpoch} is invalid`;
  }
  return null;
}

function fromList(list: readonly { topicId: string; partitions: readonly number[] }[]): Partitions {
  const out: Partitions = new Map();
  for (const t of list) if (t.partitions.length > 0) out.set(t.topicId, [...new Set([...(out.get(t.topicId) ?? []), ...t.partitions])].sort((a, b) => a - b));
  return out;
}

export function toList(partitions: Partitions): { topicId: string; partitions: number[] }[] {
  return [...partitions].filter(([, ps]) => ps.length > 0).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([topicId, ps]) => ({ topicId, partitions: [...ps] }));
}

function intersect(a: Partitions, b: Partitions): Partitions {
  const out: Partitions = new Map();
  for (const [t, ps] of a) {
    const kept = ps.filter((p) => b.get(t)?.includes(p) === true);
    if (kept.length > 0) out.set(t, kept);
  }
  return out;
}

function subtract(a: Partitions, b: Partitions): Partitions {
  const out: Partitions = new Map();
  for (const [t, ps] of a) {
    const left = ps.filter((p) => b.get(t)?.includes(p) !== true);
    if (left.length > 0) out.set(t, left);
  }
  return out;
}

function overlaps(a: Partitions, b: Partitions): boolean {
  for (const [t, ps] of a) if (ps.some((p) => b.get(t)?.includes(p) === true)) return true;
  return false;
}

function isSubset(a: Partitions, b: Partitions): boolean {
  return size(subtract(a, b)) === 0;
}

function sameAssignment(a: Partitions, b: Partitions): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

function size(a: Partitions): number {
  let n = 0;
  for (const ps of a.values()) n += ps.length;
  return n;
}

function signature(topics: ReadonlyMap<string, AssignableTopic>): string {
  return [...topics.values()].map((t) => `${t.name}/${t.id}/${t.partitions}`).sort().join('\0');
}

function snapshot(m: ConsumerMember): string {
  return JSON.stringify([m.memberEpoch, m.state, toList(m.assigned), toList(m.revoking)]);
}
