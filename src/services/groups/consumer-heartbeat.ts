/**
 * One KIP-848 ConsumerGroupHeartbeat applied to a consumer group (Kafka's
 * GroupMetadataManager.consumerGroupHeartbeat): request validation, join / heartbeat / leave / static
 * leave, epoch fencing, subscription and topic-metadata changes that bump the group epoch, then the
 * member's reconciliation. Pure: the coordinator persists the group when the answer says it changed.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ASSIGNORS, type AssignableTopic } from './assignors.ts';
import { compileTopicRegex, ConsumerMember, effectiveTopics, JOIN_EPOCH, LEAVE_EPOCH, MemberState, snapshot, STATIC_LEAVE_EPOCH, type ConsumerGroup } from './consumer-group.ts';
import { fromList, isSubset, sameAssignment, toList, type Partitions } from './partition-sets.ts';

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

function signature(topics: ReadonlyMap<string, AssignableTopic>): string {
  return [...topics.values()].map((t) => `${t.name}/${t.id}/${t.partitions}`).sort().join('\0');
}
