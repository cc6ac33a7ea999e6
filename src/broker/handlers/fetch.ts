import { ApiKey } from '../../protocol/api-keys.ts';
import type { Encodable } from '../../protocol/codec/index.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { FetchRequest, FetchResponse } from '../../protocol/messages/index.ts';
import type { TopicRecord } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import type { RequestContext } from '../broker-services.ts';
import { errorCodeFor } from '../dispatch.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { CachedPartition, FINAL_EPOCH, INITIAL_EPOCH, INVALID_SESSION_ID, nextEpoch, type FetchSession, type PartitionFetchState } from '../fetch-session-cache.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import { leaderEpochError } from './leader-epoch.ts';
import { ZERO_UUID } from '../../protocol/sentinel-values.ts';

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
  /** The partition's state in the session of an incremental fetch. */
  readonly cached?: CachedPartition;
}

/**
 * Fetch 4–17. v4 is the floor on purpose: v0–3 can only carry message format v0/v1 (magic 0/1) record
 * sets, and kafscale stores and serves v2 record batches only (older formats get
 * UNSUPPORTED_FOR_MESSAGE_FORMAT on produce), so an older Fetch could not be answered. Any broker serves any partition from committed data (tail, cache, object store). Long
 * polls wait on data notifications (local commit or metadata watch), never on polling timers. Fetch
 * sessions (KIP-227, v7+) as Kafka keeps them: see fetch-session-cache.ts and
 * docs/design/fetch-sessions.md.
 */
export const fetchApi = defineApi({
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 17,
  async handle(request, context) {
    const session = sessionFor(request, context);
    if (typeof session === 'number') return topLevelError(session);
    const wanted = session === null ? resolve(request, context) : resolveSession(session, context);
    const maxWaitMs = Math.min(Math.max(request.maxWaitMs, 0), MAX_WAIT_CAP_MS);
    const deadline = Date.now() + maxWaitMs;
    // Partitions this connection was told to start reading (ListOffsets) are read from now on, all at once.
    if (context.connection !== undefined) context.services.logs.startHintedReads(context.connection.id);
    for (;;) {
      const { reads, bytes, readable } = await readAll(wanted, request, context);
      const remainingMs = deadline - Date.now();
      if (bytes >= request.minBytes || remainingMs <= 0 || context.signal.aborted || readable.length === 0) {
        if (session !== null) return respondIncremental(session, wanted, reads);
        const sessionId = request.sessionEpoch === INITIAL_EPOCH ? createSession(request, wanted, reads, context) : INVALID_SESSION_ID;
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses: assemble(wanted, reads, null), nodeEndpoints: [] };
      }
      await waitForAny(readable, remainingMs, context);
    }
  },
  errorResponse(_request, errorCode) {
    return topLevelError(errorCode);
  },
});

function topLevelError(errorCode: number): Encodable<FetchResponse> {
  return { throttleTimeMs: 0, errorCode, sessionId: INVALID_SESSION_ID, responses: [], nodeEndpoints: [] };
}

/**
 * Kafka's FetchManager.newContext: null for a full fetch (sessionless, or one that creates a session
 * when it is answered), the session of an incremental fetch (updated by the request), or the error
 * code that answers the request.
 */
function sessionFor(request: FetchRequest, context: RequestContext): FetchSession | null | number {
  const cache = context.services.fetchSessions;
  if (request.sessionEpoch === INITIAL_EPOCH || request.sessionEpoch === FINAL_EPOCH) {
    // A full fetch naming a session closes it (epoch -1: the client is done; epoch 0: it starts over).
    if (request.sessionId !== INVALID_SESSION_ID) cache.remove(request.sessionId);
    return null;
  }
  const session = request.sessionId === INVALID_SESSION_ID ? undefined : cache.get(request.sessionId);
  if (session === undefined) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  if (session.epoch !== request.sessionEpoch) return ErrorCode.INVALID_FETCH_SESSION_EPOCH;
  const byIds = context.apiVersion >= 13;
  if (session.usesTopicIds !== byIds) return ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR;
  if (!cache.update(session, requestedStates(request, byIds), forgottenOf(request, byIds))) {
    context.log.debug({ sessionId: session.id, maxPartitions: cache.maxPartitions }, 'fetch session closed: the session cache is at its partition bound');
    return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  }
  if (session.size === 0) {
    // Kafka: a session left without partitions is closed; the answer is sessionless (and empty).
    cache.remove(session.id);
    return null;
  }
  cache.touch(session);
  session.epoch = nextEpoch(session.epoch);
  return session;
}

function requestedStates(request: FetchRequest, byIds: boolean): PartitionFetchState[] {
  const states: PartitionFetchState[] = [];
  for (const t of request.topics) {
    const topicKey = byIds ? t.topicId : t.topic;
    for (const p of t.partitions) {
      states.push({ topicKey, partition: p.partition, fetchOffset: Number(p.fetchOffset), partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch });
    }
  }
  return states;
}

function forgottenOf(request: FetchRequest, byIds: boolean): { topicKey: string; partition: number }[] {
  return request.forgottenTopicsData.flatMap((t) => t.partitions.map((partition) => ({ topicKey: byIds ? t.topicId : t.topic, partition })));
}

/** Every partition of an incremental fetch's session, in the session's fetch order. */
function resolveSession(session: FetchSession, context: RequestContext): Wanted[] {
  const { topics } = context.services;
  const byIds = session.usesTopicIds;
  const wanted: Wanted[] = [];
  let lastKey: string | null = null;
  let topic: TopicRecord | undefined;
  let authorized = true;
  for (const cached of session.partitions.values()) {
    if (cached.topicKey !== lastKey) {
      lastKey = cached.topicKey;
      topic = byIds ? topics.getById(cached.topicKey) : topics.get(cached.topicKey);
      const name = byIds ? topic?.name : cached.topicKey;
      authorized = name === undefined || allowed(context, Op.READ, Resource.TOPIC, name);
    }
    wanted.push({
      topic,
      topicName: byIds ? '' : cached.topicKey,
      topicId: byIds ? cached.topicKey : (topic?.id ?? ZERO_UUID),
      partition: cached.partition,
      fetchOffset: cached.fetchOffset,
      partitionMaxBytes: cached.partitionMaxBytes,
      currentLeaderEpoch: cached.currentLeaderEpoch,
      authorized,
      cached,
    });
  }
  return wanted;
}

/** A full fetch with epoch 0 asks for a session: created from what this answer tells the client. */
function createSession(request: FetchRequest, wanted: readonly Wanted[], reads: readonly PartitionRead[], context: RequestContext): number {
  const cache = context.services.fetchSessions;
  const byIds = context.apiVersion >= 13;
  const partitions: CachedPartition[] = [];
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i] as Wanted;
    const read = reads[i] as PartitionRead;
    const cached = new CachedPartition({ topicKey: byIds ? w.topicId : w.topicName, partition: w.partition, fetchOffset: w.fetchOffset, partitionMaxBytes: w.partitionMaxBytes, currentLeaderEpoch: w.currentLeaderEpoch });
    cached.highWatermark = read.highWatermark;
    cached.logStartOffset = read.logStartOffset;
    partitions.push(cached);
  }
  const sessionId = cache.create(byIds, partitions);
  if (sessionId === INVALID_SESSION_ID) context.log.debug({ slots: cache.maxSlots }, 'no fetch session slot free; answering sessionless');
  else context.log.debug({ sessionId, partitions: partitions.length }, 'fetch session created');
  return sessionId;
}

/** An incremental answer: only partitions with something to say (Kafka's IncrementalFetchContext). */
function respondIncremental(session: FetchSession, wanted: readonly Wanted[], reads: readonly PartitionRead[]): Encodable<FetchResponse> {
  const include: boolean[] = [];
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i] as Wanted;
    const read = reads[i] as PartitionRead;
    const cached = w.cached as CachedPartition;
    const recordBytes = bytesOf(read.records);
    include.push(cached.mustRespond({ errorCode: read.errorCode, highWatermark: read.highWatermark, logStartOffset: read.logStartOffset, recordBytes }));
    if (recordBytes > 0) session.rotate(cached);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: session.id, responses: assemble(wanted, reads, include), nodeEndpoints: [] };
}

function bytesOf(records: readonly Buffer[]): number {
  let bytes = 0;
  for (const batch of records) bytes += batch.length;
  return bytes;
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

async function readAll(wanted: readonly Wanted[], request: FetchRequest, context: RequestContext): Promise<{ reads: PartitionRead[]; bytes: number; readable: Wanted[] }> {
  const totalBytes = Math.max(request.maxBytes, 0);
  const reads = await readConcurrently(wanted, totalBytes, context);
  const readable: Wanted[] = [];
  let budget = totalBytes;
  let bytes = 0;
  for (let i = 0; i < wanted.length; i++) {
    const read = reads[i] as PartitionRead;
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
    if (read.caughtUp) readable.push(wanted[i] as Wanted);
  }
  return { reads, bytes, readable };
}

/** The response's topics: every partition, or those `include` marks; consecutive partitions of one topic share an entry. */
function assemble(wanted: readonly Wanted[], reads: readonly PartitionRead[], include: readonly boolean[] | null): TopicResponse[] {
  const responses: TopicResponse[] = [];
  let current: { topic: string; topicId: string; partitions: PartitionResponse[] } | null = null;
  for (let i = 0; i < wanted.length; i++) {
    if (include !== null && include[i] !== true) continue;
    const w = wanted[i] as Wanted;
    const read = reads[i] as PartitionRead;
    if (current === null || current.topic !== w.topicName || current.topicId !== w.topicId) {
      current = { topic: w.topicName, topicId: w.topicId, partitions: [] };
      responses.push(current);
    }
    current.partitions.push(partitionData(w.partition, read.errorCode, read.highWatermark, read.logStartOffset, read.records));
  }
  return responses;
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

/**
 * Resolves when any of the partitions gets data past its fetch offset, the time is up, or the connection
 * closes. A plain timer and one listener on the connection's signal, not AbortSignal.any/timeout: the
 * signal AbortSignal.any makes is held by WeakRefs from its sources, which V8's scavenges keep alive, so
 * every long poll's signal, listeners and waiters were promoted to the old generation (a mark-compact
 * every ~8 s at 1,000 fetches/s; docs/benchmarks.md, "Latency: the tail is in the produce acknowledgement").
 */
async function waitForAny(partitions: readonly Wanted[], timeoutMs: number, context: RequestContext): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  const timer = setTimeout(stop, timeoutMs);
  if (context.signal.aborted) stop();
  else context.signal.addEventListener('abort', stop, { once: true });
  try {
    // A wait that fails (metadata store fault) ends the wait: the next read answers that partition's error.
    await Promise.race(partitions.map((w) => context.services.logs.waitForData((w.topic as TopicRecord).id, w.partition, w.fetchOffset, controller.signal).catch(() => true)));
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener('abort', stop);
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
