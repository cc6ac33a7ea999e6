import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { MetadataRequest, MetadataResponse } from '../../protocol/messages/index.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, ZERO_UUID } from '../../protocol/sentinel-values.ts';
import { endpointOf, type TopicRecord } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import type { BrokerServices, RequestContext } from '../broker-services.ts';
import { allowed, authorizedOperations, clusterAuthorizedOperations, clusterVisible, Op, Resource, visible } from './authorize.ts';

type ResponseTopic = MetadataResponse['topics'][number];
type ResponsePartition = ResponseTopic['partitions'][number];

export const metadataApi = defineApi({
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  async handle(request, context) {
    const { services } = context;
    const brokers = services.brokers.live();
    const live = new Set(brokers.map((b) => b.brokerId));
    const topics: ResponseTopic[] = [];
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    const all = request.topics === null || (context.apiVersion === 0 && request.topics.length === 0);
    if (all) {
      // Kafka: all-topics requests list only what the principal may DESCRIBE, silently.
      for (const topic of services.topics.list()) if (visible(context, Op.DESCRIBE, Resource.TOPIC, topic.name)) topics.push(describeTopic(topic, services, live));
    } else if (context.apiVersion < 12 && (request.topics ?? []).some((t) => t.name === null || t.topicId !== ZERO_UUID)) {
      // Kafka (KafkaApis): topic ids in requests and null names need v12+; the request as a whole is
      // INVALID_REQUEST and the connection stays open. A null name is reported as '' (not nullable < 12).
      for (const wanted of request.topics ?? []) topics.push(topicError(wanted.name ?? '', wanted.topicId, ErrorCode.INVALID_REQUEST));
    } else {
      for (const wanted of request.topics ?? []) {
        topics.push(await resolveTopic(wanted.name, wanted.topicId, request, context));
      }
    }
    if (context.apiVersion >= 8 && request.includeTopicAuthorizedOperations) {
      for (const topic of topics) if (topic.errorCode === ErrorCode.NONE && topic.name !== null) topic.topicAuthorizedOperations = authorizedOperations(context, Resource.TOPIC, topic.name);
    }
    return {
      throttleTimeMs: 0,
      brokers: brokers.map((b) => ({ nodeId: b.brokerId, ...endpointOf(b, context.listenerName), rack: b.rack })),
      clusterId: services.clusterId,
      controllerId: controllerId(services),
      topics,
      clusterAuthorizedOperations: context.apiVersion >= 8 && context.apiVersion <= 10 && request.includeClusterAuthorizedOperations ? clusterAuthorizedOperations(context) : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
  errorResponse(request, errorCode, _message, context) {
    return {
      throttleTimeMs: 0,
      brokers: [],
      clusterId: context.services.clusterId,
      controllerId: -1,
      topics: (request.topics ?? []).map((t) => topicError(context.apiVersion < 12 ? (t.name ?? '') : t.name, t.topicId, errorCode)),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
});

async function resolveTopic(name: string | null, topicId: string, request: MetadataRequest, context: RequestContext): Promise<ResponseTopic> {
  const { services } = context;
  if (name === null || name === '') {
    // v10+: lookup by id.
    if (topicId === ZERO_UUID) return topicError(name, topicId, ErrorCode.INVALID_REQUEST);
    const byId = services.topics.getById(topicId);
    if (byId === undefined) return topicError(null, topicId, ErrorCode.UNKNOWN_TOPIC_ID);
    // Kafka does not reveal the name of a topic the principal may not describe.
    if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, byId.name)) return topicError(null, topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    return describeTopic(byId, services);
  }
  // Checked before existence, so an unauthorized principal cannot learn whether a topic exists.
  if (!allowed(context, Op.DESCRIBE, Resource.TOPIC, name)) return topicError(name, topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  const existing = services.topics.get(name);
  if (existing !== undefined) return describeTopic(existing, services);
  if (!services.settings.autoCreateTopics || !request.allowAutoTopicCreation) {
    return topicError(name, topicId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  if (!clusterVisible(context, Op.CREATE) && !allowed(context, Op.CREATE, Resource.TOPIC, name)) {
    return topicError(name, topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  }
  const created = await services.topics.create(name, services.settings.defaultPartitions, {});
  if (created.topic !== null) {
    context.log.info({ topic: name, partitions: created.topic.partitions }, 'topic auto-created by a Metadata request');
    return describeTopic(created.topic, services);
  }
  if (created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
    // Another broker or request created it at the same moment.
    const raced = services.topics.get(name);
    if (raced !== undefined) return describeTopic(raced, services);
    return topicError(name, topicId, ErrorCode.LEADER_NOT_AVAILABLE);
  }
  return topicError(name, topicId, created.errorCode);
}

/**
 * `liveBrokerIds` must be the ids of the broker list sent in the same response: a leader missing from
 * it (its registration and its owner key are seen through different watches, so they can disagree for
 * a moment) is reported as Kafka reports an offline leader — leader -1 with LEADER_NOT_AVAILABLE — since
 * clients fail on a leader id they cannot resolve.
 */
export function describeTopic(topic: TopicRecord, services: BrokerServices, liveBrokerIds: ReadonlySet<number> = liveIds(services)): ResponseTopic {
  const partitions: ResponsePartition[] = [];
  for (let index = 0; index < topic.partitions; index++) {
    const leader = services.leaders.leaderOf(topic.id, index);
    if (!liveBrokerIds.has(leader.brokerId)) {
      partitions.push({
        errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
        partitionIndex: index,
        leaderId: -1,
        leaderEpoch: leader.epoch,
        replicaNodes: [leader.brokerId],
        isrNodes: [],
        offlineReplicas: [leader.brokerId],
      });
      continue;
    }
    partitions.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: index,
      leaderId: leader.brokerId,
      leaderEpoch: leader.epoch,
      replicaNodes: [leader.brokerId],
      isrNodes: [leader.brokerId],
      offlineReplicas: [],
    });
  }
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: false,
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function topicError(name: string | null, topicId: string, errorCode: number): ResponseTopic {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function liveIds(services: BrokerServices): Set<number> {
  return new Set(services.brokers.live().map((b) => b.brokerId));
}

/** There is no controller in kafscale; admin requests go to any broker. Report the lowest live id. */
export function controllerId(services: BrokerServices): number {
  return services.brokers.live()[0]?.brokerId ?? services.settings.brokerId;
}
