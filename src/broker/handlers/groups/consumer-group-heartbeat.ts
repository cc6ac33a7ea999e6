import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { isInternalTopic } from '../../../services/cluster/index.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';
import { clientHostOf } from './join-group.ts';

/**
 * ConsumerGroupHeartbeat 0–1 (KIP-848): join (epoch 0), heartbeat, leave (-1) and static leave (-2)
 * of a consumer-protocol member, with the broker computing the assignment. v0 lets the broker choose
 * the member id of a joining member; v1 has the client choose it (KIP-1082). v1's SubscribedTopicRegex
 * is a JS RegExp matched against whole topic names (RE2/J differences: docs/design/consumer-groups-kip848.md).
 */
export const consumerGroupHeartbeatApi = defineApi({
  apiKey: ApiKey.ConsumerGroupHeartbeat,
  name: 'ConsumerGroupHeartbeat',
  minVersion: 0,
  maxVersion: 1,
  async handle(request, context) {
    const error = (errorCode: number, errorMessage: string | null = null) => ({ throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null });
    if (!allowed(context, Op.READ, Resource.GROUP, request.groupId)) return error(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    // Kafka: DESCRIBE on every subscribed topic.
    const denied = (request.subscribedTopicNames ?? []).filter((t) => !allowed(context, Op.DESCRIBE, Resource.TOPIC, t));
    if (denied.length > 0) return error(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Topic authorization failed for topics ${denied.join(', ')}`);
    const { topics } = context.services;
    const outcome = await context.services.groups.consumerHeartbeat(
      {
        groupId: request.groupId,
        memberId: request.memberId,
        memberEpoch: request.memberEpoch,
        instanceId: request.instanceId,
        rackId: request.rackId,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        subscribedTopicNames: request.subscribedTopicNames,
        subscribedTopicRegex: context.apiVersion >= 1 ? request.subscribedTopicRegex : null,
        serverAssignor: request.serverAssignor,
        ownedTopicPartitions: request.topicPartitions,
        clientId: context.clientId ?? '',
        clientHost: clientHostOf(context),
        apiVersion: context.apiVersion,
      },
      (name) => topics.get(name),
      // Kafka matches regexes against the topics the member may DESCRIBE, internal topics excluded.
      () => topics.list().filter((t) => !isInternalTopic(t.name) && allowed(context, Op.DESCRIBE, Resource.TOPIC, t.name)).map((t) => t.name),
    );
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      memberId: outcome.memberId,
      memberEpoch: outcome.memberEpoch,
      heartbeatIntervalMs: outcome.heartbeatIntervalMs,
      assignment: outcome.assignment === null ? null : { topicPartitions: outcome.assignment },
    };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, errorMessage: null, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
  },
});
