import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DescribeProducersResponse } from '../../protocol/messages/index.ts';
import { defineApi } from '../api-handler.ts';
import type { BrokerServices } from '../broker-services.ts';
import { allowed, Op, Resource } from './authorize.ts';

type PartitionResult = DescribeProducersResponse['topics'][number]['partitions'][number];

/**
 * DescribeProducers 0 (KIP-664, `kafka-transactions.sh describe-producers`): the idempotent producers a
 * partition's owner remembers — id, epoch, last sequence, last timestamp. Only the owner holds that
 * state; other brokers answer NOT_LEADER_OR_FOLLOWER and the admin client asks the leader.
 */
export const describeProducersApi = defineApi({
  apiKey: ApiKey.DescribeProducers,
  name: 'DescribeProducers',
  minVersion: 0,
  maxVersion: 0,
  async handle(request, context) {
    const { services } = context;
    return {
      throttleTimeMs: 0,
      topics: await Promise.all(request.topics.map(async (t) => ({
        name: t.name,
        partitions: allowed(context, Op.READ, Resource.TOPIC, t.name)
          ? await Promise.all(t.partitionIndexes.map((p) => describePartition(t.name, p, services)))
          : t.partitionIndexes.map((p) => failed(p, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Not authorized to READ topic '${t.name}'.`)),
      }))),
    };
  },
  errorResponse(request, errorCode, errorMessage) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => failed(p, errorCode, errorMessage)) })),
    };
  },
});

async function describePartition(topicName: string, partition: number, services: BrokerServices): Promise<PartitionResult> {
  const topic = services.topics.get(topicName);
  if (topic === undefined || partition < 0 || partition >= topic.partitions) {
    return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${topicName}' or its partition ${partition} does not exist`);
  }
  // A partition this broker leads but has not taken yet is taken now, so its state is the rebuilt one.
  const log = await services.assigner.ensureOwned(topic.id, partition);
  if (log === null || log.status !== 'active') {
    return failed(partition, ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${services.settings.brokerId} does not own ${topicName}-${partition}`);
  }
  const activeProducers: PartitionResult['activeProducers'] = [];
  for (const entry of log.producers.entries()) {
    activeProducers.push({
      producerId: entry.producerId,
      producerEpoch: entry.epoch,
      lastSequence: entry.batches.at(-1)?.lastSeq ?? -1,
      lastTimestamp: BigInt(entry.lastTimestampMs),
      coordinatorEpoch: -1,
      currentTxnStartOffset: -1n,
    });
  }
  return { partitionIndex: partition, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
}

function failed(partition: number, errorCode: number, errorMessage: string | null): PartitionResult {
  return { partitionIndex: partition, errorCode, errorMessage, activeProducers: [] };
}
