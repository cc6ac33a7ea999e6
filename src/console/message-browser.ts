/**
 * GET /api/v1/topics/:name/messages: records of one partition or all, from the earliest offset, the
 * latest `limit`, an offset or a timestamp — read through the same log service Fetch uses (committed
 * batches only), decoded, and bounded twice: at most `limit` records and at most `maxBytes` of keys,
 * values and headers per request (`truncated` says the byte bound stopped the read).
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { baseOffset, decodeRecordBatch, isControlBatch, lastOffsetDelta, type DecodedRecord } from '../protocol/records/index.ts';
import type { TopicRecord } from '../services/cluster/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError } from './console-error.ts';
import { queryInteger } from './console-http.ts';
import { visibleTopic } from './topics-view.ts';

export const MAX_BROWSE_LIMIT = 500;
const DEFAULT_LIMIT = 50;
const FROM = ['earliest', 'latest', 'offset', 'timestamp'] as const;
type From = (typeof FROM)[number];

export interface Encoded {
  readonly base64: string;
  /** The bytes as text when they are valid UTF-8. */
  readonly text: string | null;
}

interface Message {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Encoded | null;
  readonly value: Encoded | null;
  readonly headers: { key: string; value: Encoded | null }[];
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function encoded(bytes: Buffer | null): Encoded | null {
  if (bytes === null) return null;
  let text: string | null;
  try {
    text = UTF8.decode(bytes);
  } catch {
    text = null;
  }
  return { base64: bytes.toString('base64'), text };
}

interface Budget {
  bytesLeft: number;
  truncated: boolean;
}

export async function browseMessages(deps: ConsoleDeps, access: ConsoleAccess, name: string, query: URLSearchParams): Promise<unknown> {
  const topic = visibleTopic(deps, access, name);
  access.require(Op.READ, Resource.TOPIC, name);
  const from = (query.get('from') ?? 'latest') as From;
  if (!FROM.includes(from)) throw new ConsoleError(400, `query parameter "from" must be one of ${FROM.join(', ')} (got ${from})`);
  const limit = queryInteger(query, 'limit', DEFAULT_LIMIT, 1, MAX_BROWSE_LIMIT);
  const offset = from === 'offset' ? queryInteger(query, 'offset', -1, 0) : 0;
  if (from === 'offset' && offset < 0) throw new ConsoleError(400, 'from=offset needs the query parameter "offset"');
  const timestamp = from === 'timestamp' ? queryInteger(query, 'timestamp', -1, 0) : 0;
  if (from === 'timestamp' && timestamp < 0) throw new ConsoleError(400, 'from=timestamp needs the query parameter "timestamp" (epoch milliseconds)');
  const partitionParam = query.get('partition') ?? 'all';
  let partitions: number[];
  if (partitionParam === 'all') {
    partitions = Array.from({ length: topic.partitions }, (_, i) => i);
  } else {
    const p = queryInteger(query, 'partition', 0, 0);
    if (p >= topic.partitions) throw new ConsoleError(404, `topic '${name}' has no partition ${p} (it has ${topic.partitions})`, 'UNKNOWN_TOPIC_OR_PARTITION');
    partitions = [p];
  }
  const budget: Budget = { bytesLeft: deps.maxBytes, truncated: false };
  let messages: Message[] = [];
  for (const partition of partitions) {
    if (budget.truncated) break;
    const start = await startOffset(deps, topic, partition, from, limit, offset, timestamp);
    if (start !== null) messages.push(...(await readPartition(deps, topic, partition, start, limit, budget)));
  }
  if (partitions.length > 1) {
    messages.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset);
    messages = from === 'latest' ? messages.slice(-limit) : messages.slice(0, limit);
  }
  return { messages, truncated: budget.truncated };
}

async function startOffset(deps: ConsoleDeps, topic: TopicRecord, partition: number, from: From, limit: number, offset: number, timestamp: number): Promise<number | null> {
  const { logs } = deps.services;
  const { highWatermark, logStartOffset } = await logs.offsets(topic.id, partition);
  switch (from) {
    case 'earliest':
      return logStartOffset;
    case 'latest':
      return Math.max(logStartOffset, highWatermark - limit);
    case 'offset':
      return Math.min(Math.max(offset, logStartOffset), highWatermark);
    case 'timestamp': {
      const found = await logs.listOffsets(topic.id, partition, { timestampMs: timestamp });
      return found.errorCode !== ErrorCode.NONE || found.offset < 0 ? null : found.offset;
    }
  }
}

async function readPartition(deps: ConsoleDeps, topic: TopicRecord, partition: number, start: number, limit: number, budget: Budget): Promise<Message[]> {
  const out: Message[] = [];
  let position = start;
  while (out.length < limit && !budget.truncated) {
    const read = await deps.services.logs.read(topic.id, partition, position, Math.max(1024, budget.bytesLeft));
    if (read.errorCode !== ErrorCode.NONE || read.records.length === 0) break;
    let next = position;
    for (const batch of read.records) {
      if (isControlBatch(batch)) {
        next = Math.max(next, Number(baseOffset(batch)) + lastOffsetDelta(batch) + 1);
        continue;
      }
      for (const record of decodeRecordBatch(batch).records) {
        const recordOffset = Number(record.offset);
        next = Math.max(next, recordOffset + 1);
        if (recordOffset < position || out.length >= limit) continue;
        const bytes = recordBytes(record);
        if (bytes > budget.bytesLeft && (out.length > 0 || budget.bytesLeft < deps.maxBytes)) {
          budget.truncated = true;
          return out;
        }
        budget.bytesLeft -= bytes;
        out.push(toMessage(partition, record));
      }
    }
    if (next <= position) break;
    position = next;
    if (position >= read.highWatermark) break;
  }
  return out;
}

function recordBytes(record: DecodedRecord): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const h of record.headers) bytes += Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return bytes;
}

function toMessage(partition: number, record: DecodedRecord): Message {
  return {
    partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    key: encoded(record.key),
    value: encoded(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: encoded(h.value) })),
  };
}
