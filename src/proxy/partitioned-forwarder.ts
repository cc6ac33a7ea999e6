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
import { decodeRequest, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { PRODUCER_ID_OFFSET, RECORDS_OFFSET } from '../protocol/records/index.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { nameProxyAsLeader, someLeaderNamed } from './leader-hints.ts';
import { MultiOwnerFetch } from './multi-owner-fetch.ts';
import { MOVED, OwnerForwarder, type SubResult } from './owner-forwarder.ts';
import {
  FETCH_SHAPE,
  PRODUCE_SHAPE,
  errorResponse,
  mergeResponses,
  partitionKey,
  partitionsWithErrors,
  requestPartitions,
  subsetRequest,
  type PartitionedShape,
} from './partition-split.ts';
import { IN_STEP_CODES, keepProduceInStep } from './produce-in-step.ts';
import type { ProxyIdentity } from './proxy-identity.ts';
import { fetchErrorResponse, sessionlessFetch } from './sessionless-fetch.ts';

type Struct = Record<string, unknown>;

export interface PartitionedForwarderOptions {
  readonly requestTimeoutMs: number;
  /** Counts retries the proxy made on the client's behalf, by reason. */
  readonly onRetry: (reason: 'moved' | 'connection') => void;
}

export class PartitionedForwarder {
  readonly #view: ClusterView;
  readonly #owners: OwnerForwarder;
  readonly #severalOwners: MultiOwnerFetch;
  readonly #identity: ProxyIdentity;
  readonly #options: PartitionedForwarderOptions;

  constructor(view: ClusterView, link: BrokerLink, identity: ProxyIdentity, options: PartitionedForwarderOptions) {
    this.#view = view;
    this.#owners = new OwnerForwarder(view, link);
    this.#severalOwners = new MultiOwnerFetch(view, this.#owners, options);
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
    await this.#owners.learnOwners(shape, request, startedAt);
    const groups = this.#owners.split(shape, request);
    if (shape === PRODUCE_SHAPE && request['acks'] === 0) {
      await this.#owners.sendOneWay(req, groups);
      return null;
    }
    if (shape === FETCH_SHAPE && groups.size > 1) return this.#respond(shape, req, [await this.#severalOwners.fetch(req, request, groups, startedAt)]);
    const exclusive = shape === FETCH_SHAPE;
    const timeoutMs = this.#timeoutMs(shape, request);
    const whole = groups.size === 1;
    const results = await Promise.all([...groups].map(([owner, sub]) => this.#owners.send(shape, req, owner, sub, whole, timeoutMs, exclusive)));
    const only = results[0];
    if (results.length === 1 && only !== undefined && only.frame !== null && only.response !== null && this.#clean(shape, only.response)) {
      only.frame.writeInt32BE(req.correlationId, 0);
      return [only.frame];
    }
    const responses = await this.#collect(shape, req, request, results, startedAt, timeoutMs, exclusive);
    return this.#respond(shape, req, responses);
  }

  #timeoutMs(shape: PartitionedShape, request: Struct): number {
    const waitMs = shape === FETCH_SHAPE ? request['maxWaitMs'] : request['timeoutMs'];
    return this.#options.requestTimeoutMs + (typeof waitMs === 'number' && waitMs > 0 ? waitMs : 0);
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
    const groups = this.#owners.split(shape, again);
    const retried = await Promise.all([...groups].map(([owner, sub]) => this.#owners.send(shape, req, owner, sub, false, timeoutMs, exclusive)));
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
    if (shape === PRODUCE_SHAPE || shape === FETCH_SHAPE) nameProxyAsLeader(shape, merged, this.#identity, this.#view);
    return encodeResponse(shape.apiKey as 0, req.apiVersion, req.correlationId, merged as never);
  }
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
