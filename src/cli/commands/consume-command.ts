/**
 * `kafscale consume <topic>`: prints records from a start point (latest by default, --from-beginning,
 * --offset or --timestamp via ListOffsets) until --count records or --idle-timeout without records.
 * With --group it joins the group (committed offsets first, then the start point) and commits what it
 * printed.
 */
import { Option, type Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { kafkaError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { GroupMember } from '../group-member.ts';
import type { MetadataTopic } from '../kafka-client.ts';
import { EARLIEST, LATEST, listOffsets } from '../partition-offsets.ts';
import { RecordFetcher, type FetchedRecord } from '../record-fetcher.ts';
import { parseCount } from './topics-command.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

interface ConsumeOptions {
  partition?: string;
  fromBeginning?: boolean;
  offset?: string;
  timestamp?: string;
  count?: string;
  group?: string;
  format?: string;
  printKey?: boolean;
  keySeparator: string;
  idleTimeout?: string;
  maxWait: string;
}

type Start = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: bigint } | { kind: 'timestamp'; timestamp: bigint };

const HEARTBEAT_INTERVAL_MS = 3_000;
const SESSION_TIMEOUT_MS = 30_000;

export function registerConsumeCommand(program: Command, run: Run): void {
  program.command('consume').description('print records of a topic')
    .argument('<topic>', 'topic name')
    .option('-p, --partition <n>', 'read this partition only (default: all, or the group\'s assignment)')
    .addOption(new Option('--from-beginning', 'start at the earliest offset').conflicts(['offset', 'timestamp']))
    .addOption(new Option('--offset <n>', 'start at this offset').conflicts(['timestamp']))
    .option('--timestamp <time>', 'start at the first record at or after this time (ms since epoch or ISO 8601)')
    .option('-n, --count <n>', 'stop after this many records')
    .option('-g, --group <id>', 'consume as a member of this consumer group and commit offsets')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']))
    .option('--print-key', 'text format: print the key before the value')
    .option('--key-separator <sep>', 'text format: what goes between key and value', '\t')
    .option('--idle-timeout <ms>', 'stop when no record arrives for this long (default: wait forever)')
    .option('--max-wait <ms>', 'longest a fetch waits at the broker for records', '500')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [topicName, opts] = args as [string, ConsumeOptions];
      const count = opts.count === undefined ? null : parseCount(opts.count, '--count', 1);
      const idleTimeoutMs = opts.idleTimeout === undefined ? null : parseCount(opts.idleTimeout, '--idle-timeout', 1);
      const maxWaitMs = parseCount(opts.maxWait, '--max-wait', 0);
      const json = (opts.format ?? (ctx.out.json ? 'json' : 'text')) === 'json';
      const start = parseStart(opts);
      const onlyPartition = opts.partition === undefined ? null : parseCount(opts.partition, '--partition', 0);

      const connection = await ctx.client.any();
      for (const api of [ApiKey.ListOffsets, ApiKey.Fetch]) connection.require(api);
      const topic = await ctx.client.topic(topicName);
      if (onlyPartition !== null && !topic.partitions.some((p) => p.partitionIndex === onlyPartition)) {
        throw kafkaError(`topic '${topicName}' partition ${onlyPartition}`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      const member = opts.group === undefined
        ? null
        : new GroupMember(ctx.client, opts.group, [topicName], { sessionTimeoutMs: SESSION_TIMEOUT_MS, rebalanceTimeoutMs: SESSION_TIMEOUT_MS });

      let printed = 0;
      /** Next offset to commit per partition: one past the last record printed. */
      let consumed = new Map<number, bigint>();
      const print = (record: FetchedRecord): void => {
        if (json) {
          ctx.out.jsonLine({
            topic: topicName,
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key?.toString('utf8') ?? null,
            value: record.value?.toString('utf8') ?? null,
            headers: Object.fromEntries(record.headers.map((h) => [h.key, h.value?.toString('utf8') ?? null])),
          });
        } else {
          const value = record.value?.toString('utf8') ?? '';
          ctx.out.line(opts.printKey === true ? `${record.key?.toString('utf8') ?? ''}${opts.keySeparator}${value}` : value);
        }
      };

      const assign = async (): Promise<RecordFetcher> => {
        let partitions = topic.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b);
        let committed = new Map<number, bigint>();
        if (member !== null) {
          partitions = (await member.join()).get(topicName) ?? [];
          if (onlyPartition !== null) partitions = partitions.filter((p) => p === onlyPartition);
          committed = await member.committed(topicName, partitions);
        } else if (onlyPartition !== null) {
          partitions = [onlyPartition];
        }
        const positions = await startPositions(ctx, topic, partitions, start, committed);
        consumed = new Map(positions);
        return new RecordFetcher(ctx.client, topic, positions, { maxWaitMs, maxBytes: 8 * 1024 * 1024, partitionMaxBytes: 1024 * 1024 });
      };

      let fetcher = await assign();
      let lastRecordAt = Date.now();
      let lastHeartbeatAt = Date.now();
      try {
        while (count === null || printed < count) {
          if (fetcher.positions().size === 0 && member === null) break;
          const records = fetcher.positions().size === 0 ? await idle(maxWaitMs) : await fetcher.poll();
          for (const record of records) {
            if (count !== null && printed >= count) break;
            print(record);
            printed++;
            consumed.set(record.partition, record.offset + 1n);
          }
          if (records.length > 0) {
            lastRecordAt = Date.now();
            ctx.out.progress(`consumed ${printed} records`);
            if (member !== null) await member.commit(topicName, consumed);
          } else if (idleTimeoutMs !== null && Date.now() - lastRecordAt >= idleTimeoutMs) {
            break;
          }
          if (member !== null && Date.now() - lastHeartbeatAt >= HEARTBEAT_INTERVAL_MS) {
            lastHeartbeatAt = Date.now();
            if (!(await member.heartbeat())) fetcher = await assign();
          }
        }
        if (member !== null) await member.commit(topicName, consumed);
      } finally {
        if (member !== null) await member.leave().catch(() => {});
      }
      ctx.out.note(`Processed ${printed} record${printed === 1 ? '' : 's'}`);
    }));
}

function idle(ms: number): Promise<FetchedRecord[]> {
  return new Promise((resolve) => setTimeout(() => resolve([]), Math.max(ms, 100)));
}

function parseStart(opts: ConsumeOptions): Start {
  if (opts.fromBeginning === true) return { kind: 'earliest' };
  if (opts.offset !== undefined) {
    if (!/^\d+$/.test(opts.offset)) throw usageError(`--offset must be an offset (0 or more), got '${opts.offset}'`);
    return { kind: 'offset', offset: BigInt(opts.offset) };
  }
  if (opts.timestamp !== undefined) return { kind: 'timestamp', timestamp: parseTimestamp(opts.timestamp, '--timestamp') };
  return { kind: 'latest' };
}

export function parseTimestamp(value: string, what: string): bigint {
  if (/^\d+$/.test(value)) return BigInt(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw usageError(`${what} must be ms since epoch or an ISO 8601 time, got '${value}'`);
  return BigInt(ms);
}

/**
 * Where each partition starts: a group's committed offset wins (like a Kafka consumer), then the start
 * point; a timestamp after the last record means "from the end", as Kafka's tools do.
 */
async function startPositions(
  ctx: CommandContext, topic: MetadataTopic, partitions: number[], start: Start, committed: ReadonlyMap<number, bigint>,
): Promise<Map<number, bigint>> {
  const positions = new Map<number, bigint>();
  const open = partitions.filter((p) => {
    const offset = committed.get(p);
    if (offset !== undefined && start.kind !== 'offset' && start.kind !== 'timestamp') positions.set(p, offset);
    return !positions.has(p);
  });
  if (open.length === 0) return positions;
  if (start.kind === 'offset') {
    for (const p of open) positions.set(p, start.offset);
    return positions;
  }
  const timestamp = start.kind === 'earliest' ? EARLIEST : start.kind === 'latest' ? LATEST : start.timestamp;
  const found = await listOffsets(ctx.client, topic, open, timestamp);
  const missing = open.filter((p) => (found.get(p)?.offset ?? -1n) < 0n);
  const ends = missing.length > 0 ? await listOffsets(ctx.client, topic, missing, LATEST) : new Map();
  for (const p of open) {
    const offset = found.get(p)?.offset ?? -1n;
    positions.set(p, offset >= 0n ? offset : (ends.get(p)?.offset ?? 0n));
  }
  return positions;
}
