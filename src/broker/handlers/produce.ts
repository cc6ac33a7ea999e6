import { ApiKey } from '../../protocol/api-keys.ts';
import type { Encodable } from '../../protocol/codec/index.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ProduceRequest, ProduceResponse } from '../../protocol/messages/index.ts';
import { splitBatches } from '../../protocol/records/index.ts';
import type { AppendResult } from '../../services/log/index.ts';
import { defineApi } from '../api-handler.ts';
import type { BrokerServices, RequestContext } from '../broker-services.ts';
import type { ProduceTicket } from '../../protocol/produce-order.ts';
import { allowed, Op, Resource } from './authorize.ts';
import { endpointOf } from '../../services/cluster/index.ts';

type PartitionResponse = Encodable<ProduceResponse['responses'][number]['partitionResponses'][number]>;
type NodeEndpoint = ProduceResponse['nodeEndpoints'][number];

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

/**
 * Retriable answers that mean "not written, send it again": a request pipelined behind one of these for
 * the same partition is refused too, so the client's retries keep the batches in order (produce-order.ts).
 */
const REFUSALS: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REQUEST_TIMED_OUT]);

const PIPELINED_BEHIND_REFUSAL = {
  errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
  errorMessage: 'not written: an earlier request on this connection was refused for this partition; retry in order',
  baseOffset: -1,
  logAppendTimeMs: -1,
  logStartOffset: -1,
  recordErrors: [],
} as const satisfies AppendResult;

const GAP_AFTER_REFUSAL = {
  ...PIPELINED_BEHIND_REFUSAL,
  errorMessage: 'not written: a sequence gap after a batch refused on this connection for this partition; resend in order',
} as const satisfies AppendResult;

/**
 * Produce 0–11 (magic 2 batches only). Batches are validated and given offsets by the partition's owner in
 * arrival order; the response is sent only when every batch of the request is durable in object storage
 * and committed to the metadata store (acks=1 and acks=-1 mean the same here). acks=0 gets no response.
 */
export const produceApi = defineApi({
  apiKey: ApiKey.Produce,
  name: 'Produce',
  // Versions 0–2 are advertised although Kafka 4.0 dropped them (KIP-896): librdkafka before 2.4
  // (Debian 12 ships 2.0.2) only compresses with gzip/snappy/lz4 when the broker lists Produce v0, and
  // sends everything uncompressed otherwise. Such clients still send magic-2 batches at their newest
  // version; an old-format batch at any version gets UNSUPPORTED_FOR_MESSAGE_FORMAT.
  minVersion: 0,
  maxVersion: 11,
  async handle(request, context) {
    const { services } = context;
    const acks = request.acks;
    const endpoints = new Map<number, NodeEndpoint>();
    const pending: Array<Promise<PartitionResponse>> = [];
    const shape: Array<{ name: string; count: number }> = [];
    // Read now, synchronously: the connection's counters move as soon as this handler awaits.
    const ticket = context.connection?.produceOrder?.ticket() ?? null;
    for (const topicData of request.topicData) {
      shape.push({ name: topicData.name, count: topicData.partitionData.length });
      const writable = allowed(context, Op.WRITE, Resource.TOPIC, topicData.name);
      for (const partitionData of topicData.partitionData) {
        if (!writable) {
          pending.push(Promise.resolve(failed(partitionData.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to WRITE to topic '${topicData.name}'`)));
        } else if (acks !== 0 && acks !== 1 && acks !== -1) {
          pending.push(Promise.resolve(failed(partitionData.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1 (got ${acks})`)));
        } else if (request.transactionalId !== null) {
          pending.push(Promise.resolve(failed(partitionData.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'kafscale does not support transactions; produce without a transactional id')));
        } else {
          pending.push(appendPartition(topicData.name, partitionData.index, partitionData.records, services, endpoints, context, ticket));
        }
      }
    }
    const results = await Promise.all(pending);
    if (acks === 0) return null;
    let next = 0;
    return {
      responses: shape.map((topic) => ({ name: topic.name, partitionResponses: results.slice(next, (next += topic.count)) })),
      throttleTimeMs: 0,
      nodeEndpoints: [...endpoints.values()],
    };
  },
  errorResponse(request, errorCode, errorMessage) {
    return {
      responses: request.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => failed(p.index, errorCode, errorMessage)) })),
      throttleTimeMs: 0,
      nodeEndpoints: [],
    };
  },
});

async function appendPartition(
  topicName: string,
  partition: number,
  records: ProduceRequest['topicData'][number]['partitionData'][number]['records'],
  services: BrokerServices,
  endpoints: Map<number, NodeEndpoint>,
  context: RequestContext,
  ticket: ProduceTicket | null,
): Promise<PartitionResponse> {
  const topic = services.topics.get(topicName);
  if (topic === undefined || partition < 0 || partition >= topic.partitions) {
    return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${topicName}' or its partition ${partition} does not exist`);
  }
  if (records === null || records.length === 0) {
    return failed(partition, ErrorCode.CORRUPT_MESSAGE, 'the produce request carries no record batch');
  }
  const split = splitBatches(records);
  if (split.trailingKind !== null || split.batches.length === 0) {
    return failed(partition, ErrorCode.CORRUPT_MESSAGE, 'the records field ends with a truncated or malformed batch');
  }
  const order = ticket === null ? undefined : context.connection?.produceOrder;
  // Fast path without an await keeps batches of pipelined requests in arrival order.
  let owned = services.logs.owned(topic.id, partition);
  if (owned === undefined || owned.status !== 'active') {
    const acquired = await services.assigner.ensureOwned(topic.id, partition);
    if (acquired === null) {
      if (order !== undefined && ticket !== null) order.refuse(topic.id, partition, ticket);
      return notLeader(topic.id, partition, services, endpoints, undefined, context.listenerName);
    }
    owned = acquired;
  }
  if (order !== undefined && ticket !== null && order.fenced(topic.id, partition, ticket)) {
    order.fence(topic.id, partition, ticket);
    return notLeader(topic.id, partition, services, endpoints, PIPELINED_BEHIND_REFUSAL, context.listenerName);
  }
  const result = await services.logs.append(topic, partition, split.batches);
  if (order !== undefined && ticket !== null) {
    if (result.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && order.refusedRecently(topic.id, partition)) {
      // Nothing was written; the gap is most likely the batch refused a moment ago (produce-order.ts).
      order.fence(topic.id, partition, ticket);
      return notLeader(topic.id, partition, services, endpoints, GAP_AFTER_REFUSAL, context.listenerName);
    }
    if (REFUSALS.has(result.errorCode)) order.refuse(topic.id, partition, ticket);
  }
  if (result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) return notLeader(topic.id, partition, services, endpoints, result, context.listenerName);
  if (result.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) {
    // Rare and telling (a client and the broker disagree about a producer's history): always logged.
    context.log.warn({ topic: topicName, partition, clientId: context.clientId, message: result.errorMessage }, 'produce refused with OUT_OF_ORDER_SEQUENCE_NUMBER');
  } else if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
    context.log.debug({ topic: topicName, partition, errorCode: result.errorCode, message: result.errorMessage }, 'produce to partition failed');
  }
  return fromAppend(partition, result);
}

function fromAppend(partition: number, result: AppendResult): PartitionResponse {
  return {
    index: partition,
    errorCode: result.errorCode,
    baseOffset: BigInt(result.baseOffset),
    logAppendTimeMs: BigInt(result.logAppendTimeMs),
    logStartOffset: BigInt(result.logStartOffset),
    recordErrors: result.recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })),
    errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
    currentLeader: NO_LEADER,
  };
}

function notLeader(topicId: string, partition: number, services: BrokerServices, endpoints: Map<number, NodeEndpoint>, result: AppendResult | undefined, listenerName: string): PartitionResponse {
  const leader = services.leaders.leaderOf(topicId, partition);
  const broker = services.brokers.get(leader.brokerId);
  if (broker !== undefined) endpoints.set(broker.brokerId, { nodeId: broker.brokerId, ...endpointOf(broker, listenerName), rack: broker.rack });
  return {
    ...failed(partition, ErrorCode.NOT_LEADER_OR_FOLLOWER, result?.errorMessage ?? `broker ${services.settings.brokerId} does not own this partition; its leader is ${leader.brokerId}`),
    // KIP-951: tell the client the new leader so it does not need a metadata round trip.
    currentLeader: { leaderId: leader.brokerId, leaderEpoch: leader.epoch },
  };
}

function failed(partition: number, errorCode: number, errorMessage: string | null): PartitionResponse {
  return {
    index: partition,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
    currentLeader: NO_LEADER,
  };
}
