import type { BrokerSettings } from '../broker/broker-services.ts';
import type { KafscaleConfig } from '../config/index.ts';
import { TOPIC_CONFIGS } from '../services/cluster/index.ts';

/** What the handlers know of the broker's config; DescribeConfigs reports `describedBrokerConfigs`. */
export function brokerSettings(config: KafscaleConfig): BrokerSettings {
  return {
    brokerId: config.broker.id,
    autoCreateTopics: config.topics.autoCreate,
    defaultPartitions: config.topics.autoCreatePartitions,
    socketRequestMaxBytes: config.socket.requestMaxBytes,
    describedBrokerConfigs: {
      'broker.id': String(config.broker.id),
      'auto.create.topics.enable': String(config.topics.autoCreate),
      'num.partitions': String(config.topics.autoCreatePartitions),
      // No replicas: every acknowledged write is durable in object storage (topic-configs.ts).
      'default.replication.factor': '1',
      'min.insync.replicas': TOPIC_CONFIGS['min.insync.replicas'].defaultValue,
      'socket.request.max.bytes': String(config.socket.requestMaxBytes),
      'connections.max.idle.ms': String(config.socket.connectionsMaxIdleMs),
      'queued.max.request.bytes': String(config.socket.queuedMaxRequestBytes),
      'max.connections': String(config.socket.maxConnections),
      'max.connections.per.ip': String(config.socket.maxConnectionsPerIp),
      // The broker-wide defaults of the topic configs are the topic configs' own defaults.
      'message.max.bytes': TOPIC_CONFIGS['max.message.bytes'].defaultValue,
      'log.retention.ms': TOPIC_CONFIGS['retention.ms'].defaultValue,
      'log.retention.bytes': TOPIC_CONFIGS['retention.bytes'].defaultValue,
      'log.segment.bytes': TOPIC_CONFIGS['segment.bytes'].defaultValue,
      'group.initial.rebalance.delay.ms': String(config.groups.initialRebalanceDelayMs),
      'group.min.session.timeout.ms': String(config.groups.minSessionTimeoutMs),
      'group.max.session.timeout.ms': String(config.groups.maxSessionTimeoutMs),
      'offsets.retention.minutes': String(config.groups.offsetsRetentionMinutes),
      'max.incremental.fetch.session.cache.slots': String(config.fetchSessions.maxSlots),
      'broker.rack': config.broker.rack ?? '',
    },
  };
}
