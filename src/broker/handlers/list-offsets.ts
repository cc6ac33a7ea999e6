import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/messages/index.ts';
import type { OffsetQuery } from '../../services/log/index.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { errorCodeFor } from '../dispatch.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import { leaderEpochError } from './leader-epoch.ts';

type PartitionResponse = ListOffsetsResponse['topics'][number]['partitions'][number];
type WantedPartition = ListOffsetsRequest['topics'][number]['partitions'][number];

/** Kafka's special ListOffsets timestamps. */
const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n; // KIP-734
const EARLIEST_LOCAL = -4n; // KIP-405: no tiering here, the local log is the whole log
const LATEST_TIERED = -5n; // KIP-1005: nothing is tiered, so there is no such offset

/**
 * ListOffsets 0–10: earliest, latest, max timestamp, and the first offset with timestamp ≥ t. v0 is the
 * old form (KIP-896 removed it in Kafka 4.0; deployed clients still send it): up to `maxNumOffsets`
 * segment start offsets before a time, answered in `oldStyleOffsets` (see legacyOffsets).
 */
export const listOffsetsApi = defineApi({
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 10,
  async handle(request, context) {
    const lookups: Promise<PartitionResponse>[][] = [];
    const limit = new ConcurrencyLimit(LOOKUP_CONCURRENCY);
    for (const t of request.topics) {
      if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, t.name)) {
        lookups.push(t.partitions.map((p) => Promise.resolve(failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED))));
        continue;
      }
      lookups.push(t.partitions.map((p) => limit.run(() => guardedLookup(t.name, p, context))));
    }
    const topics = [];
    for (let i = 0; i < request.topics.length; i++) {
      topics.push({ name: (request.topics[i] as (typeof request.topics)[number]).name, partitions: await Promise.all(lookups[i] as Promise<PartitionResponse>[]) });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, errorCode)) })),
    };
  },
});

/** Partitions looked up at once (a by-timestamp lookup may GET one object range). */
const LOOKUP_CONCURRENCY = 8;

/** One partition's store fault is that partition's error code, not the whole response's. */
async function guardedLookup(topicName: string, wanted: WantedPartition, context: RequestContext): Promise<PartitionResponse> {
  const partition = wanted.partitionIndex;
  try {
    return context.apiVersion === 0
      ? await legacyLookup(topicName, partition, wanted.timestamp, wanted.maxNumOffsets, context)
      : await lookup(topicName, partition, wanted.timestamp, wanted.currentLeaderEpoch, context);
  } catch (error) {
    const { errorCode } = errorCodeFor(error);
    context.log.warn({ err: error, topic: topicName, partition, errorCode }, 'ListOffsets lookup failed; that partition is answered with an error code');
    return failed(partition, errorCode);
  }
}

async function lookup(topicName: string, partition: number, timestamp: bigint, currentLeaderEpoch: number, context: RequestContext): Promise<PartitionResponse> {
  const { services } = context;
  const topic = services.topics.get(topicName);
  if (topic === undefined || partition < 0 || partition >= topic.partitions) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const epochError = leaderEpochError(services, topic.id, partition, currentLeaderEpoch);
  if (epochError !== ErrorCode.NONE) return failed(partition, epochError);
  if (timestamp === LATEST_TIERED) return { partitionIndex: partition, errorCode: ErrorCode.NONE, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 };
  let query: OffsetQuery;
  if (timestamp === LATEST) query = 'latest';
  else if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) query = 'earliest';
  else if (timestamp === MAX_TIMESTAMP) query = 'maxTimestamp';
  else if (timestamp >= 0n) query = { timestampMs: Number(timestamp) };
  else return failed(partition, ErrorCode.INVALID_REQUEST);
  const result = await services.logs.listOffsets(topic.id, partition, query);
  // Where a consumer starting from the beginning (or a time) will fetch next: a hint for read-ahead, for a
  // principal that may read the topic (DESCRIBE alone must not make the broker GET its data).
  if (
    query !== 'latest' &&
    query !== 'maxTimestamp' &&
    result.errorCode === ErrorCode.NONE &&
    result.offset >= 0 &&
    context.connection !== undefined &&
    services.authorizer.authorize(context, Op.READ, Resource.TOPIC, topicName)
  ) {
    services.logs.hintRead(context.connection.id, topic.id, partition, result.offset);
  }
  return {
    partitionIndex: partition,
    errorCode: result.errorCode,
    oldStyleOffsets: [],
    timestamp: BigInt(result.timestampMs),
    offset: BigInt(result.offset),
    leaderEpoch: result.leaderEpoch,
  };
}

/**
 * ListOffsets v0 (Kafka's legacyFetchOffsetsBefore): the log is a list of segments, each known by its
 * first offset and last-modified time, plus the log end offset stamped "now" when the last segment holds
 * data; the answer is up to maxNumOffsets of those offsets, newest first, starting at the last point whose
 * time is ≤ the timestamp (-1: the log end, -2: the log start). kafscale's log is one segment for this
 * purpose (its objects are not Kafka segments): its time is the log's largest record timestamp, so
 * `[logStart]` answers a timestamp at or after the newest record and `[]` one before it; an empty log
 * answers `[logEnd]` for any time.
 */
async function legacyLookup(topicName: string, partition: number, timestamp: bigint, maxNumOffsets: number, context: RequestContext): Promise<PartitionResponse> {
  const { services } = context;
  const topic = services.topics.get(topicName);
  if (topic === undefined || partition < 0 || partition >= topic.partitions) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const earliest = await services.logs.listOffsets(topic.id, partition, 'earliest');
  const latest = await services.logs.listOffsets(topic.id, partition, 'latest');
  for (const result of [earliest, latest]) if (result.errorCode !== ErrorCode.NONE) return failed(partition, result.errorCode);
  const points: { offset: number; timeMs: number }[] = [];
  if (latest.offset > earliest.offset) {
    const newest = await services.logs.listOffsets(topic.id, partition, 'maxTimestamp');
    points.push({ offset: earliest.offset, timeMs: newest.timestampMs }, { offset: latest.offset, timeMs: Date.now() });
  } else {
    points.push({ offset: latest.offset, timeMs: -1 });
  }
  let start = points.length - 1;
  if (timestamp === EARLIEST) start = 0;
  else if (timestamp !== LATEST) while (start >= 0 && (points[start] as { timeMs: number }).timeMs > timestamp) start--;
  const count = Math.max(0, Math.min(maxNumOffsets, start + 1));
  const offsets: bigint[] = [];
  for (let i = 0; i < count; i++) offsets.push(BigInt((points[start - i] as { offset: number }).offset));
  return { partitionIndex: partition, errorCode: ErrorCode.NONE, oldStyleOffsets: offsets, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
}

function failed(partition: number, errorCode: number): PartitionResponse {
  return { partitionIndex: partition, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 };
}
