import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { CreateTopicsResponse } from '../../protocol/messages/index.ts';
import { ConfigSource, TOPIC_CONFIGS, type TopicConfigName, type TopicRecord } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import { allowed, clusterVisible, Op, Resource, visible } from './authorize.ts';
import { ZERO_UUID } from '../../protocol/sentinel-values.ts';

type ResultTopic = CreateTopicsResponse['topics'][number];

/**
 * CreateTopics. Replication is object storage's job in kafscale, so any replication factor ≥ 1 (or -1,
 * the broker default) is accepted and reported as 1; explicit replica assignments only give the
 * partition count (placement is dynamic ownership, not a static assignment). v0 has no validateOnly and
 * answers only name and error code, v1 adds the error message; v5+ the created topic's details.
 */
export const createTopicsApi = defineApi({
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  async handle(request, context) {
    const { topics } = context.services;
    const counts = new Map<string, number>();
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results: ResultTopic[] = [];
    // Kafka: CREATE on the cluster covers every topic; otherwise CREATE on each topic.
    const clusterCreate = clusterVisible(context, Op.CREATE);
    for (const wanted of request.topics) {
      if ((counts.get(wanted.name) ?? 0) > 1) {
        results.push(failed(wanted.name, ErrorCode.INVALID_REQUEST, `Duplicate topic name ${wanted.name} in the request.`));
        continue;
      }
      if (!clusterCreate && !allowed(context, Op.CREATE, Resource.TOPIC, wanted.name)) {
        results.push(failed(wanted.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Not authorized to CREATE topic '${wanted.name}' (needs CREATE on the topic or the cluster).`));
        continue;
      }
      let partitions = wanted.numPartitions;
      if (wanted.assignments.length > 0) {
        if (wanted.numPartitions !== -1 || wanted.replicationFactor !== -1) {
          results.push(failed(wanted.name, ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.'));
          continue;
        }
        partitions = wanted.assignments.length;
      } else if (partitions === -1) {
        partitions = context.services.settings.defaultPartitions;
      }
      if (wanted.replicationFactor === 0 || wanted.replicationFactor < -1) {
        results.push(failed(wanted.name, ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor must be larger than 0, or -1 to use the default (got ${wanted.replicationFactor}).`));
        continue;
      }
      const configs: Record<string, string | null> = {};
      for (const c of wanted.configs) configs[c.name] = c.value;
      const outcome = await topics.create(wanted.name, partitions, configs, { validateOnly: request.validateOnly });
      if (outcome.topic === null) {
        results.push(failed(wanted.name, outcome.errorCode, outcome.errorMessage));
        continue;
      }
      // The created topic's configs are returned only to a principal that may DESCRIBE_CONFIGS it (Kafka).
      results.push(visible(context, Op.DESCRIBE_CONFIGS, Resource.TOPIC, wanted.name) ? success(outcome.topic) : { ...success(outcome.topic), configs: null, topicConfigErrorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    }
    return { throttleTimeMs: 0, topics: results };
  },
  errorResponse(request, errorCode, errorMessage) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => failed(t.name, errorCode, errorMessage)) };
  },
});

function success(topic: TopicRecord): ResultTopic {
  return {
    name: topic.name,
    topicId: topic.id,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: topic.partitions,
    replicationFactor: 1,
    configs: (Object.keys(TOPIC_CONFIGS) as TopicConfigName[]).map((name) => {
      const override = topic.configs[name];
      return {
        name,
        value: override ?? TOPIC_CONFIGS[name].defaultValue,
        readOnly: false,
        configSource: override === undefined ? ConfigSource.DEFAULT_CONFIG : ConfigSource.DYNAMIC_TOPIC_CONFIG,
        isSensitive: false,
      };
    }),
  };
}

function failed(name: string, errorCode: number, errorMessage: string | null): ResultTopic {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}
