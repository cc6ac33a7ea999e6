import type { MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { ClassicGroup, GroupMember, GroupState } from './classic-group.ts';
import { ConsumerGroup, ConsumerMember, type MemberState } from './consumer-group.ts';
import type { Partitions } from './partition-sets.ts';

/**
 * Largest serialized group state kafscale writes (one metadata-store value). etcd takes 1.5 MiB per
 * request; the rest of the budget is the offsets packed into the same transaction. A group whose
 * members' metadata and assignments exceed it is refused the way Kafka refuses a group record over
 * its message size limit (UNKNOWN_SERVER_ERROR, see docs/design/groups.md).
 */
export const MAX_GROUP_STATE_BYTES = 1_000_000;

/** The persisted form of a group: written at the points Kafka writes its group metadata record. */
interface StoredGroup {
  readonly v: 1;
  readonly state: 'Empty' | 'Stable';
  readonly stateSinceMs: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly generationId: number;
  readonly leaderId: string | null;
  readonly members: readonly StoredMember[];
}

interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** base64 of the member's metadata for the selected protocol. */
  readonly metadata: string;
  /** base64 of the member's assignment. */
  readonly assignment: string;
}

/** A stored group as ListGroups sees it, without loading it. */
export interface StoredGroupSummary {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  /** 'classic' or 'consumer' (KIP-848). */
  readonly groupType: string;
}

/** The persisted form of a KIP-848 consumer group: written after every change but the session clock. */
interface StoredConsumerGroup {
  readonly v: 1;
  readonly type: 'consumer';
  readonly state: string;
  readonly stateSinceMs: number;
  readonly protocolType: 'consumer';
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly topics: readonly { name: string; id: string; partitions: number }[];
  readonly target: readonly [string, [string, number[]][]][];
  readonly members: readonly {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex?: string | null;
    regexTopics?: string[];
    serverAssignor: string | null;
    rebalanceTimeoutMs: number;
    memberEpoch: number;
    previousMemberEpoch: number;
    state: string;
    assigned: [string, number[]][];
    revoking: [string, number[]][];
  }[];
}

export function encodeConsumerGroup(group: ConsumerGroup): Buffer {
  const stored: StoredConsumerGroup = {
    v: 1,
    type: 'consumer',
    state: group.state,
    stateSinceMs: group.stateSinceMs,
    protocolType: 'consumer',
    groupEpoch: group.groupEpoch,
    assignmentEpoch: group.assignmentEpoch,
    topics: [...group.topics.values()],
    target: [...group.target].map(([memberId, partitions]) => [memberId, [...partitions]]),
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      regexTopics: m.regexTopics,
      serverAssignor: m.serverAssignor,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assigned: [...m.assigned],
      revoking: [...m.revoking],
    })),
  };
  return Buffer.from(JSON.stringify(stored));
}

/** Rebuilds a consumer group as a new coordinator sees it: every member's session starts now. */
export function decodeConsumerGroup(groupId: string, stored: StoredConsumerGroup, revision: number, nowMs: number): ConsumerGroup {
  const group = new ConsumerGroup(groupId, stored.stateSinceMs);
  group.groupEpoch = stored.groupEpoch;
  group.assignmentEpoch = stored.assignmentEpoch;
  group.topics = new Map(stored.topics.map((t) => [t.name, t]));
  group.target = new Map(stored.target.map(([memberId, partitions]) => [memberId, new Map(partitions)]));
  for (const m of stored.members) {
    const member = new ConsumerMember({ ...m, nowMs });
    member.subscribedTopicNames = m.subscribedTopicNames;
    member.serverAssignor = m.serverAssignor;
    member.subscribedTopicRegex = m.subscribedTopicRegex ?? null;
    member.regexTopics = m.regexTopics ?? [];
    member.memberEpoch = m.memberEpoch;
    member.previousMemberEpoch = m.previousMemberEpoch;
    member.state = m.state as MemberState;
    member.assigned = new Map(m.assigned) as Partitions;
    member.revoking = new Map(m.revoking) as Partitions;
    // A member still revoking gets its full rebalance timeout again under the new coordinator.
    if (member.revoking.size > 0) member.revokeDeadlineMs = nowMs + m.rebalanceTimeoutMs;
    group.members.set(member.memberId, member);
  }
  group.storeRevision = revision;
  return group;
}

function decodeAny(groupId: string, value: Buffer, revision: number, nowMs: number): ClassicGroup | ConsumerGroup {
  const parsed = JSON.parse(value.toString('utf8')) as { type?: string };
  if (parsed.type === 'consumer') return decodeConsumerGroup(groupId, parsed as StoredConsumerGroup, revision, nowMs);
  return decodeGroup(groupId, value, revision, nowMs);
}

export function encodeGroup(group: ClassicGroup): Buffer {
  // Only Empty and Stable are ever persisted: a rebalance in flight is not durable state (a new
  // coordinator resumes from the last stable generation and the members rejoin).
  const stored: StoredGroup = {
    v: 1,
    state: group.members.size === 0 ? 'Empty' : 'Stable',
    stateSinceMs: group.stateSinceMs,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    generationId: group.generationId,
    leaderId: group.leaderId,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      metadata: m.metadataFor(group.protocolName).toString('base64'),
      assignment: m.assignment.toString('base64'),
    })),
  };
  return Buffer.from(JSON.stringify(stored));
}

/** Rebuilds a group as a new coordinator sees it: every member's session starts now. */
export function decodeGroup(groupId: string, value: Buffer, revision: number, nowMs: number): ClassicGroup {
  const stored = JSON.parse(value.toString('utf8')) as StoredGroup;
  const group = new ClassicGroup(groupId, stored.stateSinceMs);
  group.protocolType = stored.protocolType;
  group.protocolName = stored.protocolName;
  group.generationId = stored.generationId;
  for (const m of stored.members) {
    const member = new GroupMember({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      protocolType: stored.protocolType ?? '',
      protocols: [{ name: stored.protocolName ?? '', metadata: Buffer.from(m.metadata, 'base64') }],
      nowMs,
    });
    member.assignment = Buffer.from(m.assignment, 'base64');
    group.add(member);
  }
  group.leaderId = stored.leaderId !== null && group.has(stored.leaderId) ? stored.leaderId : group.leaderId;
  group.state = group.members.size === 0 ? GroupState.Empty : GroupState.Stable;
  group.storeRevision = revision;
  return group;
}

/** Loads racing another coordinator's writes before giving up (COORDINATOR_NOT_AVAILABLE; the client retries). */
const MAX_LOAD_ATTEMPTS = 5;

export type SaveOutcome = 'ok' | 'conflict' | 'too-large';

/**
 * Group state in the metadata store, one key per group. Every write compares the key's mod revision
 * with the one this coordinator last saw, so a coordinator that lost the group to another broker can
 * never overwrite it (it gets 'conflict' and hands the group back with NOT_COORDINATOR).
 * Store faults are thrown (KafscaleError KSC_META_*); callers map them to COORDINATOR_NOT_AVAILABLE.
 */
export class GroupStore {
  readonly #store: MetadataStore;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /**
   * Loads a group and claims it for this coordinator: the key is re-put unchanged, guarded by the
   * revision just read, so its mod revision moves on. Every write of a previous coordinator still in
   * flight (guarded by the old revision — one SIGSTOPped past its lease, or queued behind a store
   * outage) then fails instead of landing later and taking committed offsets back.
   */
  async load(groupId: string, nowMs: number): Promise<ClassicGroup | ConsumerGroup | null> {
    const key = MetaKeys.group(groupId);
    for (let attempt = 1; attempt <= MAX_LOAD_ATTEMPTS; attempt++) {
      const kv = await this.#store.get(key);
      if (kv === null) return null;
      const result = await this.#store.txn({ compare: [{ key, target: 'modRevision', op: '==', value: kv.modRevision }], success: [{ type: 'put', key, value: kv.value }] });
      if (result.succeeded) return decodeAny(groupId, kv.value, result.revision, nowMs);
    }
    throw new KafscaleError('KSC_META_UNAVAILABLE', `group ${groupId} changed under every one of ${MAX_LOAD_ATTEMPTS} loads; another coordinator is writing it`, { retriable: true });
  }

  async save(group: ClassicGroup | ConsumerGroup, extraOps: readonly TxnOp[] = []): Promise<SaveOutcome> {
    const value = group instanceof ConsumerGroup ? encodeConsumerGroup(group) : encodeGroup(group);
    if (value.length > MAX_GROUP_STATE_BYTES) return 'too-large';
    const key = MetaKeys.group(group.groupId);
    const result = await this.#store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: group.storeRevision }],
      success: [{ type: 'put', key, value }, ...extraOps],
    });
    if (!result.succeeded) return 'conflict';
    group.storeRevision = result.revision;
    return 'ok';
  }

  /** Deletes the group's state and all its committed offsets in one guarded transaction. */
  async delete(group: { readonly groupId: string; readonly storeRevision: number }): Promise<SaveOutcome> {
    const key = MetaKeys.group(group.groupId);
    const result = await this.#store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: group.storeRevision }],
      success: [
        { type: 'delete', key },
        { type: 'deletePrefix', prefix: MetaKeys.groupOffsetsPrefix(group.groupId) },
      ],
    });
    return result.succeeded ? 'ok' : 'conflict';
  }

  async list(): Promise<StoredGroupSummary[]> {
    const { kvs } = await this.#store.range(MetaKeys.groupsPrefix);
    const groups: StoredGroupSummary[] = [];
    for (const kv of kvs) {
      try {
        const stored = JSON.parse(kv.value.toString('utf8')) as StoredGroup | StoredConsumerGroup;
        groups.push({
          groupId: decodeURIComponent(kv.key.slice(MetaKeys.groupsPrefix.length)),
          state: stored.state,
          protocolType: stored.protocolType ?? '',
          groupType: 'type' in stored ? stored.type : 'classic',
        });
      } catch {
        // A value kafscale did not write; listing skips it rather than failing every ListGroups.
      }
    }
    return groups;
  }
}
