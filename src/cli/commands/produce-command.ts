/**
 * `kafscale produce <topic>`: one record per line from stdin or --file, optionally `key<sep>value`,
 * sent in batches to each partition's leader. Keyed records go where Kafka's default partitioner puts
 * them (murmur2); unkeyed records fill one partition's batch at a time, round robin over partitions.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeRecordBatch, type RecordInput } from '../../protocol/records/index.ts';
import { CliError, kafkaError, usageError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import type { MetadataTopic } from '../kafka-client.ts';
import { partitionForKey } from '../murmur2.ts';
import { collect, parseCount } from './topics-command.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

interface ProduceOptions {
  file?: string;
  keySeparator?: string;
  partition?: string;
  acks: string;
  batchSize: string;
  header: string[];
  compression: string;
}

interface PartitionResult {
  partition: number;
  records: number;
  /** Offsets of the first and last record written (null with acks=0: the broker does not answer). */
  firstOffset: bigint | null;
  lastOffset: bigint | null;
}

/** A batch also closes at this size, so one Produce request stays far below any broker's limit. */
const MAX_BATCH_BYTES = 512 * 1024;

export function registerProduceCommand(program: Command, run: Run): void {
  program.command('produce').description('write records to a topic: one line = one record (stdin or --file)')
    .argument('<topic>', 'topic name')
    .option('-f, --file <path>', 'read lines from this file instead of stdin')
    .option('-k, --key-separator <sep>', "split each line into key and value at the first <sep> (e.g. ':')")
    .option('-p, --partition <n>', 'write every record to this partition (default: by key, else round robin)')
    .option('--acks <acks>', 'acknowledgements to wait for: all (-1), 1 or 0 (fire and forget)', 'all')
    .option('--batch-size <n>', 'records per batch', '1000')
    .option('-H, --header <name=value>', 'a header added to every record (repeatable)', collect, [])
    .option('--compression <codec>', 'none, gzip or zstd', 'none')
    .action(run(async (ctx, ...args: unknown[]) => {
      const [topicName, opts] = args as [string, ProduceOptions];
      const acks = parseAcks(opts.acks);
      const batchSize = parseCount(opts.batchSize, '--batch-size', 1);
      if (opts.compression !== 'none' && opts.compression !== 'gzip' && opts.compression !== 'zstd') {
        throw usageError(`--compression must be none, gzip or zstd, got '${opts.compression}'`);
      }
      const compression = opts.compression;
      const headers = opts.header.map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw usageError(`bad header '${pair}'`, 'use --header name=value');
        return { key: pair.slice(0, eq), value: pair.slice(eq + 1) };
      });
      const separator = opts.keySeparator;
      if (separator === '') throw usageError('--key-separator is empty');

      const topic = await ctx.client.topic(topicName);
      const partitionCount = topic.partitions.length;
      const fixedPartition = opts.partition === undefined ? null : parseCount(opts.partition, '--partition', 0);
      if (fixedPartition !== null && !topic.partitions.some((p) => p.partitionIndex === fixedPartition)) {
        throw kafkaError(`topic '${topicName}' partition ${fixedPartition}`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      // Fail before reading input when the broker cannot take records at all.
      (await ctx.client.leader(topic, fixedPartition ?? topic.partitions[0]?.partitionIndex ?? 0)).require(ApiKey.Produce);

      const pending = new Map<number, RecordInput[]>();
      const pendingBytes = new Map<number, number>();
      const results = new Map<number, PartitionResult>();
      let stickyPartition = 0;
      let total = 0;
      const flush = async (partition: number): Promise<void> => {
        const records = pending.get(partition);
        if (records === undefined || records.length === 0) return;
        pending.delete(partition);
        pendingBytes.delete(partition);
        const baseOffset = await sendBatch(ctx, topic, partition, records, acks, compression);
        const result = results.get(partition) ?? { partition, records: 0, firstOffset: null, lastOffset: null };
        result.records += records.length;
        if (baseOffset !== null) {
          result.firstOffset ??= baseOffset;
          result.lastOffset = baseOffset + BigInt(records.length - 1);
        }
        results.set(partition, result);
        ctx.out.progress(`produced ${total} records`);
      };

      let lineNumber = 0;
      for await (const line of readLines(opts.file, ctx.stdin)) {
        lineNumber++;
        let key: string | null = null;
        let value = line;
        if (separator !== undefined) {
          const at = line.indexOf(separator);
          if (at === -1) {
            throw new CliError(`line ${lineNumber} has no key separator '${separator}'`, { hint: 'write key<sep>value on every line, or leave out --key-separator' });
          }
          key = line.slice(0, at);
          value = line.slice(at + separator.length);
        }
        let partition: number;
        if (fixedPartition !== null) partition = fixedPartition;
        else if (key !== null) partition = partitionForKey(Buffer.from(key), partitionCount);
        else partition = stickyPartition;
        const batch = pending.get(partition) ?? [];
        batch.push({ key, value, headers });
        pending.set(partition, batch);
        const bytes = (pendingBytes.get(partition) ?? 0) + Buffer.byteLength(value) + (key === null ? 0 : Buffer.byteLength(key));
        pendingBytes.set(partition, bytes);
        total++;
        if (batch.length >= batchSize || bytes >= MAX_BATCH_BYTES) {
          await flush(partition);
          if (key === null && fixedPartition === null) stickyPartition = (stickyPartition + 1) % partitionCount;
        }
      }
      for (const partition of [...pending.keys()]) await flush(partition);

      const partitions = [...results.values()].sort((a, b) => a.partition - b.partition);
      if (ctx.out.json) return ctx.out.data({ topic: topicName, records: total, acks, partitions });
      if (total === 0) return ctx.out.line(`No records produced to ${topicName} (the input was empty)`);
      const where = partitions.map((p) => (p.firstOffset === null ? `${p.partition}` : `${p.partition}@${p.firstOffset}-${p.lastOffset}`)).join(', ');
      ctx.out.line(`Produced ${total} record${total === 1 ? '' : 's'} to ${topicName} (partition@offsets: ${where})`);
    }));
}

function parseAcks(value: string): number {
  if (value === 'all' || value === '-1') return -1;
  if (value === '1') return 1;
  if (value === '0') return 0;
  throw usageError(`--acks must be all, -1, 1 or 0, got '${value}'`);
}

function readLines(file: string | undefined, stdin: Readable): AsyncIterable<string> {
  const input = file === undefined ? stdin : createReadStream(file);
  if (file !== undefined) {
    input.once('error', () => {});
  }
  return (async function* lines() {
    try {
      yield* createInterface({ input, crlfDelay: Infinity });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(`cannot read ${file ?? 'stdin'}: ${code ?? (error as Error).message}`, { hint: 'check the path given to --file' });
    }
  })();
}

/** Sends one batch to the partition's leader; resolves with its base offset (null for acks=0). */
async function sendBatch(
  ctx: CommandContext, topic: MetadataTopic, partition: number, records: readonly RecordInput[], acks: number, compression: 'none' | 'gzip' | 'zstd',
): Promise<bigint | null> {
  const name = topic.name ?? '';
  const batch = encodeRecordBatch({ records, compression });
  const connection = await ctx.client.leader(topic, partition);
  const request = {
    transactionalId: null,
    acks,
    timeoutMs: ctx.options.timeoutMs,
    topicData: [{ name, partitionData: [{ index: partition, records: batch }] }],
  };
  if (acks === 0) {
    connection.sendOneWay(ApiKey.Produce, request);
    return null;
  }
  const { body } = await connection.request(ApiKey.Produce, request);
  const answer = body.responses.find((t) => t.name === name)?.partitionResponses.find((p) => p.index === partition);
  if (answer === undefined) throw new CliError(`the broker did not answer for topic '${name}' partition ${partition}`);
  if (answer.errorCode !== ErrorCode.NONE) {
    const detail = answer.errorMessage ?? answer.recordErrors[0]?.batchIndexErrorMessage ?? null;
    throw kafkaError(`topic '${name}' partition ${partition}`, answer.errorCode, detail);
  }
  return answer.baseOffset;
}
