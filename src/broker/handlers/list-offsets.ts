import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ListOffsetsResponse } from '../../protocol/messages/index.ts';
import type { OffsetQuery } from '../../services/log/log-service.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { errorCodeFor } from '../dispatch.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import { leaderEpochError } from './leader-epoch.ts';

type PartitionResponse = ListOffsetsResponse['topics'][number]['partitions'][number];

/** Kafka's special ListOffsets timestamps. */
const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n; // KIP-734
const EARLIEST_LOCAL = -4n; // KIP-405: no tiering here, the local log is the whole log
const LATEST_TIERED = -5n; // KIP-1005: nothing is tiered, so there is no such offset

/** ListOffsets 1–10: earliest, latest, max timestamp, and the first offset with timestamp ≥ t. */
export const listOffsetsApi = defineApi({
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 10,
  async handle(request, context) {
    const lookups: Promise<PartitionResponse>[][] = [];
    const limit = new ConcurrencyLimit(LOOKUP_CONCURRENCY);
    for (const t of request.topics) {
      if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, t.name)) {
        lookups.push(t.partitions.map((p) => Promise.resolve(failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED))));
        continue;
      }
      lookups.push(t.partitions.map((p) => limit.run(() => guardedLookup(t.name, p.partitionIndex, p.timestamp, p.currentLeaderEpoch, context))));
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
async function guardedLookup(topicName: string, partition: number, timestamp: bigint, currentLeaderEpoch: number, context: RequestContext): Promise<PartitionResponse> {
  try {
    return await lookup(topicName, partition, timestamp, currentLeaderEpoch, context);
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
  return {
    partitionIndex: partition,
    errorCode: result.errorCode,
    oldStyleOffsets: [],
    timestamp: BigInt(result.timestampMs),
    offset: BigInt(result.offset),
    leaderEpoch: result.leaderEpoch,
  };
}

function failed(partition: number, errorCode: number): PartitionResponse {
  return { partitionIndex: partition, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 };
}
