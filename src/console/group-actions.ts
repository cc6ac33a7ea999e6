/**
 * Resetting a group's committed offsets and deleting a group, as `kafscale groups reset-offsets` and
 * `groups delete` do (src/cli/commands/groups-command.ts): targets are computed from the partitions'
 * log start / high watermark / timestamp index; a dry run only shows them; applying them is refused
 * (409 NON_EMPTY_GROUP) while the group has members, and is an admin commit (generation -1) otherwise.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { TopicRecord } from '../services/cluster/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError, kafkaRefusal } from './console-error.ts';
import { field } from './console-http.ts';
import { liveState } from './groups-view.ts';
import { visibleTopic } from './topics-view.ts';

const TARGETS = ['earliest', 'latest', 'timestamp', 'offset'] as const;
type Target = (typeof TARGETS)[number];

interface Planned {
  topic: string;
  partition: number;
  current: number | null;
  target: number;
}

export async function resetOffsets(deps: ConsoleDeps, access: ConsoleAccess, groupId: string, body: Record<string, unknown>): Promise<unknown> {
  access.require(Op.DESCRIBE, Resource.GROUP, groupId);
  const to = field.string(body, 'to') as Target;
  if (!TARGETS.includes(to)) throw new ConsoleError(400, `"to" must be one of ${TARGETS.join(', ')} (got ${to})`);
  const timestamp = to === 'timestamp' ? field.integer(body, 'timestamp', 0) : 0;
  const offset = to === 'offset' ? field.integer(body, 'offset', 0) : 0;
  const dryRun = field.boolean(body, 'dryRun', true);
  const topicName = field.optionalString(body, 'topic') ?? null;
  const { groups, topics, logs } = deps.services;
  const committed = await groups.storedOffsets(groupId);
  let targets: TopicRecord[];
  if (topicName !== null) {
    targets = [visibleTopic(deps, access, topicName)];
  } else {
    targets = [...new Set(committed.map((o) => o.topic))].sort().map((t) => topics.get(t)).filter((t): t is TopicRecord => t !== undefined && access.can(Op.DESCRIBE, Resource.TOPIC, t.name));
    if (targets.length === 0) throw new ConsoleError(400, `group '${groupId}' has no committed offsets; name the "topic" whose offsets to set`);
  }
  const plan: Planned[] = [];
  for (const topic of targets) {
    for (let partition = 0; partition < topic.partitions; partition++) {
      const { logStartOffset, highWatermark } = await logs.offsets(topic.id, partition);
      let target: number;
      if (to === 'earliest') target = logStartOffset;
      else if (to === 'latest') target = highWatermark;
      else if (to === 'offset') target = Math.min(Math.max(offset, logStartOffset), highWatermark);
      else {
        const found = await logs.listOffsets(topic.id, partition, { timestampMs: timestamp });
        target = found.errorCode === ErrorCode.NONE && found.offset >= 0 ? found.offset : highWatermark;
      }
      const current = committed.find((o) => o.topic === topic.name && o.partition === partition);
      plan.push({ topic: topic.name, partition, current: current === undefined || current.offset < 0n ? null : Number(current.offset), target });
    }
  }
  const state = await liveState(deps, groupId);
  if (!dryRun) {
    // OffsetCommit's checks: READ on the group and on every topic committed to.
    access.require(Op.READ, Resource.GROUP, groupId);
    for (const topic of targets) access.require(Op.READ, Resource.TOPIC, topic.name);
    if (state === null) throw new ConsoleError(409, `group '${groupId}' is coordinated by broker ${groups.coordinatorOf(groupId)}; reset its offsets from that broker's console or with kafscale groups reset-offsets`, 'NOT_COORDINATOR');
    if (state !== 'Empty' && state !== 'Dead') {
      throw new ConsoleError(409, `group '${groupId}' is ${state}: offsets can only be reset while it has no members; stop its consumers first`, 'NON_EMPTY_GROUP');
    }
    const codes = await groups.commitOffsets({
      groupId,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      offsets: plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: BigInt(p.target), leaderEpoch: -1, metadata: null })),
    });
    const failed = codes.find((c) => c !== ErrorCode.NONE);
    if (failed !== undefined) throw kafkaRefusal(failed, null);
    deps.log.warn({ groupId, to, partitions: plan.length, principal: access.caller.principal }, 'console reset group offsets');
  }
  return { groupId, state: state ?? 'unknown', dryRun, offsets: plan };
}

export async function deleteGroup(deps: ConsoleDeps, access: ConsoleAccess, groupId: string): Promise<void> {
  access.require(Op.DELETE, Resource.GROUP, groupId);
  const code = await deps.services.groups.deleteGroup(groupId);
  if (code === ErrorCode.NON_EMPTY_GROUP) throw new ConsoleError(409, `group '${groupId}' still has members; stop its consumers first`, 'NON_EMPTY_GROUP');
  if (code === ErrorCode.NOT_COORDINATOR) throw new ConsoleError(409, `group '${groupId}' is coordinated by broker ${deps.services.groups.coordinatorOf(groupId)}; delete it from that broker's console or with kafscale groups delete`, 'NOT_COORDINATOR');
  if (code !== ErrorCode.NONE) throw kafkaRefusal(code, `group '${groupId}': ${code === ErrorCode.GROUP_ID_NOT_FOUND ? 'no such group' : 'cannot be deleted'}`);
  deps.log.warn({ groupId, principal: access.caller.principal }, 'console deleted a group');
}
