/**
 * Topic metadata is durable: topics, partition counts, topic ids and altered configs come back the
 * same after a graceful restart (SIGTERM) and after a crash (kill -9), on the same data directory.
 * Driven over the raw wire client (Metadata v12 carries topic ids, which kafkajs does not show).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';

const TOPIC_RESOURCE = 2;
const SET = 0;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

let broker: BrokerProcess;
const kept = `restart-kept-${randomUUID().slice(0, 8)}`;
const grown = `restart-grown-${randomUUID().slice(0, 8)}`;
const deleted = `restart-deleted-${randomUUID().slice(0, 8)}`;

interface TopicSnapshot {
  topicId: string;
  partitions: number[];
  retentionMs: string | null | undefined;
}

async function withClient<T>(use: (client: WireClient) => Promise<T>): Promise<T> {
  const client = await WireClient.connect(broker.host, broker.port);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function snapshot(): Promise<Record<string, TopicSnapshot | 'absent'>> {
  return withClient(async (client) => {
    const names = [kept, grown, deleted];
    const metadata = await client.send(3, 12, {
      topics: names.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const result: Record<string, TopicSnapshot | 'absent'> = {};
    for (const name of names) {
      const topic = metadata.topics.find((t) => t.name === name);
      if (topic === undefined || topic.errorCode === 3) {
        result[name] = 'absent';
        continue;
      }
      assert.equal(topic.errorCode, 0, `metadata error for ${name}`);
      const configs = await client.send(32, 4, {
        resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: ['retention.ms'] }],
        includeSynonyms: false,
        includeDocumentation: false,
      });
      result[name] = {
        topicId: topic.topicId,
        partitions: topic.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b),
        retentionMs: configs.results[0]?.configs.find((c) => c.name === 'retention.ms')?.value,
      };
    }
    return result;
  });
}

let before1: Record<string, TopicSnapshot | 'absent'>;

before(async () => {
  broker = await startBroker();
  await withClient(async (client) => {
    const created = await client.send(19, 7, {
      topics: [
        { name: kept, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '86400000' }] },
        { name: grown, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: deleted, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    assert.deepEqual(created.topics.map((t) => [t.name, t.errorCode]), [[kept, 0], [grown, 0], [deleted, 0]]);
    const increased = await client.send(37, 3, { topics: [{ name: grown, count: 4, assignments: null }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(increased.results[0]?.errorCode, 0);
    const altered = await client.send(44, 1, {
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: grown, configs: [{ name: 'retention.ms', configOperation: SET, value: '3600000' }] }],
      validateOnly: false,
    });
    assert.equal(altered.responses[0]?.errorCode, 0);
    const removed = await client.send(20, 6, { topics: [{ name: deleted, topicId: ZERO_UUID }], timeoutMs: 10_000 });
    assert.equal(removed.responses[0]?.errorCode, 0);
  });
  before1 = await snapshot();
});

after(async () => {
  await broker?.stop();
});

test('the state before any restart is what was asked for', () => {
  const keptState = before1[kept];
  const grownState = before1[grown];
  assert.ok(keptState !== 'absent' && keptState !== undefined);
  assert.ok(grownState !== 'absent' && grownState !== undefined);
  assert.notEqual(keptState.topicId, ZERO_UUID);
  assert.notEqual(keptState.topicId, grownState.topicId);
  assert.deepEqual(keptState.partitions, [0, 1]);
  assert.equal(keptState.retentionMs, '86400000');
  assert.deepEqual(grownState.partitions, [0, 1, 2, 3]);
  assert.equal(grownState.retentionMs, '3600000');
  assert.equal(before1[deleted], 'absent');
});

test('everything survives a graceful restart (SIGTERM)', async () => {
  const oldPid = broker.pid;
  await broker.restart();
  assert.notEqual(broker.pid, oldPid);
  assert.deepEqual(await snapshot(), before1);
});

test('everything survives kill -9', async () => {
  await broker.kill();
  await broker.restart();
  assert.deepEqual(await snapshot(), before1);
});
