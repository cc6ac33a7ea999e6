import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../../protocol/messages/index.ts';
import { CONFIG_TYPE_CODE, ConfigSource, TOPIC_CONFIGS, type TopicConfigName } from '../../services/cluster/index.ts';
import { defineApi } from '../api-handler.ts';
import type { BrokerServices } from '../broker-services.ts';
import { Op } from './authorize.ts';
import { checkBrokerResource, configAccessDenied, ResourceType, unsupportedResource } from './config-resources.ts';

type Result = DescribeConfigsResponse['results'][number];
type Entry = Result['configs'][number];
type Resource = DescribeConfigsRequest['resources'][number];

/** Kafka's ConfigSource for a per-group config (KIP-848). */
const DYNAMIC_GROUP_CONFIG = 8;

/**
 * DescribeConfigs 0–4. v0 (KIP-896 removed it in Kafka 4.0; sarama still sends it) answers `isDefault`
 * instead of a config source and has no synonyms, config types or documentation: the codec writes only
 * the fields of the version, and isDefault is set on every entry.
 */
export const describeConfigsApi = defineApi({
  apiKey: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  async handle(request, context) {
    const results = request.resources.map((resource): Result => {
      const denied = configAccessDenied(resource.resourceType, resource.resourceName, Op.DESCRIBE_CONFIGS, context);
      if (denied !== null) return { ...denied, resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [] };
      return describeResource(resource, request, context.services);
    });
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode, errorMessage) {
    return {
      throttleTimeMs: 0,
      results: request.resources.map((r) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] })),
    };
  },
});

function describeResource(resource: Resource, request: DescribeConfigsRequest, services: BrokerServices): Result {
  const wanted = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
  if (resource.resourceType === ResourceType.TOPIC) {
    const topic = services.topics.get(resource.resourceName);
    if (topic === undefined) {
      return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic '${resource.resourceName}' does not exist.`, configs: [] };
    }
    const configs: Entry[] = [];
    for (const name of Object.keys(TOPIC_CONFIGS) as TopicConfigName[]) {
      if (wanted !== null && !wanted.has(name)) continue;
      const def = TOPIC_CONFIGS[name];
      const override = topic.configs[name];
      const source = override === undefined ? ConfigSource.DEFAULT_CONFIG : ConfigSource.DYNAMIC_TOPIC_CONFIG;
      const synonyms = [];
      if (request.includeSynonyms) {
        if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
        synonyms.push({ name, value: def.defaultValue, source: ConfigSource.DEFAULT_CONFIG });
      }
      configs.push(entry(name, override ?? def.defaultValue, false, source, synonyms, CONFIG_TYPE_CODE[def.type], request.includeDocumentation ? documentation(def.effect) : null));
    }
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  }
  if (resource.resourceType === ResourceType.BROKER) {
    const check = checkBrokerResource(resource.resourceName, services);
    if (check.errorCode !== ErrorCode.NONE) return { ...base, ...check, configs: [] };
    const configs: Entry[] = [];
    for (const [name, value] of Object.entries(services.settings.describedBrokerConfigs)) {
      if (wanted !== null && !wanted.has(name)) continue;
      const synonyms = request.includeSynonyms ? [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }] : [];
      configs.push(entry(name, value, true, ConfigSource.STATIC_BROKER_CONFIG, synonyms, 0, null));
    }
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  }
  if (resource.resourceType === ResourceType.GROUP) {
    // KIP-848 group configs: the group's override (DYNAMIC_GROUP_CONFIG), else the broker's group.* setting.
    const groups = services.groups;
    const config = groups.groupConfig(resource.resourceName);
    const values: Record<string, [number, number]> = {
      'consumer.session.timeout.ms': [config.sessionTimeoutMs, groups.consumerSessionTimeoutMs],
      'consumer.heartbeat.interval.ms': [config.heartbeatIntervalMs, groups.consumerHeartbeatIntervalMs],
    };
    const configs: Entry[] = [];
    for (const [name, [value, brokerValue]] of Object.entries(values)) {
      if (wanted !== null && !wanted.has(name)) continue;
      const source = config.overridden.has(name) ? DYNAMIC_GROUP_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;
      const synonyms = [];
      if (request.includeSynonyms) {
        if (source === DYNAMIC_GROUP_CONFIG) synonyms.push({ name, value: String(value), source });
        synonyms.push({ name: `group.${name}`, value: String(brokerValue), source: ConfigSource.STATIC_BROKER_CONFIG });
      }
      configs.push(entry(name, String(value), false, source, synonyms, CONFIG_TYPE_CODE.int, null));
    }
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  }
  return { ...base, ...unsupportedResource(resource.resourceType), configs: [] };
}

function entry(name: string, value: string, readOnly: boolean, configSource: number, synonyms: Entry['synonyms'], configType: number, doc: string | null): Entry {
  return {
    name,
    value,
    readOnly,
    isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
    configSource,
    isSensitive: false,
    synonyms,
    configType,
    documentation: doc,
  };
}

function documentation(effect: 'enforced' | 'accepted'): string {
  return effect === 'enforced'
    ? 'Enforced by kafscale with Kafka semantics.'
    : 'Accepted and stored for compatibility; no effect in kafscale (acknowledged data is already durable in object storage).';
}
