/**
 * Produce, Fetch, ListOffsets, OffsetForLeaderEpoch and DeleteRecords through the proxy: each partition
 * goes to the broker that owns it. A request whose partitions all have one owner is forwarded as it is
 * (only the correlation id is rewritten) and, when the answer needs no change, answered as it came;
 * otherwise the request is split per owner and the answers are merged.
 *
 * Ownership moves are hidden where that is safe (docs/design/proxy.md, "Retries"):
 * - a partition answered NOT_LEADER_OR_FOLLOWER was refused by that broker, nothing was done: refresh the
 *   metadata and send it once more to its new owner;
 * - a connection that could not be opened carried nothing: same;
 * - a connection that died after the request was written is ambiguous (the broker may have appended
 *   and acknowledged to nobody). Fetch, ListOffsets, OffsetForLeaderEpoch and DeleteRecords are
 *   repeatable, so they are sent again; Produce only when every batch of it is idempotent (producer id
 *   set: the new owner de-duplicates by sequence from the metadata store). A plain Produce gets
 *   REQUEST_TIMED_OUT for those partitions — the answer Kafka gives when a write may or may not have
 *   happened — and the client decides to retry, exactly as if it had lost a direct broker connection.
 */
import { decodeRequest, decodeResponse, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ProduceOrder } from '../protocol/produce-order.ts';
import { PRODUCER_ID_OFFSET, RECORDS_OFFSET, nextOffset, splitBatches } from '../protocol/records/index.ts';
import { isKafscaleError } from '../telemetry/kafscale-error.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { FetchReadAhead } from './fetch-read-ahead.ts';
import {
  FETCH_SHAPE,
  PRODUCE_SHAPE,
  errorResponse,
  mergeResponses,
  partitionKey,
  partitionsWithErrors,
  requestPartitions,
  splitByOwner,
  subsetRequest,
  topicKeyOf,
  type PartitionedShape,
} from './partition-split.ts';
import { PROXY_NODE_ID, type ProxyIdentity } from './proxy-identity.ts';
import { fetchErrorResponse, sessionlessFetch } from './sessionless-fetch.ts';
import { isUpstreamFailure, type UpstreamFailure } from './upstream-connection.ts';

type Struct = Record<string, unknown>;

/** Owner key for partitions without a known owner: any broker answers them (with the right error). */
const ANY_BROKER = '';
const MOVED: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER]);

/** Produce answers meaning "not written, send it again" (as the broker's produce handler counts them). */
const REFUSED: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REQUEST_TIMED_OUT]);

/** What the client sees for a sequence gap right after a refusal (see #keepProduceInStep). */
const GAP_AFTER_REFUSAL = 'not written: a sequence gap after a batch refused on this connection for this partition; resend in order';
const UNKNOWN_OWNER_STALENESS_MS = 1_000;
/**
 * How long a multi-owner Fetch that has data waits for the other owners of the same round: long enough
 * for owners answering at the same time to share one answer, short enough that a slow owner costs the
 * client little (its answer is kept for the next Fetch).
 */
const PROMPT_OWNER_GRACE_MS = 10;

interface WantedPartition {
  readonly key: string;
  readonly fetchOffset: bigint;
  readonly owner: string;
  /** The client's topic entry and partition entry (sub-requests reuse them). */
  readonly topic: Struct;
  readonly partition: Struct;
  readonly index: number;
}

/** The offset after the last whole batch of a Fetch answer's records; null without a whole batch. */
function offsetAfter(records: unknown): bigint | null {
  if (!(records instanceof Buffer) || records.length === 0) return null;
  const { batches } = splitBatches(records);
  const last = batches.at(-1);
  return last === undefined ? null : nextOffset(last);
}

/** A kept Fetch answer worth answering the client at once: records, or an error it must see. */
function isUseful(answer: Struct | null): boolean {
  if (answer === null) return false;
  const records = answer['records'];
  return (records instanceof Buffer && records.length > 0) || answer['errorCode'] !== ErrorCode.NONE;
}

interface SubResult {
  readonly request: Struct;
  readonly response: Struct | null;
  /** The broker's frame, when the whole client request was forwarded as it is. */
  readonly frame: Buffer | null;
  readonly failure: UpstreamFailure | null;
}

export interface PartitionedForwarderOptions {
  readonly requestTimeoutMs: number;
  /** Counts retries the proxy made on the client's behalf, by reason. */
  readonly onRetry: (reason: 'moved' | 'connection') => void;
}

export class PartitionedForwarder {
  readonly #view: ClusterView;
  readonly #link: BrokerLink;
  readonly #identity: ProxyIdentity;
  readonly #options: PartitionedForwarderOptions;

  constructor(view: ClusterView, link: BrokerLink, identity: ProxyIdentity, options: PartitionedForwarderOptions) {
    this.#view = view;
    this.#link = link;
    this.#identity = identity;
    this.#options = options;
  }

  /** Response chunks for the client, or null when none is due (Produce with acks=0). */
  async handle(shape: PartitionedShape, req: ClientRequest): Promise<Buffer[] | null> {
    const request = decodeRequest(shape.apiKey as 0, req.apiVersion, req.frame, req.bodyOffset) as unknown as Struct;
    if (shape === FETCH_SHAPE) {
      const verdict = sessionlessFetch(req.apiVersion, req.frame, req.bodyOffset, request);
      if (verdict !== 'forward') return fetchErrorResponse(req.apiVersion, req.correlationId, verdict);
    }
    const startedAt = Date.now();
    await this.#learnOwners(shape, request, startedAt);
    const groups = this.#split(shape, request);
    if (shape === PRODUCE_SHAPE && request['acks'] === 0) {
      await this.#sendOneWay(req, groups);
      return null;
    }
    if (shape === FETCH_SHAPE && groups.size > 1) return this.#fetchFromSeveral(req, request, groups, startedAt);
    const exclusive = shape === FETCH_SHAPE;
    const timeoutMs = this.#timeoutMs(shape, request);
    const whole = groups.size === 1;
    const results = await Promise.all([...groups].map(([owner, sub]) => this.#send(shape, req, owner, sub, whole, timeoutMs, exclusive)));
    const only = results[0];
    if (results.length === 1 && only !== undefined && only.frame !== null && only.response !== null && this.#clean(shape, only.response)) {
      only.frame.writeInt32BE(req.correlationId, 0);
      return [only.frame];
    }
    const responses = await this.#collect(shape, req, request, results, startedAt, timeoutMs, exclusive);
    return this.#respond(shape, req, responses);
  }

  /**
   * Fetch over several owners, without waiting for the slowest one and without throwing data away:
   * 1. answers kept from earlier sub-fetches of this connection (fetch-read-ahead.ts) are used;
   * 2. every other partition not already being fetched is asked of its owner without waiting
   *    (MaxWaitMs 0); the proxy answers as soon as one partition has records (or an error) — answers
   *    arriving after that are kept for the client's next Fetch of the same offsets;
   * 3. if nothing has data, the idle owners are long-polled with the time left, and the first owner
   *    with data ends the wait. Partitions still waiting are answered without records, with their
   *    last high watermark.
   * The client's MaxBytes is shared between the owners, so the answer stays within its budget.
   */
  async #fetchFromSeveral(req: ClientRequest, request: Struct, groups: Map<string, Struct>, startedAt: number): Promise<Buffer[]> {
    const readAhead = req.readAhead ?? new FetchReadAhead();
    const names = FETCH_SHAPE.request;
    const maxWaitMs = (request['maxWaitMs'] as number | undefined) ?? 0;
    const maxBytes = (request['maxBytes'] as number | undefined) ?? 0x7fffffff;
    const share = Math.max(1, Math.floor(maxBytes / groups.size));
    const deadline = startedAt + Math.max(0, maxWaitMs);
    const wanted: WantedPartition[] = [];
    for (const [owner, sub] of groups) {
      for (const topic of sub[names.topics] as Struct[]) {
        const topicKey = topicKeyOf(names, topic);
        for (const partition of topic[names.partitions] as Struct[]) {
          const index = partition[names.index] as number;
          wanted.push({ key: partitionKey(topicKey, index), fetchOffset: partition['fetchOffset'] as bigint, owner, topic, partition, index });
        }
      }
    }
    const useful = (w: WantedPartition): boolean => isUseful(readAhead.peek(w.key, w.fetchOffset));
    const pending = (w: WantedPartition): boolean => readAhead.inFlight(w.key, w.fetchOffset);
    // Until a partition has data; answers of this round's immediate sub-fetches are always awaited
    // when nothing else has data (even with MaxWaitMs 0 they are the answer), and for a short grace
    // when something has (so one answer carries every prompt owner's data: fewer client round trips),
    // long polls only until the client's deadline.
    const waitForData = async (mustSettle: readonly WantedPartition[]): Promise<void> => {
      const capAt = Date.now() + this.#options.requestTimeoutMs;
      let dataSince = -1;
      for (;;) {
        const now = Date.now();
        if (wanted.some(useful)) {
          if (!wanted.some((w) => readAhead.inFlightPrompt(w.key, w.fetchOffset))) return;
          if (dataSince < 0) dataSince = now;
          if (now - dataSince >= PROMPT_OWNER_GRACE_MS) return;
          await readAhead.wait(PROMPT_OWNER_GRACE_MS - (now - dataSince));
        } else if (mustSettle.some(pending) && now < capAt) await readAhead.wait(capAt - now);
        else if (wanted.some(pending) && now < deadline) await readAhead.wait(deadline - now);
        else return;
      }
    };

    const immediate = wanted.filter((w) => !useful(w) && !pending(w));
    this.#sendSubFetches(req, request, immediate, 0, share, readAhead);
    await waitForData(immediate);
    if (!wanted.some(useful) && Date.now() < deadline) {
      this.#sendSubFetches(req, request, wanted.filter((w) => !pending(w)), deadline - Date.now(), share, readAhead);
      await waitForData([]);
    }

    const byTopic = new Map<Struct, Struct[]>();
    const ahead: WantedPartition[] = [];
    for (const w of wanted) {
      const answer = readAhead.take(w.key, w.fetchOffset) ?? { ...FETCH_SHAPE.errorPartition(w.index, ErrorCode.NONE), ...readAhead.offsets(w.key) };
      const list = byTopic.get(w.topic);
      if (list === undefined) byTopic.set(w.topic, [answer]);
      else list.push(answer);
      const next = answer['errorCode'] === ErrorCode.NONE ? offsetAfter(answer['records']) : null;
      if (next !== null && !readAhead.inFlight(w.key, next)) ahead.push({ ...w, fetchOffset: next, partition: { ...w.partition, fetchOffset: next } });
    }
    // Read ahead: the client will ask for these offsets next; their answers are then on their way (or
    // kept) while it processes this one. Bounded by the proxy's read-ahead budget.
    if (ahead.length > 0 && readAhead.canFetchAhead) this.#sendSubFetches(req, request, ahead, 0, share, readAhead);
    const responses = [...byTopic].map(([topic, partitions]) => ({ topic: topic[names.topicName], topicId: topic[names.topicId ?? 'topicId'], partitions }));
    return this.#respond(FETCH_SHAPE, req, [{ throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] }]);
  }

  /**
   * One sub-fetch per owner for `partitions` (marked in flight); each answer is kept in `readAhead` when
   * it arrives. A lost connection or a moved partition refreshes the metadata; the client's next Fetch
   * goes to the new owner (Fetch is repeatable, nothing is lost).
   */
  #sendSubFetches(req: ClientRequest, request: Struct, partitions: readonly WantedPartition[], waitMs: number, share: number, readAhead: FetchReadAhead): void {
    const names = FETCH_SHAPE.request;
    const byOwner = new Map<string, Map<Struct, WantedPartition[]>>();
    for (const w of partitions) {
      let topics = byOwner.get(w.owner);
      if (topics === undefined) byOwner.set(w.owner, (topics = new Map()));
      const list = topics.get(w.topic);
      if (list === undefined) topics.set(w.topic, [w]);
      else list.push(w);
    }
    const timeoutMs = this.#options.requestTimeoutMs + waitMs;
    for (const [owner, topics] of byOwner) {
      const offsets = new Map<string, bigint>();
      const subTopics: Struct[] = [];
      for (const [topic, list] of topics) {
        subTopics.push({ ...topic, [names.partitions]: list.map((w) => w.partition) });
        for (const w of list) {
          offsets.set(w.key, w.fetchOffset);
          readAhead.markInFlight(w.key, w.fetchOffset, waitMs > 0);
        }
      }
      const sub = { ...request, maxWaitMs: Math.max(0, Math.round(waitMs)), maxBytes: share, [names.topics]: subTopics };
      const settle = (response: Struct | null): void => {
        const moved = response !== null && partitionsWithErrors(FETCH_SHAPE, response, MOVED).size > 0;
        if (response === null || moved) {
          this.#options.onRetry(response === null ? 'connection' : 'moved');
          void this.#view.refresh(Date.now()).catch(() => {});
        }
        for (const topic of (response?.['responses'] as Struct[] | undefined) ?? []) {
          const topicKey = topicKeyOf(FETCH_SHAPE.response, topic);
          for (const partition of (topic['partitions'] as Struct[] | undefined) ?? []) {
            const key = partitionKey(topicKey, partition['partitionIndex'] as number);
            const offset = offsets.get(key);
            if (offset === undefined) continue;
            offsets.delete(key);
            readAhead.settle(key, offset, partition);
          }
        }
        for (const [key, offset] of offsets) readAhead.settle(key, offset, null);
        readAhead.notify();
      };
      this.#send(FETCH_SHAPE, req, owner, sub, false, timeoutMs, true).then(
        (result) => settle(result.response),
        () => settle(null),
      );
    }
  }

  /** Refreshes the metadata once when some partition has no known owner (a new topic, a first request). */
  async #learnOwners(shape: PartitionedShape, request: Struct, startedAt: number): Promise<void> {
    const refs = requestPartitions(shape, request, (topic) => this.#topicName(shape, topic));
    const unknown = refs.some((ref) => ref.topicName === null || (this.#view.ownerOf(ref.topicName, ref.partition)?.address ?? null) === null);
    // A view at most a second old will do: a client polling a deleted topic must not cost a Metadata request each time.
    if (unknown) await this.#view.refresh(startedAt - UNKNOWN_OWNER_STALENESS_MS).catch(() => {});
  }

  #topicName(shape: PartitionedShape, topic: Struct): string | null {
    const name = topic[shape.request.topicName];
    if (typeof name === 'string' && name !== '') return name;
    const id = shape.request.topicId === null ? null : topic[shape.request.topicId];
    return typeof id === 'string' ? this.#view.topicName(id) : null;
  }

  #split(shape: PartitionedShape, request: Struct): Map<string, Struct> {
    return splitByOwner(
      shape,
      request,
      (topic) => this.#topicName(shape, topic),
      (topicName, partition) => (topicName === null ? ANY_BROKER : (this.#view.ownerOf(topicName, partition)?.address ?? ANY_BROKER)),
    );
  }

  #timeoutMs(shape: PartitionedShape, request: Struct): number {
    const waitMs = shape === FETCH_SHAPE ? request['maxWaitMs'] : request['timeoutMs'];
    return this.#options.requestTimeoutMs + (typeof waitMs === 'number' && waitMs > 0 ? waitMs : 0);
  }

  async #sendOneWay(req: ClientRequest, groups: Map<string, Struct>): Promise<void> {
    const whole = groups.size === 1;
    await Promise.all(
      [...groups].map(async ([owner, sub]) => {
        try {
          await this.#link.sendOneWay(this.#address(owner), req, whole ? null : (sub as never));
        } catch (error) {
          // acks=0: the client asked for no answer and accepts loss; a dead owner loses these batches.
          if (!isUpstreamFailure(error) && !isKafscaleError(error, 'KSC_PROXY_NO_BROKER')) throw error;
        }
      }),
    );
  }

  #address(owner: string): string {
    return owner === ANY_BROKER ? this.#view.anyBroker().address : owner;
  }

  async #send(shape: PartitionedShape, req: ClientRequest, owner: string, sub: Struct, whole: boolean, timeoutMs: number, exclusive: boolean): Promise<SubResult> {
    try {
      const address = this.#address(owner);
      const frame = whole
        ? await this.#link.forward(address, req, timeoutMs, exclusive)
        : await this.#link.send(address, shape.apiKey as 0, req, sub as never, timeoutMs, exclusive);
      const response = decodeResponse(shape.apiKey as 0, req.apiVersion, frame).body as unknown as Struct;
      return { request: sub, response, frame: whole ? frame : null, failure: null };
    } catch (error) {
      if (isUpstreamFailure(error)) return { request: sub, response: null, frame: null, failure: error };
      if (isKafscaleError(error, 'KSC_PROXY_NO_BROKER')) return { request: sub, response: null, frame: null, failure: null };
      throw error;
    }
  }

  /**
   * The answers of one round, with partitions that moved (or whose broker connection failed, where a
   * repeat is safe) sent once more after a metadata refresh. Later answers win in mergeResponses.
   */
  async #collect(
    shape: PartitionedShape,
    req: ClientRequest,
    request: Struct,
    results: readonly SubResult[],
    startedAt: number,
    timeoutMs: number,
    exclusive: boolean,
  ): Promise<Struct[]> {
    const responses: Struct[] = [];
    const retry = new Set<string>();
    let reason: 'moved' | 'connection' = 'moved';
    for (const result of results) {
      if (result.response !== null) {
        responses.push(result.response);
        for (const key of partitionsWithErrors(shape, result.response, MOVED)) retry.add(key);
      } else if (this.#repeatable(shape, result)) {
        reason = 'connection';
        for (const ref of requestPartitions(shape, result.request, () => null)) retry.add(partitionKey(ref.topicKey, ref.partition));
      } else {
        responses.push(errorResponse(shape, result.request, ErrorCode.REQUEST_TIMED_OUT));
      }
    }
    if (retry.size === 0) return responses;
    this.#options.onRetry(reason);
    await this.#view.refresh(startedAt).catch(() => {});
    const again = subsetRequest(shape, request, retry);
    if (again === null) return responses;
    const groups = this.#split(shape, again);
    const retried = await Promise.all([...groups].map(([owner, sub]) => this.#send(shape, req, owner, sub, false, timeoutMs, exclusive)));
    for (const result of retried) {
      if (result.response !== null) responses.push(result.response);
      else {
        const written = result.failure?.written === true;
        // Not written: nothing happened, the client may retry freely after refreshing its metadata.
        responses.push(errorResponse(shape, result.request, written ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.NOT_LEADER_OR_FOLLOWER));
      }
    }
    return responses;
  }

  /** Whether a failed sub-request may be sent again (see the file comment). */
  #repeatable(shape: PartitionedShape, result: SubResult): boolean {
    if (result.failure === null || !result.failure.written) return true;
    if (shape !== PRODUCE_SHAPE) return true;
    return allIdempotent(result.request);
  }

  /** An answer that can go to the client as the broker sent it: nothing moved, no broker named. */
  #clean(shape: PartitionedShape, response: Struct): boolean {
    if (partitionsWithErrors(shape, response, MOVED).size > 0) return false;
    if (shape === PRODUCE_SHAPE && partitionsWithErrors(shape, response, IN_STEP_CODES).size > 0) return false;
    if (shape !== PRODUCE_SHAPE && shape !== FETCH_SHAPE) return true;
    const endpoints = response['nodeEndpoints'] as unknown[] | undefined;
    if (endpoints !== undefined && endpoints.length > 0) return false;
    return !someLeaderNamed(shape, response);
  }

  #respond(shape: PartitionedShape, req: ClientRequest, responses: readonly Struct[]): Buffer[] {
    const merged = mergeResponses(shape, responses);
    if (shape === FETCH_SHAPE) {
      merged['sessionId'] = 0;
      merged['errorCode'] = responses.map((r) => r['errorCode'] as number | undefined).find((code) => code !== undefined && code !== 0) ?? 0;
    }
    if (shape === PRODUCE_SHAPE && req.produceOrder !== undefined) keepProduceInStep(merged, req.produceOrder);
    if (shape === PRODUCE_SHAPE || shape === FETCH_SHAPE) this.#nameProxyAsLeader(shape, merged);
    return encodeResponse(shape.apiKey as 0, req.apiVersion, req.correlationId, merged as never);
  }

  /**
   * KIP-951 leader hints name the partition's virtual broker (proxy-identity.ts), the one Metadata names:
   * clients must never learn a broker address, and a hint must not move a partition between virtual brokers.
   */
  #nameProxyAsLeader(shape: PartitionedShape, response: Struct): void {
    const names = shape.response;
    const identity = this.#identity;
    const named = new Set<number>();
    for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
      const partitions = (topic[names.partitions] as Struct[] | undefined) ?? [];
      let topicName: string | null = null;
      topic[names.partitions] = partitions.map((partition) => {
        const leader = partition['currentLeader'] as { leaderId: number; leaderEpoch: number } | undefined;
        if (leader === undefined || leader.leaderId < 0) return partition;
        topicName ??= this.#responseTopicName(shape, topic);
        const leaderId = identity.leaderOf(topicName, partition[names.index] as number);
        named.add(leaderId);
        return { ...partition, currentLeader: { leaderId, leaderEpoch: leader.leaderEpoch } };
      });
    }
    const endpoints = response['nodeEndpoints'] as unknown[] | undefined;
    if (named.size === 0 && endpoints !== undefined && endpoints.length > 0) named.add(PROXY_NODE_ID);
    response['nodeEndpoints'] = [...named].sort((a, b) => a - b).map((nodeId) => ({ ...identity.broker(nodeId), rack: null }));
  }

  #responseTopicName(shape: PartitionedShape, topic: Struct): string {
    const name = topic[shape.response.topicName];
    if (typeof name === 'string' && name !== '') return name;
    const id = shape.response.topicId === null ? null : topic[shape.response.topicId];
    return (typeof id === 'string' ? this.#view.topicName(id) : null) ?? '';
  }
}

const IN_STEP_CODES: ReadonlySet<number> = new Set([...REFUSED, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]);

/**
 * The proxy's part of produce-order.ts: it sends a client's batches for one partition over whichever
 * broker connection owns it now, and retries refused ones, so a later batch can reach the owner before a
 * refused earlier one. For REFUSAL_MEMORY_MS after the client was told a partition's batch was not
 * written, a sequence gap on that partition (OUT_OF_ORDER_SEQUENCE_NUMBER: nothing written either) is
 * answered as a refusal, and the client resends in order instead of failing (librdkafka 2.0.2) or
 * bumping its epoch.
 */
function keepProduceInStep(response: Struct, order: ProduceOrder): void {
  const names = PRODUCE_SHAPE.response;
  for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
    const topicKey = topicKeyOf(names, topic);
    for (const partition of (topic[names.partitions] as Struct[] | undefined) ?? []) {
      const index = partition[names.index] as number;
      const code = partition['errorCode'] as number;
      if (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && order.refusedRecently(topicKey, index)) {
        partition['errorCode'] = ErrorCode.NOT_LEADER_OR_FOLLOWER;
        partition['errorMessage'] = GAP_AFTER_REFUSAL;
      } else if (REFUSED.has(code)) {
        order.noteRefusal(topicKey, index);
      }
    }
  }
}

function someLeaderNamed(shape: PartitionedShape, response: Struct): boolean {
  const names = shape.response;
  for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
    for (const partition of (topic[names.partitions] as Struct[] | undefined) ?? []) {
      const leader = partition['currentLeader'] as { leaderId: number } | undefined;
      if (leader !== undefined && leader.leaderId >= 0) return true;
    }
  }
  return false;
}

/** True when every batch of a Produce request carries a producer id (idempotent producer). */
export function allIdempotent(request: Struct): boolean {
  const names = PRODUCE_SHAPE.request;
  for (const topic of (request[names.topics] as Struct[] | undefined) ?? []) {
    for (const partition of (topic[names.partitions] as Struct[] | undefined) ?? []) {
      const records = partition['records'];
      // Every batch of one request comes from one producer; the first batch's header tells.
      if (!(records instanceof Buffer) || records.length < RECORDS_OFFSET) return false;
      if (records.readBigInt64BE(PRODUCER_ID_OFFSET) < 0n) return false;
    }
  }
  return true;
}
