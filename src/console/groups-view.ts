/**
 * GET /api/v1/groups and /api/v1/groups/:id. Groups this broker coordinates are described live (members,
 * assignments); groups another broker coordinates (a cluster) are shown as the metadata store holds them
 * — stored state and committed offsets, `members: null` — and say which broker coordinates them.
 * Lag is the partition's high watermark minus the committed offset, from the same log service Fetch uses.
 */
import { decodeData } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { DATA_SCHEMAS } from '../protocol/messages/index.ts';
import type { ConsumerProtocolAssignment } from '../protocol/messages/consumer-protocol-assignment.ts';
import type { CommittedOffset } from '../services/groups/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError, kafkaRefusal } from './console-error.ts';

export interface StoredGroup {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly groupType: string;
  readonly coordinator: number;
}

interface Member {
  memberId: string;
  clientId: string;
  host: string;
  assignments: { topic: string; partitions: number[] }[];
}

/** Every group the caller may DESCRIBE (ListGroups' rule), as stored or live. */
export async function groupsVisibleTo(deps: ConsoleDeps, access: ConsoleAccess): Promise<StoredGroup[]> {
  const all = await deps.services.groups.listStored();
  return all.filter((g) => access.can(Op.DESCRIBE, Resource.GROUP, g.groupId));
}

export async function listGroups(deps: ConsoleDeps, access: ConsoleAccess): Promise<unknown> {
  const groups = await groupsVisibleTo(deps, access);
  const self = deps.services.settings.brokerId;
  const rows = await Promise.all(groups.map(async (g) => {
    const [members, offsets] = await Promise.all([g.coordinator === self ? liveMembers(deps, g) : Promise.resolve(null), deps.services.groups.storedOffsets(g.groupId)]);
    const visible = offsets.filter((o) => access.can(Op.DESCRIBE, Resource.TOPIC, o.topic));
    let lag: number | null = null;
    for (const o of visible) {
      const end = await endOffset(deps, o.topic, o.partition);
      if (end === null || o.offset < 0n) continue;
      lag = (lag ?? 0) + Math.max(0, end - Number(o.offset));
    }
    return {
      groupId: g.groupId,
      state: g.state,
      protocol: g.groupType === 'consumer' ? 'consumer' : 'classic',
      protocolType: g.protocolType === '' ? null : g.protocolType,
      members: members === null ? null : members.length,
      lag,
      coordinator: g.coordinator,
    };
  }));
  return { groups: rows };
}

export async function describeGroup(deps: ConsoleDeps, access: ConsoleAccess, groupId: string): Promise<unknown> {
  access.require(Op.DESCRIBE, Resource.GROUP, groupId);
  const stored = (await deps.services.groups.listStored()).find((g) => g.groupId === groupId);
  if (stored === undefined) throw new ConsoleError(404, `group '${groupId}' does not exist`, 'GROUP_ID_NOT_FOUND');
  const coordinatedHere = stored.coordinator === deps.services.settings.brokerId;
  const members = coordinatedHere ? await liveMembers(deps, stored) : null;
  const committed = (await deps.services.groups.storedOffsets(groupId)).filter((o) => access.can(Op.DESCRIBE, Resource.TOPIC, o.topic));
  const owner = new Map<string, string>();
  const partitions = new Map<string, Set<number>>();
  const add = (topic: string, partition: number): void => {
    let set = partitions.get(topic);
    if (set === undefined) partitions.set(topic, (set = new Set()));
    set.add(partition);
  };
  for (const m of members ?? []) {
    for (const a of m.assignments) {
      if (!access.can(Op.DESCRIBE, Resource.TOPIC, a.topic)) continue;
      for (const p of a.partitions) {
        owner.set(`${a.topic}\0${p}`, m.memberId);
        add(a.topic, p);
      }
    }
  }
  const byKey = new Map<string, CommittedOffset>();
  for (const o of committed) {
    byKey.set(`${o.topic}\0${o.partition}`, o);
    add(o.topic, o.partition);
  }
  const offsets = [];
  for (const topic of [...partitions.keys()].sort()) {
    for (const partition of [...(partitions.get(topic) ?? [])].sort((a, b) => a - b)) {
      const c = byKey.get(`${topic}\0${partition}`);
      const committedOffset = c === undefined || c.offset < 0n ? null : Number(c.offset);
      const end = await endOffset(deps, topic, partition);
      offsets.push({ topic, partition, committedOffset, endOffset: end, lag: committedOffset === null || end === null ? null : Math.max(0, end - committedOffset), memberId: owner.get(`${topic}\0${partition}`) ?? null });
    }
  }
  return {
    groupId,
    state: stored.state,
    protocol: stored.groupType === 'consumer' ? 'consumer' : 'classic',
    protocolType: stored.protocolType === '' ? null : stored.protocolType,
    coordinator: stored.coordinator,
    members: members ?? [],
    membersKnown: members !== null,
    note: members === null ? `broker ${stored.coordinator} coordinates this group: its members are known only there; state and committed offsets are as the metadata store holds them` : null,
    offsets,
  };
}

/** The group's state as its coordinator (this broker) has it now; null when another broker coordinates it. */
export async function liveState(deps: ConsoleDeps, groupId: string): Promise<string | null> {
  const stored = (await deps.services.groups.listStored()).find((g) => g.groupId === groupId);
  if (stored === undefined) return 'Dead';
  return stored.coordinator === deps.services.settings.brokerId ? stored.state : null;
}

async function liveMembers(deps: ConsoleDeps, group: StoredGroup): Promise<Member[] | null> {
  const { groups, topics } = deps.services;
  if (group.groupType === 'consumer') {
    const described = await groups.describeConsumerGroup(group.groupId, (id) => topics.getById(id)?.name);
    if (described.errorCode !== ErrorCode.NONE) return described.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? [] : null;
    return described.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost,
      assignments: m.assignment.map((a) => ({ topic: described.topicName(a.topicId), partitions: [...a.partitions].sort((x, y) => x - y) })),
    }));
  }
  const described = await groups.describe(group.groupId);
  if (described.errorCode !== ErrorCode.NONE) {
    if (described.errorCode === ErrorCode.NOT_COORDINATOR || described.errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE) return null;
    throw kafkaRefusal(described.errorCode, null);
  }
  return described.members.map((m) => ({
    memberId: m.memberId,
    clientId: m.clientId,
    host: m.clientHost,
    assignments: described.protocolType === 'consumer' ? decodeAssignment(m.assignment) : [],
  }));
}

/** A classic consumer-protocol assignment; an unreadable one is shown as none rather than failing the page. */
function decodeAssignment(bytes: Buffer): { topic: string; partitions: number[] }[] {
  if (bytes.length < 2) return [];
  try {
    const version = Math.min(bytes.readInt16BE(0), 3);
    const assignment = decodeData<ConsumerProtocolAssignment>(DATA_SCHEMAS.ConsumerProtocolAssignment, version, bytes, 2);
    return assignment.assignedPartitions.map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) }));
  } catch {
    return [];
  }
}

/** The partition's high watermark; null for a topic or partition that no longer exists. */
export async function endOffset(deps: ConsoleDeps, topic: string, partition: number): Promise<number | null> {
  const record = deps.services.topics.get(topic);
  if (record === undefined || partition >= record.partitions) return null;
  return (await deps.services.logs.offsets(record.id, partition)).highWatermark;
}
