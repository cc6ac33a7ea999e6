import { ApiKey } from '../../protocol/api-keys.ts';
import type { Encodable } from '../../protocol/codec/index.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { FetchRequest, FetchResponse } from '../../protocol/messages/index.ts';
import type { TopicRecord } from '../../services/cluster/topic-registry.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { leaderEpochError } from './leader-epoch.ts';
import { ZERO_UUID } from './metadata.ts';

type TopicResponse = Encodable<FetchResponse['responses'][number]>;
type PartitionResponse = Encodable<FetchResponse['responses'][number]['partitions'][number]>;

/** Kafka's cap on a long poll, so a client cannot park a request for ever. */
const MAX_WAIT_CAP_MS = 60_000;

interface Wanted {
  readonly topic: TopicRecord | undefined;
  readonly topicName: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
  /** READ on the topic (Kafka checks it before existence for names, after it for topic ids). */
  readonly authorized: boolean;
}

/**
 * Fetch 4–17. Any broker serves any partition from committed data (tail, cache, object store). Long
 * polls wait on data notifications (local commit or metadata watch), never on polling timers. Fetch
 * sessions (KIP-227) are not created: every response carries session id 0, which tells clients to keep
 * sending full fetch requests.
 */
export const fetchApi = defineApi({
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 17,
  async handle(request, context) {
    if (request.sessionId !== 0) {
      // We never hand out sessions, so an incremental fetch names one we do not know.
      return topLevelError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    }
    const wanted = resolve(request, context);
    const maxWaitMs = Math.min(Math.max(request.maxWaitMs, 0), MAX_WAIT_CAP_MS);
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const { responses, bytes, readable } = await readAll(wanted, request, context);
      const remainingMs = deadline - Date.now();
      if (bytes >= request.minBytes || remainingMs <= 0 || context.signal.aborted || readable.length === 0) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses, nodeEndpoints: [] };
      }
      await waitForAny(readable, remainingMs, context);
    }
  },
  errorResponse(_request, errorCode) {
    return topLevelError(errorCode);
  },
});

function topLevelError(errorCode: number): Encodable<FetchResponse> {
  return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [], nodeEndpoints: [] };
}

function resolve(request: FetchRequest, context: RequestContext): Wanted[] {
  const { topics } = context.services;
  const byIds = context.apiVersion >= 13;
  const wanted: Wanted[] = [];
  for (const t of request.topics) {
    const topic = byIds ? topics.getById(t.topicId) : topics.get(t.topic);
    const name = byIds ? topic?.name : t.topic;
    const authorized = name === undefined || allowed(context, Op.READ, Resource.TOPIC, name);
    for (const p of t.partitions) {
      wanted.push({
        topic,
        topicName: t.topic,
        topicId: byIds ? t.topicId : (topic?.id ?? ZERO_UUID),
        partition: p.partition,
        fetchOffset: Number(p.fetchOffset),
        partitionMaxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch,
        authorized,
      });
    }
  }
  return wanted;
}

async function readAll(wanted: readonly Wanted[], request: FetchRequest, context: RequestContext): Promise<{ responses: TopicResponse[]; bytes: number; readable: Wanted[] }> {
  const { services } = context;
  const responses: TopicResponse[] = [];
  const readable: Wanted[] = [];
  let budget = Math.max(request.maxBytes, 0);
  let bytes = 0;
  let current: { topic: string; topicId: string; partitions: PartitionResponse[] } | null = null;
  for (const w of wanted) {
    if (current === null || current.topic !== w.topicName || current.topicId !== w.topicId) {
      current = { topic: w.topicName, topicId: w.topicId, partitions: [] };
      responses.push(current);
    }
    const problem = check(w, context);
    if (problem !== ErrorCode.NONE) {
      current.partitions.push(partitionError(w.partition, problem));
      continue;
    }
    const topic = w.topic as TopicRecord;
    // KIP-74: the first batch of the response is returned whole even when larger than the limits.
    const maxBytes = bytes === 0 ? Math.max(1, Math.min(w.partitionMaxBytes, budget)) : Math.min(w.partitionMaxBytes, budget);
    if (maxBytes <= 0) {
      const offsets = await services.logs.offsets(topic.id, w.partition);
      current.partitions.push(partitionData(w.partition, ErrorCode.NONE, offsets.highWatermark, offsets.logStartOffset, []));
      continue;
    }
    const result = await services.logs.read(topic.id, w.partition, w.fetchOffset, maxBytes, context.signal);
    budget -= result.bytes;
    bytes += result.bytes;
    if (result.errorCode === ErrorCode.NONE && result.bytes === 0) readable.push(w);
    current.partitions.push(partitionData(w.partition, result.errorCode, result.highWatermark, result.logStartOffset, result.records));
  }
  return { responses, bytes, readable };
}

function check(w: Wanted, context: RequestContext): number {
  if (!w.authorized) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (w.topic === undefined) return context.apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (w.partition < 0 || w.partition >= w.topic.partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  return leaderEpochError(context.services, w.topic.id, w.partition, w.currentLeaderEpoch);
}

/** Resolves when any of the partitions gets data past its fetch offset, the time is up, or the connection closes. */
async function waitForAny(partitions: readonly Wanted[], timeoutMs: number, context: RequestContext): Promise<void> {
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, context.signal, AbortSignal.timeout(timeoutMs)]);
  try {
    await Promise.race(partitions.map((w) => context.services.logs.waitForData((w.topic as TopicRecord).id, w.partition, w.fetchOffset, signal)));
  } finally {
    controller.abort();
  }
}

function partitionData(partition: number, errorCode: number, highWatermark: number, logStartOffset: number, records: readonly Buffer[]): PartitionResponse {
  return {
    partitionIndex: partition,
    errorCode,
    highWatermark: BigInt(highWatermark),
    lastStableOffset: BigInt(highWatermark),
    logStartOffset: BigInt(logStartOffset),
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records,
  };
}

function partitionError(partition: number, errorCode: number): PartitionResponse {
  return partitionData(partition, errorCode, -1, -1, []);
}
