/**
 * @platformatic/kafka 2.x Admin against a real broker (this milestone: topics and configs).
 *
 * Expected to pass: createTopics with configs (returns the topic id), listTopics, metadata (brokers,
 * partition count, leader), describeConfigs for a topic and for the broker, alterConfigs,
 * incrementalAlterConfigs, createPartitions increase, decrease rejected with INVALID_PARTITIONS,
 * createTopics of an existing topic rejected with TOPIC_ALREADY_EXISTS, deleteTopics.
 * Known to fail: none known. The client has no describeCluster; the cluster view comes from Metadata.
 * It uses the newest versions it knows (CreateTopics v7, Metadata v12, DescribeConfigs v4), so this
 * suite exercises the flexible (compact, tagged-field) encodings.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBroker();
  admin = new Admin({
    clientId: 'kafscale-compat-platformatic',
    bootstrapBrokers: [broker.bootstrap],
    // Expected failures are not retriable; a hang should fail the test, not stall it.
    retries: 1,
    timeout: 10_000,
  });
});

after(async () => {
  await admin?.close();
  await broker?.stop();
});

/** ResponseError aggregates ProtocolErrors that carry the broker's error name in `apiId`. */
function protocolErrorIds(error: unknown, seen = new Set<unknown>()): string[] {
  if (error === null || typeof error !== 'object' || seen.has(error)) return [];
  seen.add(error);
  const value = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  const ids = typeof value.apiId === 'string' ? [value.apiId] : [];
  const nested = [value.cause, ...(Array.isArray(value.errors) ? value.errors : [])];
  return [...ids, ...nested.flatMap((inner) => protocolErrorIds(inner, seen))];
}

async function rejectsWith(promise: Promise<unknown>, apiId: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const ids = protocolErrorIds(error);
    assert.ok(ids.includes(apiId), `expected ${apiId}, got ${ids.join(', ') || String(error)}`);
    return true;
  });
}

const uniqueTopic = (label: string): string => `platformatic-${label}-${randomUUID().slice(0, 8)}`;

async function topicConfig(topic: string, name: string): Promise<string | null | undefined> {
  const [description] = await admin.describeConfigs({
    resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [name] }],
  });
  return description?.configs.find((config) => config.name === name)?.value;
}

test('metadata lists this broker with its advertised host and port', async () => {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true });
  assert.equal(metadata.brokers.size, 1);
  const [nodeId, only] = [...metadata.brokers][0] ?? [];
  assert.equal(only?.host, broker.host);
  assert.equal(only?.port, broker.port);
  assert.equal(metadata.controllerId, nodeId);
  assert.ok(metadata.id.length > 0, 'cluster id is set');
});

test('createTopics with configs returns the topic; listTopics and metadata see it', async () => {
  const topic = uniqueTopic('create');
  const [created] = await admin.createTopics({
    topics: [topic],
    partitions: 3,
    replicas: 1,
    configs: [{ name: 'retention.ms', value: '86400000' }],
  });
  assert.equal(created?.name, topic);
  assert.equal(created?.partitions, 3);
  assert.match(created?.id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.notEqual(created?.id, '00000000-0000-0000-0000-000000000000');
  assert.ok((await admin.listTopics()).includes(topic));

  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const described = metadata.topics.get(topic);
  assert.equal(described?.partitionsCount, 3);
  assert.equal(described?.id, created?.id);
  const [brokerId] = metadata.brokers.keys();
  for (const partition of described?.partitions ?? []) assert.equal(partition.leader, brokerId);

  await rejectsWith(admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }), 'TOPIC_ALREADY_EXISTS');
});

test('describeConfigs shows creation configs for a topic, and the broker has configs', async () => {
  const topic = uniqueTopic('describe');
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: [{ name: 'retention.ms', value: '123456' }] });
  assert.equal(await topicConfig(topic, 'retention.ms'), '123456');

  const metadata = await admin.metadata({ topics: [], forceUpdate: true });
  const [brokerId] = metadata.brokers.keys();
  const [brokerConfigs] = await admin.describeConfigs({
    resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(brokerId) }],
  });
  assert.ok((brokerConfigs?.configs.length ?? 0) > 0, 'the broker describes at least one config');
});

test('alterConfigs and incrementalAlterConfigs change a topic config', async () => {
  const topic = uniqueTopic('alter');
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  await admin.alterConfigs({
    resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs: [{ name: 'retention.ms', value: '3600000' }] }],
  });
  assert.equal(await topicConfig(topic, 'retention.ms'), '3600000');
  await admin.incrementalAlterConfigs({
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: topic,
        configs: [{ name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '7200000' }],
      },
    ],
  });
  assert.equal(await topicConfig(topic, 'retention.ms'), '7200000');
});

test('createPartitions increases the count; a decrease is INVALID_PARTITIONS', async () => {
  const topic = uniqueTopic('partitions');
  await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
  await admin.createPartitions({ topics: [{ name: topic, count: 4 }] });
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  assert.equal(metadata.topics.get(topic)?.partitionsCount, 4);
  await rejectsWith(admin.createPartitions({ topics: [{ name: topic, count: 1 }] }), 'INVALID_PARTITIONS');
});

test('deleteTopics removes the topic; deleting it again is UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const topic = uniqueTopic('delete');
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  await admin.deleteTopics({ topics: [topic] });
  assert.equal((await admin.listTopics()).includes(topic), false);
  await rejectsWith(admin.deleteTopics({ topics: [topic] }), 'UNKNOWN_TOPIC_OR_PARTITION');
});
