/**
 * POST /api/v1/topics/:name/messages: produces one record (key, value, headers as UTF-8 text) the way a
 * Produce request would — WRITE on the topic, the partition's owner appends it, acknowledged once it is
 * durable in object storage and committed. A partition another broker owns is refused (409): the console
 * never opens a Kafka connection, to itself or to others.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { encodeRecordBatch } from '../protocol/records/index.ts';
import { Op, Resource, type ConsoleAccess } from './console-access.ts';
import type { ConsoleDeps } from './console-deps.ts';
import { ConsoleError, kafkaRefusal } from './console-error.ts';
import { field } from './console-http.ts';
import { visibleTopic } from './topics-view.ts';

let roundRobin = 0;

export async function produceTestMessage(deps: ConsoleDeps, access: ConsoleAccess, name: string, body: Record<string, unknown>): Promise<{ partition: number; offset: number }> {
  const topic = visibleTopic(deps, access, name);
  access.require(Op.WRITE, Resource.TOPIC, name);
  const key = field.optionalString(body, 'key') ?? null;
  if (!('value' in body)) throw new ConsoleError(400, '"value" is required (a string, or null for a tombstone)');
  const value = field.optionalString(body, 'value') ?? null;
  const headers = parseHeaders(body.headers);
  let bytes = Buffer.byteLength(key ?? '') + Buffer.byteLength(value ?? '');
  for (const h of headers) bytes += Buffer.byteLength(h.key) + Buffer.byteLength(h.value ?? '');
  if (bytes > deps.maxBytes) throw new ConsoleError(413, `the message is ${bytes} bytes; the console produces at most ${deps.maxBytes} (KAFSCALE_CONSOLE_MAX_BYTES)`, 'MESSAGE_TOO_LARGE');
  const partition = field.optionalInteger(body, 'partition', 0) ?? roundRobin++ % topic.partitions;
  if (partition >= topic.partitions) throw new ConsoleError(404, `topic '${name}' has no partition ${partition} (it has ${topic.partitions})`, 'UNKNOWN_TOPIC_OR_PARTITION');
  const { logs, assigner, leaders } = deps.services;
  const owned = logs.owned(topic.id, partition);
  if ((owned === undefined || owned.status !== 'active') && (await assigner.ensureOwned(topic.id, partition)) === null) {
    const leader = leaders.leaderOf(topic.id, partition).brokerId;
    throw new ConsoleError(409, `partition ${partition} of '${name}' is owned by broker ${leader}; produce with a Kafka client or from that broker's console`, 'NOT_LEADER_OR_FOLLOWER');
  }
  const batch = encodeRecordBatch({ records: [{ key, value, headers, timestamp: BigInt(Date.now()) }] });
  const result = await logs.append(topic, partition, [batch]);
  if (result.errorCode !== ErrorCode.NONE) throw kafkaRefusal(result.errorCode, result.errorMessage);
  deps.log.info({ topic: name, partition, offset: result.baseOffset, principal: access.caller.principal }, 'console produced a test message');
  return { partition, offset: result.baseOffset };
}

function parseHeaders(value: unknown): { key: string; value: string | null }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConsoleError(400, '"headers" must be a list of { "key", "value" }');
  return value.map((h: unknown, i) => {
    if (typeof h !== 'object' || h === null || typeof (h as { key?: unknown }).key !== 'string') throw new ConsoleError(400, `headers[${i}].key must be a string`);
    const v = (h as { value?: unknown }).value;
    if (v !== undefined && v !== null && typeof v !== 'string') throw new ConsoleError(400, `headers[${i}].value must be a string or null`);
    return { key: (h as { key: string }).key, value: (v as string | null | undefined) ?? null };
  });
}
