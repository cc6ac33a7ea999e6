/**
 * kafkajs 2.2.4 admin client against a real broker (this milestone: topics and configs).
 *
 * Expected to pass: createTopics with configEntries, listTopics, fetchTopicMetadata (partition count,
 * leader = the broker), describeConfigs for a topic and for the broker, alterConfigs (non-incremental:
 * replaces the topic's dynamic configs), createPartitions increase, decrease rejected with
 * INVALID_PARTITIONS, createTopics of an existing topic (kafkajs returns false), deleteTopics,
 * describeCluster.
 * Known to fail: none known. kafkajs negotiates the highest version it knows (CreateTopics v3,
 * DeleteTopics v1, DescribeConfigs v2, Metadata v6), all inside the broker's ranges, so no fallback
 * path is needed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin } from 'kafkajs';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

// kafkajs is CommonJS without named-export hints that Node can detect; take the values off the default.
const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBroker();
  const kafka = new Kafka({
    clientId: 'kafscale-compat-kafkajs',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    // Few retries: every expected failure below is non-retriable, and a real fault should fail fast.
    retry: { retries: 2, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

/** kafkajs wraps broker errors (KafkaJSProtocolError in .cause / .errors); collect every `type`. */
function errorTypes(error: unknown, seen = new Set<unknown>()): string[] {
  if (error === null || typeof error !== 'object' || seen.has(error)) return [];
  seen.add(error);
  const value = error as { type?: unknown; cause?: unknown; errors?: unknown; originalError?: unknown };
  const types = typeof value.type === 'string' ? [value.type] : [];
  const nested = [value.cause, value.originalError, ...(Array.isArray(value.errors) ? value.errors : [])];
  return [...types, ...nested.flatMap((inner) => errorTypes(inner, seen))];
}

async function rejectsWithType(promise: Promise<unknown>, type: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(errorTypes(error).includes(type), `expected ${type}, got ${errorTypes(error).join(', ') || String(error)}`);
    return true;
  });
}

const uniqueTopic = (label: string): string => `kafkajs-${label}-${randomUUID().slice(0, 8)}`;

function configValue(
  resources: Array<{ resourceName: string; configEntries: Array<{ configName: string; configValue: string }> }>,
  resourceName: string,
  configName: string,
): string | undefined {
  const resource = resources.find((r) => r.resourceName === resourceName);
  return resource?.configEntries.find((entry) => entry.configName === configName)?.configValue;
}

test('describeCluster names this broker as the only broker and the controller', async () => {
  const cluster = await admin.describeCluster();
  assert.equal(cluster.brokers.length, 1);
  const [only] = cluster.brokers;
  assert.equal(only?.host, broker.host);
  assert.equal(only?.port, broker.port);
  assert.equal(cluster.controller, only?.nodeId);
  assert.equal(typeof cluster.clusterId, 'string');
  assert.ok(cluster.clusterId.length > 0);
});

test('createTopics with configs, then listTopics and fetchTopicMetadata see it', async () => {
  const topic = uniqueTopic('create');
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
  });
  assert.equal(created, true);
  assert.ok((await admin.listTopics()).includes(topic));
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(topics.length, 1);
  assert.equal(topics[0]?.name, topic);
  const partitions = [...(topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId);
  assert.deepEqual(partitions.map((p) => p.partitionId), [0, 1, 2]);
  const { brokers } = await admin.describeCluster();
  for (const partition of partitions) {
    assert.equal(partition.partitionErrorCode, 0);
    assert.equal(partition.leader, brokers[0]?.nodeId);
  }
  // An existing topic is not an error to kafkajs: it reports "not created".
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), false);
});

test('describeConfigs shows topic configs set at creation and the broker configs', async () => {
  const topic = uniqueTopic('describe');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '123456' }] }] });
  const topicConfigs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
  });
  assert.equal(topicConfigs.resources[0]?.errorCode, 0);
  assert.equal(configValue(topicConfigs.resources, topic, 'retention.ms'), '123456');

  const { brokers } = await admin.describeCluster();
  const brokerName = String(brokers[0]?.nodeId);
  const brokerConfigs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: brokerName }],
  });
  assert.equal(brokerConfigs.resources[0]?.errorCode, 0);
  assert.ok((brokerConfigs.resources[0]?.configEntries.length ?? 0) > 0, 'the broker describes at least one config');
});

test('alterConfigs changes a topic config', async () => {
  const topic = uniqueTopic('alter');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
  });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
  });
  assert.equal(configValue(described.resources, topic, 'retention.ms'), '3600000');
});

test('createPartitions increases the count; a decrease is rejected with INVALID_PARTITIONS', async () => {
  const topic = uniqueTopic('partitions');
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(topics[0]?.partitions.length, 5);
  await rejectsWithType(admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] }), 'INVALID_PARTITIONS');
  const again = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(again.topics[0]?.partitions.length, 5);
});

test('deleteTopics removes the topic; deleting it again is UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const topic = uniqueTopic('delete');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.deleteTopics({ topics: [topic] });
  assert.equal((await admin.listTopics()).includes(topic), false);
  await rejectsWithType(admin.deleteTopics({ topics: [topic] }), 'UNKNOWN_TOPIC_OR_PARTITION');
});
