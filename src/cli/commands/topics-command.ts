/**
 * `kafscale topics list|describe|create|delete|alter` over Metadata, CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, IncrementalAlterConfigs and (for offsets) ListOffsets.
 */
import type { Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { CliError, kafkaError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import type { MetadataTopic } from '../kafka-client.ts';
import { listOffsets } from '../partition-offsets.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

const RESOURCE_TOPIC = 2;
const OP_SET = 0;
/** DescribeConfigs v1+ reports defaults through configSource (isDefault is v0 only). */
const SOURCE_DEFAULT = 5;
const OP_DELETE = 1;
const CONFIG_SOURCES: Readonly<Record<number, string>> = {
  0: 'unknown', 1: 'dynamic-topic', 2: 'dynamic-broker', 3: 'dynamic-default-broker', 4: 'static-broker', 5: 'default', 6: 'dynamic-broker-logger',
};

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseConfigPairs(pairs: readonly string[]): { name: string; value: string }[] {
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`bad config '${pair}'`, 'use --config name=value, e.g. --config retention.ms=86400000');
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1) };
  });
}

export function parseCount(value: string, what: string, min = 0): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || value.trim() === '') throw usageError(`${what} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function registerTopicsCommand(program: Command, run: Run): void {
  const topics = program.command('topics').description('list, describe, create, delete and alter topics');

  topics.command('list').description('list the topics of the cluster')
    .action(run(async (ctx) => {
      const metadata = await ctx.client.metadata(null);
      const rows = metadata.topics
        .filter((t) => t.name !== null)
        .map((t) => ({ name: t.name!, partitions: t.partitions.length, topicId: t.topicId, internal: t.isInternal }))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (ctx.out.json) return ctx.out.data(rows);
      ctx.out.table([
        { header: 'TOPIC', value: (r) => r.name },
        { header: 'PARTITIONS', value: (r) => r.partitions, right: true },
        { header: 'TOPIC ID', value: (r) => r.topicId },
      ], rows);
    }));

  topics.command('describe').description('partitions (leader, epoch, offsets) and settings of topics')
    .argument('<topic...>', 'topic names')
    .option('--all-configs', 'show every setting, not only the ones set on the topic')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [names, opts] = args as [string[], { allConfigs?: boolean }];
      const described = [];
      for (const name of names) described.push(await describeTopic(ctx, name, opts.allConfigs === true));
      if (ctx.out.json) return ctx.out.data(described);
      described.forEach((topic, i) => {
        if (i > 0) ctx.out.line('');
        ctx.out.line(`Topic: ${topic.name}  TopicId: ${topic.topicId}  Partitions: ${topic.partitions.length}`);
        ctx.out.table([
          { header: 'PARTITION', value: (p) => p.partition, right: true },
          { header: 'LEADER', value: (p) => p.leader, right: true },
          { header: 'EPOCH', value: (p) => p.leaderEpoch, right: true },
          { header: 'START', value: (p) => p.startOffset, right: true },
          { header: 'END', value: (p) => p.endOffset, right: true },
        ], topic.partitions);
        if (topic.configs.length > 0) {
          ctx.out.line('');
          ctx.out.table([
            { header: 'CONFIG', value: (c) => c.name },
            { header: 'VALUE', value: (c) => (c.sensitive ? '(sensitive)' : c.value) },
            { header: 'SOURCE', value: (c) => c.source },
          ], topic.configs);
        }
      });
    }));

  topics.command('create').description('create a topic')
    .argument('<topic>', 'topic name')
    .option('-p, --partitions <n>', 'number of partitions (default: the broker\'s default)')
    .option('-r, --replication-factor <n>', 'replication factor (default: the broker\'s default)')
    .option('-c, --config <name=value>', 'a topic setting (repeatable)', collect, [])
    .option('--if-not-exists', 'succeed when the topic already exists')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [name, opts] = args as [string, { partitions?: string; replicationFactor?: string; config: string[]; ifNotExists?: boolean }];
      const partitions = opts.partitions === undefined ? -1 : parseCount(opts.partitions, '--partitions', 1);
      const replicationFactor = opts.replicationFactor === undefined ? -1 : parseCount(opts.replicationFactor, '--replication-factor', 1);
      const configs = parseConfigPairs(opts.config);
      const connection = await ctx.client.any();
      const { body } = await connection.request(ApiKey.CreateTopics, {
        topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs }],
        timeoutMs: ctx.options.timeoutMs,
        validateOnly: false,
      });
      const result = body.topics.find((t) => t.name === name);
      if (result === undefined) throw new CliError(`the broker did not answer for topic '${name}'`);
      if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && opts.ifNotExists === true) {
        if (ctx.out.json) return ctx.out.data({ name, created: false });
        return ctx.out.line(`Topic ${name} already exists`);
      }
      if (result.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}'`, result.errorCode, result.errorMessage);
      // CreateTopics v5+ reports what was created; older versions leave -1, so ask Metadata.
      const created = result.numPartitions > 0 ? result : { ...result, numPartitions: (await ctx.client.topic(name)).partitions.length };
      if (ctx.out.json) {
        return ctx.out.data({ name, created: true, topicId: created.topicId, partitions: created.numPartitions, replicationFactor: created.replicationFactor });
      }
      ctx.out.line(`Created topic ${name} with ${created.numPartitions} partition${created.numPartitions === 1 ? '' : 's'}`);
    }));

  topics.command('delete').description('delete topics and their data')
    .argument('<topic...>', 'topic names')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [names] = args as [string[]];
      const connection = await ctx.client.any();
      const { body } = await connection.request(ApiKey.DeleteTopics, {
        // v6+ names topics in `topics`, older versions in `topicNames`; the codec writes the one the version has.
        topics: names.map((name) => ({ name, topicId: '00000000-0000-0000-0000-000000000000' })),
        topicNames: names,
        timeoutMs: ctx.options.timeoutMs,
      });
      const results = names.map((name) => {
        const r = body.responses.find((candidate) => candidate.name === name);
        return { name, errorCode: r?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: r?.errorMessage ?? null };
      });
      const deleted = results.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => r.name);
      if (ctx.out.json) ctx.out.data({ deleted, failed: results.filter((r) => r.errorCode !== ErrorCode.NONE).map((r) => r.name) });
      else for (const name of deleted) ctx.out.line(`Deleted topic ${name}`);
      const failure = results.find((r) => r.errorCode !== ErrorCode.NONE);
      if (failure !== undefined) throw kafkaError(`topic '${failure.name}'`, failure.errorCode, failure.errorMessage);
    }));

  topics.command('alter').description('add partitions or change settings of a topic')
    .argument('<topic>', 'topic name')
    .option('-p, --partitions <n>', 'new (larger) partition count')
    .option('-c, --config <name=value>', 'set a topic setting (repeatable)', collect, [])
    .option('--delete-config <name>', 'reset a topic setting to its default (repeatable)', collect, [])
    .action(run(async (ctx, ...args: unknown[]) => {
      const [name, opts] = args as [string, { partitions?: string; config: string[]; deleteConfig: string[] }];
      const sets = parseConfigPairs(opts.config);
      if (opts.partitions === undefined && sets.length === 0 && opts.deleteConfig.length === 0) {
        throw usageError('nothing to alter', 'pass --partitions, --config name=value or --delete-config name');
      }
      const connection = await ctx.client.any();
      const changes: string[] = [];
      if (opts.partitions !== undefined) {
        const count = parseCount(opts.partitions, '--partitions', 1);
        const { body } = await connection.request(ApiKey.CreatePartitions, {
          topics: [{ name, count, assignments: null }],
          timeoutMs: ctx.options.timeoutMs,
          validateOnly: false,
        });
        const result = body.results.find((r) => r.name === name);
        if (result === undefined) throw new CliError(`the broker did not answer for topic '${name}'`);
        if (result.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}'`, result.errorCode, result.errorMessage);
        changes.push(`partitions=${count}`);
      }
      if (sets.length > 0 || opts.deleteConfig.length > 0) {
        const { body } = await connection.request(ApiKey.IncrementalAlterConfigs, {
          resources: [{
            resourceType: RESOURCE_TOPIC,
            resourceName: name,
            configs: [
              ...sets.map((c) => ({ name: c.name, configOperation: OP_SET, value: c.value })),
              ...opts.deleteConfig.map((key) => ({ name: key, configOperation: OP_DELETE, value: null })),
            ],
          }],
          validateOnly: false,
        });
        const result = body.responses[0];
        if (result === undefined) throw new CliError(`the broker did not answer for topic '${name}'`);
        if (result.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}'`, result.errorCode, result.errorMessage);
        changes.push(...sets.map((c) => `${c.name}=${c.value}`), ...opts.deleteConfig.map((key) => `${key} (default)`));
      }
      if (ctx.out.json) return ctx.out.data({ name, altered: true, changes });
      ctx.out.line(`Altered topic ${name}: ${changes.join(', ')}`);
    }));
}

interface DescribedTopic {
  name: string;
  topicId: string;
  partitions: { partition: number; leader: number; leaderEpoch: number; startOffset: bigint | null; endOffset: bigint | null }[];
  configs: { name: string; value: string | null; source: string; sensitive: boolean; readOnly: boolean }[];
}

async function describeTopic(ctx: CommandContext, name: string, allConfigs: boolean): Promise<DescribedTopic> {
  const topic = await ctx.client.topic(name);
  const partitions = [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
  const indexes = partitions.map((p) => p.partitionIndex);
  const [start, end] = await Promise.all([offsetsIfServed(ctx, topic, indexes, -2n), offsetsIfServed(ctx, topic, indexes, -1n)]);
  return {
    name,
    topicId: topic.topicId,
    partitions: partitions.map((p) => ({
      partition: p.partitionIndex,
      leader: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      startOffset: start?.get(p.partitionIndex) ?? null,
      endOffset: end?.get(p.partitionIndex) ?? null,
    })),
    configs: await describeConfigs(ctx, name, allConfigs),
  };
}

/** Offsets are a bonus in `describe`: a broker without ListOffsets still describes its topics. */
async function offsetsIfServed(ctx: CommandContext, topic: MetadataTopic, partitions: number[], timestamp: bigint): Promise<Map<number, bigint> | null> {
  const connection = await ctx.client.any();
  if (!connection.serves(ApiKey.ListOffsets) || partitions.length === 0) return null;
  const result = await listOffsets(ctx.client, topic, partitions, timestamp);
  return new Map([...result].map(([p, o]) => [p, o.offset]));
}

async function describeConfigs(ctx: CommandContext, name: string, all: boolean): Promise<DescribedTopic['configs']> {
  const connection = await ctx.client.any();
  if (!connection.serves(ApiKey.DescribeConfigs)) return [];
  const { body } = await connection.request(ApiKey.DescribeConfigs, {
    resources: [{ resourceType: RESOURCE_TOPIC, resourceName: name, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  const result = body.results[0];
  if (result === undefined) return [];
  if (result.errorCode !== ErrorCode.NONE) throw kafkaError(`topic '${name}'`, result.errorCode, result.errorMessage);
  return result.configs
    .filter((c) => all || !(c.isDefault || c.configSource === SOURCE_DEFAULT))
    .map((c) => ({ name: c.name, value: c.value, source: CONFIG_SOURCES[c.configSource] ?? String(c.configSource), sensitive: c.isSensitive, readOnly: c.readOnly }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
