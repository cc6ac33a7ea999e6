import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { defineApi } from '../api-handler.ts';
import { clusterVisible, Op, Resource } from './authorize.ts';

/**
 * InitProducerId 0–5 for idempotent producers (docs/design/idempotence.md). Without a transactional id
 * any broker answers (Kafka's coordinator does the same for a null transactional id): a new producer id
 * from the cluster-wide block allocator at epoch 0, or — v3+ with the caller's current id and epoch
 * (KIP-360) — the same id with the epoch bumped.
 *
 * A transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED: every mainstream client treats it as
 * fatal and names the transactional id in what it prints (kafkajs "Transactional Id authorization
 * failed", librdkafka/confluent-kafka "Broker: Transactional Id authorization failed", the Java client's
 * TransactionalIdAuthorizationException), instead of retrying a retriable coordinator error forever.
 * The response has no message field, so the broker logs the real reason: transactions are not supported.
 */
export const initProducerIdApi = defineApi({
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, context) {
    if (request.transactionalId !== null) {
      if (request.transactionalId === '') {
        // Kafka: an empty transactional id is a malformed request, not a transactional producer.
        return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
      }
      context.log.warn({ transactionalId: request.transactionalId, clientId: context.clientId }, 'transactions are not supported by kafscale; refusing InitProducerId for a transactional producer (use an idempotent producer without transactional.id)');
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
    }
    // Kafka: IDEMPOTENT_WRITE on the cluster, or WRITE on at least one topic.
    if (!clusterVisible(context, Op.IDEMPOTENT_WRITE) && !context.services.authorizer.authorizeByResourceType(context, Op.WRITE, Resource.TOPIC)) {
      context.log.info({ principal: context.principal, clientId: context.clientId }, 'authorization denied: InitProducerId needs IDEMPOTENT_WRITE on the cluster or WRITE on a topic');
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
    }
    const current = context.apiVersion >= 3 && request.producerId >= 0n && request.producerEpoch >= 0
      ? { producerId: request.producerId, epoch: request.producerEpoch }
      : null;
    const granted = await context.services.producerIds.initProducer(current);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: granted.producerId, producerEpoch: granted.epoch };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
  },
});
