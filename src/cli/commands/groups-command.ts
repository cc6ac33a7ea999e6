/**
 * `kafscale groups list|describe|delete|reset-offsets` over ListGroups, DescribeGroups, OffsetFetch,
 * ListOffsets, DeleteGroups and OffsetCommit. reset-offsets is a dry run unless --execute is given.
 */
import { Option, type Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { CliError, kafkaError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { decodeAssignment } from '../group-member.ts';
import { ADMIN_COMMIT, commitOffsets, fetchCommittedOffsets } from '../group-offsets.ts';
import { EARLIEST, LATEST, listOffsets } from '../partition-offsets.ts';
import { parseTimestamp } from './consume-command.ts';
import { collect, parseCount } from './topics-command.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

interface GroupSummary { groupId: string; state: string | null; protocolType: string }

export function registerGroupsCommand(program: Command, run: Run): void {
  const groups = program.command('groups').description('list, describe and delete consumer groups; reset their offsets');

  groups.command('list').description('consumer groups of the cluster')
    .action(run(async (ctx) => {
      const bootstrap = await ctx.client.any();
      bootstrap.require(ApiKey.ListGroups);
      await ctx.client.metadata([]);
      const found = new Map<string, GroupSummary>();
      // Every broker coordinates some groups; ListGroups answers for the asked broker only.
      for (const broker of ctx.client.brokers()) {
        const connection = await ctx.client.broker(broker.nodeId);
        const { version, body } = await connection.request(ApiKey.ListGroups, { statesFilter: [], typesFilter: [] });
        if (body.errorCode !== ErrorCode.NONE) throw kafkaError(`groups of broker ${broker.nodeId}`, body.errorCode);
        for (const g of body.groups) found.set(g.groupId, { groupId: g.groupId, state: version >= 4 ? g.groupState : null, protocolType: g.protocolType });
      }
      const rows = [...found.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
      if (ctx.out.json) return ctx.out.data(rows);
      ctx.out.table([
        { header: 'GROUP', value: (g) => g.groupId },
        { header: 'STATE', value: (g) => g.state },
        { header: 'TYPE', value: (g) => g.protocolType || null },
      ], rows);
    }));

  groups.command('describe').description('state, members, committed offsets and lag of a group')
    .argument('<group>', 'group id')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [groupId] = args as [string];
      const described = await describeGroup(ctx, groupId);
      if (ctx.out.json) return ctx.out.data(described);
      ctx.out.line(`Group: ${described.groupId}  State: ${described.state}  Members: ${described.members.length}  Protocol: ${described.protocol || '-'}`);
      if (described.offsets.length > 0) {
        ctx.out.table([
          { header: 'TOPIC', value: (o) => o.topic },
          { header: 'PARTITION', value: (o) => o.partition, right: true },
          { header: 'COMMITTED', value: (o) => o.committed, right: true },
          { header: 'END', value: (o) => o.end, right: true },
          { header: 'LAG', value: (o) => o.lag, right: true },
          { header: 'MEMBER', value: (o) => o.memberId },
        ], described.offsets);
      }
      if (described.members.length > 0) {
        ctx.out.line('');
        ctx.out.table([
          { header: 'MEMBER', value: (m) => m.memberId },
          { header: 'CLIENT', value: (m) => m.clientId },
          { header: 'HOST', value: (m) => m.clientHost },
          { header: 'PARTITIONS', value: (m) => Object.entries(m.assignment).map(([t, ps]) => `${t}:${ps.join(',')}`).join(' ') || null },
        ], described.members);
      }
    }));

  groups.command('delete').description('delete groups (and their committed offsets); they must have no members')
    .argument('<group...>', 'group ids')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [ids] = args as [string[]];
      const deleted: string[] = [];
      for (const groupId of ids) {
        const coordinator = await ctx.client.coordinator(groupId);
        const { body } = await coordinator.request(ApiKey.DeleteGroups, { groupsNames: [groupId] });
        const result = body.results.find((r) => r.groupId === groupId);
        if (result === undefined) throw new CliError(`the broker did not answer for group '${groupId}'`);
        if (result.errorCode !== ErrorCode.NONE) {
          if (ctx.out.json) ctx.out.data({ deleted, failed: [groupId] });
          throw kafkaError(`group '${groupId}'`, result.errorCode);
        }
        deleted.push(groupId);
        if (!ctx.out.json) ctx.out.line(`Deleted group ${groupId}`);
      }
      if (ctx.out.json) ctx.out.data({ deleted, failed: [] });
    }));

  groups.command('reset-offsets').description('move a group\'s committed offsets (a dry run unless --execute)')
    .argument('<group>', 'group id')
    .requiredOption('-t, --topic <topic>', 'topic whose offsets to move')
    .option('-p, --partition <n>', 'only this partition (repeatable; default: every partition)', collect, [])
    .addOption(new Option('--to-earliest', 'to the earliest offset').conflicts(['toLatest', 'toTimestamp', 'toOffset']))
    .addOption(new Option('--to-latest', 'to the end (skip everything)').conflicts(['toTimestamp', 'toOffset']))
    .addOption(new Option('--to-timestamp <time>', 'to the first record at or after this time (ms or ISO 8601)').conflicts(['toOffset']))
    .option('--to-offset <n>', 'to this offset (clamped to the partition\'s range)')
    .option('--execute', 'apply the change (without it, only show what would change)')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [groupId, opts] = args as [string, {
        topic: string; partition: string[]; toEarliest?: boolean; toLatest?: boolean; toTimestamp?: string; toOffset?: string; execute?: boolean;
      }];
      if (opts.toEarliest !== true && opts.toLatest !== true && opts.toTimestamp === undefined && opts.toOffset === undefined) {
        throw usageError('say where to move the offsets', 'pass one of --to-earliest, --to-latest, --to-timestamp <time>, --to-offset <n>');
      }
      const toOffset = opts.toOffset === undefined ? null : BigInt(parseCount(opts.toOffset, '--to-offset', 0));
      const toTimestamp = opts.toTimestamp === undefined ? null : parseTimestamp(opts.toTimestamp, '--to-timestamp');
      const topic = await ctx.client.topic(opts.topic);
      const all = topic.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b);
      const partitions = opts.partition.length === 0 ? all : opts.partition.map((p) => parseCount(p, '--partition', 0));
      for (const p of partitions) {
        if (!all.includes(p)) throw kafkaError(`topic '${opts.topic}' partition ${p}`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      const coordinator = await ctx.client.coordinator(groupId);
      const committed = (await fetchCommittedOffsets(coordinator, groupId, [{ name: opts.topic, partitions }])).get(opts.topic) ?? new Map<number, bigint>();
      const [earliest, latest] = await Promise.all([listOffsets(ctx.client, topic, partitions, EARLIEST), listOffsets(ctx.client, topic, partitions, LATEST)]);
      const byTime = toTimestamp === null ? null : await listOffsets(ctx.client, topic, partitions, toTimestamp);
      const plan = partitions.map((partition) => {
        const low = earliest.get(partition)?.offset ?? 0n;
        const high = latest.get(partition)?.offset ?? 0n;
        let target: bigint;
        if (opts.toEarliest === true) target = low;
        else if (opts.toLatest === true) target = high;
        else if (byTime !== null) target = (byTime.get(partition)?.offset ?? -1n) < 0n ? high : byTime.get(partition)!.offset;
        else target = toOffset! < low ? low : toOffset! > high ? high : toOffset!;
        return { topic: opts.topic, partition, current: committed.get(partition) ?? null, target };
      });
      if (opts.execute === true) {
        const state = await groupState(ctx, groupId);
        if (state !== 'Empty' && state !== 'Dead') {
          throw new CliError(`group '${groupId}' is ${state}: offsets can only be reset while it has no members`, {
            kafkaError: 'NON_EMPTY_GROUP', hint: 'stop the group\'s consumers first, then run the command again',
          });
        }
        await commitOffsets(coordinator, groupId, ADMIN_COMMIT, opts.topic, new Map(plan.map((p) => [p.partition, p.target])));
      }
      if (ctx.out.json) {
        return ctx.out.data({ groupId, executed: opts.execute === true, partitions: plan.map((p) => ({ topic: p.topic, partition: p.partition, current: p.current, new: p.target })) });
      }
      ctx.out.table([
        { header: 'GROUP', value: () => groupId },
        { header: 'TOPIC', value: (p) => p.topic },
        { header: 'PARTITION', value: (p) => p.partition, right: true },
        { header: 'CURRENT', value: (p) => p.current, right: true },
        { header: 'NEW', value: (p) => p.target, right: true },
      ], plan);
      if (opts.execute !== true) ctx.out.note('dry run: no offsets were changed; add --execute to apply');
    }));
}

async function groupState(ctx: CommandContext, groupId: string): Promise<string> {
  const coordinator = await ctx.client.coordinator(groupId);
  const { body } = await coordinator.request(ApiKey.DescribeGroups, { groups: [groupId], includeAuthorizedOperations: false });
  const group = body.groups.find((g) => g.groupId === groupId);
  if (group === undefined) throw new CliError(`the broker did not answer for group '${groupId}'`);
  if (group.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return 'Dead';
  if (group.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}'`, group.errorCode);
  return group.groupState;
}

interface DescribedGroup {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: { memberId: string; clientId: string; clientHost: string; assignment: Record<string, number[]> }[];
  offsets: { topic: string; partition: number; committed: bigint | null; end: bigint | null; lag: bigint | null; memberId: string | null }[];
}

async function describeGroup(ctx: CommandContext, groupId: string): Promise<DescribedGroup> {
  const coordinator = await ctx.client.coordinator(groupId);
  const { body } = await coordinator.request(ApiKey.DescribeGroups, { groups: [groupId], includeAuthorizedOperations: false });
  const group = body.groups.find((g) => g.groupId === groupId);
  if (group === undefined) throw new CliError(`the broker did not answer for group '${groupId}'`);
  if (group.errorCode !== ErrorCode.NONE) throw kafkaError(`group '${groupId}'`, group.errorCode);
  const committed = await fetchCommittedOffsets(coordinator, groupId, null);
  // Kafka answers "Dead" with no error for a group it does not know; with no offsets either, it is not there.
  if (group.groupState === 'Dead' && committed.size === 0) throw kafkaError(`group '${groupId}'`, ErrorCode.GROUP_ID_NOT_FOUND);
  const members = group.members.map((m) => {
    let assignment: Record<string, number[]> = {};
    if (group.protocolType === 'consumer') {
      try {
        assignment = Object.fromEntries(decodeAssignment(m.memberAssignment));
      } catch {
        // An assignment this CLI cannot read is shown as none rather than failing the whole describe.
      }
    }
    return { memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, assignment };
  });
  const owner = new Map<string, string>();
  for (const m of members) for (const [topic, ps] of Object.entries(m.assignment)) for (const p of ps) owner.set(`${topic}\0${p}`, m.memberId);
  const topics = new Set<string>([...committed.keys(), ...members.flatMap((m) => Object.keys(m.assignment))]);
  const offsets: DescribedGroup['offsets'] = [];
  for (const name of [...topics].sort()) {
    const partitions = new Set<number>([...(committed.get(name)?.keys() ?? [])]);
    for (const m of members) for (const p of m.assignment[name] ?? []) partitions.add(p);
    const sorted = [...partitions].sort((a, b) => a - b);
    let ends = new Map<number, bigint>();
    try {
      const topic = await ctx.client.topic(name);
      ends = new Map([...(await listOffsets(ctx.client, topic, sorted, LATEST))].map(([p, o]) => [p, o.offset]));
    } catch (error) {
      // A deleted topic can still have committed offsets; show them without an end.
      if (!(error instanceof CliError) || error.kafkaError !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    }
    for (const partition of sorted) {
      const c = committed.get(name)?.get(partition) ?? null;
      const end = ends.get(partition) ?? null;
      offsets.push({ topic: name, partition, committed: c, end, lag: c !== null && end !== null ? end - c : null, memberId: owner.get(`${name}\0${partition}`) ?? null });
    }
  }
  return { groupId, state: group.groupState, protocolType: group.protocolType, protocol: group.protocolData, members, offsets };
}
