import { ApiKey } from '../../protocol/api-keys.ts';
import type { Encodable } from '../../protocol/codec/index.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { FetchRequest, FetchResponse } from '../../protocol/messages/index.ts';
import type { TopicRecord } from '../../services/cluster/topic-registry.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { errorCodeFor } from '../dispatch.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
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
 * Fetch 4–17. v4 is the floor on purpose: v0–3 can only carry message format v0/v1 (magic 0/1) record
 * sets, and kafscale stores and serves v2 record batches only (older formats get
 * UNSUPPORTED_FOR_MESSAGE_FORMAT on produce), so an older Fetch could not be answered. Any broker serves any partition from committed data (tail, cache, object store). Long
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

/** Partitions of one Fetch read at once: a cold fetch of many partitions costs about one GET's latency per 8 partitions, not one per partition. */
export const FETCH_READ_CONCURRENCY = 8;

/** One partition's read outcome, before the response's byte budget is applied. */
class PartitionRead {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer[];
  /** Caught up (no data past the fetch offset): a long poll waits on this partition. */
  caughtUp: boolean;

  constructor(errorCode: number, highWatermark: number, logStartOffset: number, records: Buffer[], caughtUp: boolean) {
    this.errorCode = errorCode;
    this.highWatermark = highWatermark;
    this.logStartOffset = logStartOffset;
    this.records = records;
    this.caughtUp = caughtUp;
  }
}

async function readAll(wanted: readonly Wanted[], request: FetchRequest, context: RequestContext): Promise<{ responses: TopicResponse[]; bytes: number; readable: Wanted[] }> {
  const totalBytes = Math.max(request.maxBytes, 0);
  const reads = await readConcurrently(wanted, totalBytes, context);
  const responses: TopicResponse[] = [];
  const readable: Wanted[] = [];
  let budget = totalBytes;
  let bytes = 0;
  let current: { topic: string; topicId: string; partitions: PartitionResponse[] } | null = null;
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i] as Wanted;
    const read = reads[i] as PartitionRead;
    if (current === null || current.topic !== w.topicName || current.topicId !== w.topicId) {
      current = { topic: w.topicName, topicId: w.topicId, partitions: [] };
      responses.push(current);
    }
    // The response's MaxBytes in request order; KIP-74: its first batch is returned whole even when larger.
    let kept = 0;
    let keptBytes = 0;
    for (const batch of read.records) {
      if (bytes + keptBytes > 0 && keptBytes + batch.length > budget) break;
      kept++;
      keptBytes += batch.length;
    }
    if (kept < read.records.length) read.records.length = kept;
    budget -= keptBytes;
    bytes += keptBytes;
    if (read.caughtUp) readable.push(w);
    current.partitions.push(partitionData(w.partition, read.errorCode, read.highWatermark, read.logStartOffset, read.records));
  }
  return { responses, bytes, readable };
}

/** Reads every wanted partition, FETCH_READ_CONCURRENCY at a time; results in request order, never a rejection. */
function readConcurrently(wanted: readonly Wanted[], totalBytes: number, context: RequestContext): Promise<PartitionRead[]> {
  const limit = new ConcurrencyLimit(FETCH_READ_CONCURRENCY);
  const progress: ReadProgress = { totalBytes, readBytes: 0, failures: 0 };
  return Promise.all(wanted.map((w) => limit.run(() => readPartition(w, context, progress))));
}

interface ReadProgress {
  readonly totalBytes: number;
  /** Bytes read by the reads finished so far (any order): later reads ask for less; assembly trims in order. */
  readBytes: number;
  failures: number;
}

/**
 * One partition: a failing read (object store or metadata store fault) becomes that partition's error
 * code; the other partitions of the Fetch are still answered (DESIGN: per-partition codes).
 */
async function readPartition(w: Wanted, context: RequestContext, progress: ReadProgress): Promise<PartitionRead> {
  const problem = check(w, context);
  if (problem !== ErrorCode.NONE) return new PartitionRead(problem, -1, -1, [], false);
  const topic = w.topic as TopicRecord;
  const logs = context.services.logs;
  const maxBytes = Math.min(w.partitionMaxBytes, progress.totalBytes - progress.readBytes);
  try {
    if (maxBytes <= 0) {
      const offsets = await logs.offsets(topic.id, w.partition);
      return new PartitionRead(ErrorCode.NONE, offsets.highWatermark, offsets.logStartOffset, [], false);
    }
    const result = await logs.read(topic.id, w.partition, w.fetchOffset, maxBytes, context.signal);
    progress.readBytes += result.bytes;
    const caughtUp = result.errorCode === ErrorCode.NONE && result.bytes === 0;
    return new PartitionRead(result.errorCode, result.highWatermark, result.logStartOffset, result.records, caughtUp);
  } catch (error) {
    const { errorCode } = errorCodeFor(error);
    // Once per request, not per partition: a store outage would otherwise log every partition of every fetch.
    if (progress.failures++ === 0 && !context.signal.aborted) {
      context.log.warn({ err: error, topic: w.topicName, partition: w.partition, errorCode }, 'fetch read failed; that partition is answered with an error code');
    }
    return new PartitionRead(errorCode, -1, -1, [], false);
  }
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
    // A wait that fails (metadata store fault) ends the wait: the next read answers that partition's error.
    await Promise.race(partitions.map((w) => context.services.logs.waitForData((w.topic as TopicRecord).id, w.partition, w.fetchOffset, signal).catch(() => true)));
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
