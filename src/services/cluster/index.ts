/** Public face of the cluster services: brokers, topics and their configs, partition leaders. */
export { BrokerRegistry, endpointOf, type BrokerInfo, type ListenerEndpoint } from './broker-registry.ts';
export { PartitionLeaders, type PartitionLeader } from './partition-leaders.ts';
export { TopicRegistry, MAX_PARTITIONS_PER_TOPIC, type AdminOutcome, type ConfigAlteration, type CreateTopicOutcome, type TopicChange, type TopicRecord } from './topic-registry.ts';
export { CONFIG_TYPE_CODE, ConfigSource, TOPIC_CONFIGS, isTopicConfigName, topicConfigNumber, topicConfigProblem, type ConfigValueType, type TopicConfigDef, type TopicConfigName } from './topic-configs.ts';
export { isInternalTopic, MAX_TOPIC_NAME_LENGTH, topicNameProblem } from './topic-name.ts';
