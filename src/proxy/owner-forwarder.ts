/**
 * The partitions of a Produce, Fetch, ListOffsets, OffsetForLeaderEpoch or DeleteRecords request and the
 * brokers that own them (from the ClusterView): owners learnt, the request split per owner, each part
 * sent to its owner. A broker that cannot be reached is an answer here (a SubResult without a response),
 * for the caller to retry or report.
 */
import { decodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { isKafscaleError } from '../telemetry/kafscale-error.ts';
import type { BrokerLink, ClientRequest } from './broker-link.ts';
import type { ClusterView } from './cluster-view.ts';
import { requestPartitions, splitByOwner, type PartitionedShape } from './partition-split.ts';
import { isUpstreamFailure, type UpstreamFailure } from './upstream-connection.ts';

type Struct = Record<string, unknown>;

/** Owner key for partitions without a known owner: any broker answers them (with the right error). */
const ANY_BROKER = '';
/** Partition answers meaning the broker does not own it (any more): nothing was done there. */
export const MOVED: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER]);
const UNKNOWN_OWNER_STALENESS_MS = 1_000;

export interface SubResult {
  readonly request: Struct;
  readonly response: Struct | null;
  /** The broker's frame, when the whole client request was forwarded as it is. */
  readonly frame: Buffer | null;
  readonly failure: UpstreamFailure | null;
}

export class OwnerForwarder {
  readonly #view: ClusterView;
  readonly #link: BrokerLink;

  constructor(view: ClusterView, link: BrokerLink) {
    this.#view = view;
    this.#link = link;
  }

  /** Refreshes the metadata once when some partition has no known owner (a new topic, a first request). */
  async learnOwners(shape: PartitionedShape, request: Struct, startedAt: number): Promise<void> {
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

  /** The request's parts by owner address (ANY_BROKER for partitions without a known owner). */
  split(shape: PartitionedShape, request: Struct): Map<string, Struct> {
    return splitByOwner(
      shape,
      request,
      (topic) => this.#topicName(shape, topic),
      (topicName, partition) => (topicName === null ? ANY_BROKER : (this.#view.ownerOf(topicName, partition)?.address ?? ANY_BROKER)),
    );
  }

  /** Produce with acks=0: each part to its owner; no answer is awaited, and a dead owner loses its part. */
  async sendOneWay(req: ClientRequest, groups: Map<string, Struct>): Promise<void> {
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

  /** One part to its owner (`whole`: the client's frame as it is); an unreachable or lost broker is a result, not a throw. */
  async send(shape: PartitionedShape, req: ClientRequest, owner: string, sub: Struct, whole: boolean, timeoutMs: number, exclusive: boolean): Promise<SubResult> {
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
}
