/**
 * Splitting a partitioned request (Produce, Fetch, ListOffsets, OffsetForLeaderEpoch, DeleteRecords)
 * into one request per owning broker, and merging the answers into one. The five APIs share one shape —
 * a list of topics, each with a list of partitions — under different field names, so one descriptor
 * per API names the fields and the code below works on the decoded structs generically.
 *
 * Record batches are never touched: a sub-request holds the same Buffer views the client's request was
 * decoded into, and a merged response holds the brokers' views.
 */
import { ApiKey } from '../protocol/api-keys.ts';

type Struct = Record<string, unknown>;

export interface PartitionedShape {
  readonly apiKey: number;
  readonly name: string;
  readonly request: FieldNames;
  readonly response: FieldNames;
  /** The answer for a partition no broker answered (every other field at its "unknown" value). */
  errorPartition(index: number, errorCode: number): Struct;
}

export interface FieldNames {
  readonly topics: string;
  readonly topicName: string;
  /** Fetch v13+ names topics by id (the name is then empty); null for the other APIs. */
  readonly topicId: string | null;
  readonly partitions: string;
  readonly index: string;
}

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
const EMPTY_RECORDS = Buffer.alloc(0);

export const PRODUCE_SHAPE: PartitionedShape = {
  apiKey: ApiKey.Produce,
  name: 'Produce',
  request: { topics: 'topicData', topicName: 'name', topicId: null, partitions: 'partitionData', index: 'index' },
  response: { topics: 'responses', topicName: 'name', topicId: null, partitions: 'partitionResponses', index: 'index' },
  errorPartition: (index, errorCode) => ({
    index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null, currentLeader: NO_LEADER,
  }),
};

export const FETCH_SHAPE: PartitionedShape = {
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  request: { topics: 'topics', topicName: 'topic', topicId: 'topicId', partitions: 'partitions', index: 'partition' },
  response: { topics: 'responses', topicName: 'topic', topicId: 'topicId', partitions: 'partitions', index: 'partitionIndex' },
  errorPartition: (partitionIndex, errorCode) => ({
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: NO_LEADER,
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    // Empty, not null: brokers send empty record bytes, and kafka-python 2.0 fails on a null records field.
    records: EMPTY_RECORDS,
  }),
};

export const LIST_OFFSETS_SHAPE: PartitionedShape = {
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  request: { topics: 'topics', topicName: 'name', topicId: null, partitions: 'partitions', index: 'partitionIndex' },
  response: { topics: 'topics', topicName: 'name', topicId: null, partitions: 'partitions', index: 'partitionIndex' },
  errorPartition: (partitionIndex, errorCode) => ({ partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 }),
};

export const OFFSET_FOR_LEADER_EPOCH_SHAPE: PartitionedShape = {
  apiKey: ApiKey.OffsetForLeaderEpoch,
  name: 'OffsetForLeaderEpoch',
  request: { topics: 'topics', topicName: 'topic', topicId: null, partitions: 'partitions', index: 'partition' },
  response: { topics: 'topics', topicName: 'topic', topicId: null, partitions: 'partitions', index: 'partition' },
  errorPartition: (partition, errorCode) => ({ errorCode, partition, leaderEpoch: -1, endOffset: -1n }),
};

export const DELETE_RECORDS_SHAPE: PartitionedShape = {
  apiKey: ApiKey.DeleteRecords,
  name: 'DeleteRecords',
  request: { topics: 'topics', topicName: 'name', topicId: null, partitions: 'partitions', index: 'partitionIndex' },
  response: { topics: 'topics', topicName: 'name', topicId: null, partitions: 'partitions', index: 'partitionIndex' },
  errorPartition: (partitionIndex, errorCode) => ({ partitionIndex, lowWatermark: -1n, errorCode }),
};

/** One partition of a request, as the router sees it. */
export interface PartitionRef {
  /** Identity of the topic entry in request and response: name and id as the client sent them. */
  readonly topicKey: string;
  /** The topic's name (resolved from its id for Fetch v13+), or null when unknown. */
  readonly topicName: string | null;
  readonly partition: number;
}

/** Identity of a topic entry: its name and id as given (request and response agree for one version). */
export function topicKeyOf(names: FieldNames, topic: Struct): string {
  const name = topic[names.topicName];
  const id = names.topicId === null ? '' : topic[names.topicId];
  return `${typeof name === 'string' ? name : ''}\u0000${typeof id === 'string' ? id : ''}`;
}

export function partitionKey(topicKey: string, partition: number): string {
  return `${topicKey}\u0000${partition}`;
}

function topicsOf(names: FieldNames, message: Struct): Struct[] {
  return (message[names.topics] as Struct[] | undefined) ?? [];
}

function partitionsOf(names: FieldNames, topic: Struct): Struct[] {
  return (topic[names.partitions] as Struct[] | undefined) ?? [];
}

/**
 * Groups the request's partitions by owner. `ownerOf` gets the topic's name (or null when only an
 * unknown id was given) and returns an owner key (the router uses broker addresses; '' for "any broker").
 * Each value is a copy of the request holding only that owner's topics and partitions.
 */
export function splitByOwner(
  shape: PartitionedShape,
  request: Struct,
  resolveName: (topic: Struct) => string | null,
  ownerOf: (topicName: string | null, partition: number) => string,
): Map<string, Struct> {
  const names = shape.request;
  const byOwner = new Map<string, Map<Struct, Struct[]>>();
  for (const topic of topicsOf(names, request)) {
    const topicName = resolveName(topic);
    for (const partition of partitionsOf(names, topic)) {
      const owner = ownerOf(topicName, partition[names.index] as number);
      let topics = byOwner.get(owner);
      if (topics === undefined) byOwner.set(owner, (topics = new Map()));
      let partitions = topics.get(topic);
      if (partitions === undefined) topics.set(topic, (partitions = []));
      partitions.push(partition);
    }
  }
  const requests = new Map<string, Struct>();
  for (const [owner, topics] of byOwner) {
    const subTopics: Struct[] = [];
    for (const [topic, partitions] of topics) subTopics.push({ ...topic, [names.partitions]: partitions });
    requests.set(owner, { ...request, [names.topics]: subTopics });
  }
  return requests;
}

/** Every partition a request names. */
export function requestPartitions(shape: PartitionedShape, request: Struct, resolveName: (topic: Struct) => string | null): PartitionRef[] {
  const names = shape.request;
  const refs: PartitionRef[] = [];
  for (const topic of topicsOf(names, request)) {
    const topicKey = topicKeyOf(names, topic);
    const topicName = resolveName(topic);
    for (const partition of partitionsOf(names, topic)) refs.push({ topicKey, topicName, partition: partition[names.index] as number });
  }
  return refs;
}

/** The request reduced to the partitions whose partitionKey is in `keep`; null when none is left. */
export function subsetRequest(shape: PartitionedShape, request: Struct, keep: ReadonlySet<string>): Struct | null {
  const names = shape.request;
  const topics: Struct[] = [];
  for (const topic of topicsOf(names, request)) {
    const key = topicKeyOf(names, topic);
    const partitions = partitionsOf(names, topic).filter((p) => keep.has(partitionKey(key, p[names.index] as number)));
    if (partitions.length > 0) topics.push({ ...topic, [names.partitions]: partitions });
  }
  return topics.length === 0 ? null : { ...request, [names.topics]: topics };
}

/** partitionKeys of the response's partitions whose errorCode is in `codes`. */
export function partitionsWithErrors(shape: PartitionedShape, response: Struct, codes: ReadonlySet<number>): Set<string> {
  const names = shape.response;
  const found = new Set<string>();
  for (const topic of topicsOf(names, response)) {
    const key = topicKeyOf(names, topic);
    for (const partition of partitionsOf(names, topic)) {
      if (codes.has(partition['errorCode'] as number)) found.add(partitionKey(key, partition[names.index] as number));
    }
  }
  return found;
}

/**
 * A response answering every partition of `request` with `errorCode` (partitions no broker could
 * answer). Top-level fields are left to the codec's defaults.
 */
export function errorResponse(shape: PartitionedShape, request: Struct, errorCode: number): Struct {
  const req = shape.request;
  const res = shape.response;
  const topics: Struct[] = [];
  for (const topic of topicsOf(req, request)) {
    const entry: Struct = { [res.topicName]: topic[req.topicName] };
    if (res.topicId !== null && req.topicId !== null) entry[res.topicId] = topic[req.topicId];
    entry[res.partitions] = partitionsOf(req, topic).map((p) => shape.errorPartition(p[req.index] as number, errorCode));
    topics.push(entry);
  }
  return { throttleTimeMs: 0, [res.topics]: topics };
}

/**
 * One response from several: topics merged by identity (a topic split across brokers appears once with
 * all its partitions), partitions in `replace` taken from the later responses only (the retried answer
 * wins over the failed one), the largest throttle time, other top-level fields from the first response.
 */
export function mergeResponses(shape: PartitionedShape, responses: readonly Struct[]): Struct {
  const names = shape.response;
  const first = responses[0] ?? {};
  const topics = new Map<string, { entry: Struct; partitions: Map<number, Struct> }>();
  let throttleTimeMs = 0;
  for (const response of responses) {
    throttleTimeMs = Math.max(throttleTimeMs, (response['throttleTimeMs'] as number | undefined) ?? 0);
    for (const topic of topicsOf(names, response)) {
      const key = topicKeyOf(names, topic);
      let merged = topics.get(key);
      if (merged === undefined) topics.set(key, (merged = { entry: topic, partitions: new Map() }));
      for (const partition of partitionsOf(names, topic)) merged.partitions.set(partition[names.index] as number, partition);
    }
  }
  const mergedTopics: Struct[] = [];
  for (const { entry, partitions } of topics.values()) mergedTopics.push({ ...entry, [names.partitions]: [...partitions.values()] });
  return { ...first, throttleTimeMs, [names.topics]: mergedTopics };
}
