/**
 * Real clients through one `kafscale proxy` in front of three brokers (real etcd, s3rver): kcat,
 * kafka-python, confluent-kafka (librdkafka), kafkajs and @platformatic/kafka each create a topic or
 * make another admin call, produce, consume in a consumer group with commits, and read the commits
 * back — knowing only the proxy's address. Also: the proxy presents itself as the only broker (with
 * the real leader epochs), and a Fetch over partitions owned by three brokers answers as soon as one
 * of them has data.
 */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { useClusterWithTopic } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { proxyInFrontOf, type ProxyProcess } from './proxy-process.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const PARTITIONS = 6;
const PYTHON = '/usr/bin/python3';
const PYTHON_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'python-clients.py');
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const fixture = useClusterWithTopic({ topicPrefix: 'proxy', partitions: PARTITIONS, sessionTtlMs: 2_000 });
const proxyOf = proxyInFrontOf(fixture);
let proxy: ProxyProcess;
beforeEach(async () => {
  proxy = await proxyOf();
});

const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

test('the proxy is the only broker: Metadata, DescribeCluster and FindCoordinator name it; leader epochs are the real ones', async () => {
  const { cluster, topic } = fixture;
  const real = await cluster.waitForLeaders(topic, PARTITIONS, 15_000);
  assert.ok(new Set(real.partitions.map((p) => p.leaderId)).size > 1, 'the topic is spread over several brokers');
  const client = await WireClient.connect(proxy.host, proxy.port);
  try {
    const metadata = await client.send(3, 12, { topics: [{ topicId: ZERO_UUID, name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(metadata.brokers.map((b) => [b.nodeId, b.host, b.port]), [[0, proxy.host, proxy.port]]);
    assert.equal(metadata.controllerId, 0);
    const partitions = metadata.topics[0]?.partitions ?? [];
    assert.equal(partitions.length, PARTITIONS);
    for (const p of partitions) {
      assert.equal(p.leaderId, 0);
      assert.deepEqual(p.replicaNodes, [0]);
      assert.equal(p.leaderEpoch, real.partitions[p.partitionIndex]?.leaderEpoch, `partition ${p.partitionIndex} keeps its real leader epoch`);
    }
    const cluster60 = await client.send(60, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    assert.deepEqual(cluster60.brokers.map((b) => [b.brokerId, b.host, b.port]), [[0, proxy.host, proxy.port]]);
    const found = await client.send(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] });
    assert.deepEqual(found.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]), [['g1', 0, proxy.host, proxy.port, 0], ['g2', 0, proxy.host, proxy.port, 0]]);
    const versions = await client.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '0' });
    const range = (key: number) => versions.apiKeys.find((a) => a.apiKey === key);
    assert.equal(range(0)?.maxVersion, 11, 'Produce up to v11 (what the brokers serve)');
    assert.equal(range(17), undefined, 'SASL is not advertised (not passed through yet)');
  } finally {
    client.close();
  }
});

test('a Fetch over partitions on three brokers answers as soon as one of them has data', async () => {
  const { cluster, topic } = fixture;
  const real = await cluster.waitForLeaders(topic, PARTITIONS, 15_000);
  const client = await WireClient.connect(proxy.host, proxy.port);
  try {
    const ends = await client.send(2, 7, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: topic, partitions: real.partitions.map((p) => ({ partitionIndex: p.partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 })) }],
    });
    const offsets = new Map((ends.topics[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
    const fetchAll = (maxWaitMs: number) => client.send(1, 12, {
      replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, topicId: ZERO_UUID, partitions: real.partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: offsets.get(p.partition) ?? 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID })) }],
      forgottenTopicsData: [], rackId: '',
    }, 20_000);

    // Idle everywhere: the long poll lasts its MaxWaitMs.
    let started = Date.now();
    const idle = await fetchAll(1_000);
    assert.ok(Date.now() - started >= 900, `an idle fetch waited ${Date.now() - started} ms of its 1000`);
    assert.equal(idle.responses.flatMap((t) => t.partitions).length, PARTITIONS, 'every partition is answered');

    // Data arrives on one partition while the fetch waits: the answer comes at once, not after 8 s.
    started = Date.now();
    const pending = fetchAll(8_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const kafka = new kafkajs.Kafka({ clientId: 'proxy-fetch-test', brokers: [proxy.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'wake-up', partition: 3 }] });
    await producer.disconnect();
    const woke = await pending;
    const elapsed = Date.now() - started;
    const withData = woke.responses.flatMap((t) => t.partitions).filter((p) => (p.records?.length ?? 0) > 0);
    assert.deepEqual(withData.map((p) => p.partitionIndex), [3]);
    assert.ok(elapsed < 5_000, `the fetch answered ${elapsed} ms after it started (data came after ~300 ms plus the produce)`);
    assert.equal(woke.responses.flatMap((t) => t.partitions).length, PARTITIONS, 'the idle partitions are answered too (no records)');
  } finally {
    client.close();
  }
});

test('kcat: metadata, produce to every partition and consume everything back through the proxy', async () => {
  const { topic } = fixture;
  const listing = JSON.parse((await run('kcat', ['-L', '-J', '-b', proxy.bootstrap, '-t', topic], { timeout: 20_000 })).stdout) as {
    brokers: Array<{ id: number; name: string }>;
    topics: Array<{ partitions: Array<{ leader: number }> }>;
  };
  assert.deepEqual(listing.brokers.map((b) => b.name), [proxy.bootstrap]);
  assert.ok(listing.topics[0]?.partitions.every((p) => p.leader === 0));
  const values = Array.from({ length: 60 }, (_, i) => `kcat-${i}`);
  // One kcat per partition (-p), so every partition (and every broker) gets writes.
  for (let p = 0; p < PARTITIONS; p++) {
    const input = values.filter((_, i) => i % PARTITIONS === p).join('\n') + '\n';
    const child = execFile('kcat', ['-P', '-b', proxy.bootstrap, '-t', topic, '-p', String(p), '-X', 'acks=all'], { timeout: 30_000 });
    child.stdin?.end(input);
    await new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}`)))));
  }
  const consumed = await run('kcat', ['-C', '-b', proxy.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-f', '%s\\n'], { timeout: 30_000 });
  const seen = consumed.stdout.split('\n').filter((line) => line.startsWith('kcat-'));
  assert.deepEqual([...new Set(seen)].sort(), [...values].sort());
});

async function runPython(client: 'kafka-python' | 'confluent'): Promise<Record<string, unknown>> {
  const topic = uniqueName(`proxy-${client}`);
  const group = uniqueName(`g-${client}`);
  const { stdout, stderr } = await run(PYTHON, [PYTHON_SCRIPT, client, proxy.bootstrap, topic, group, '30'], { timeout: 120_000 });
  const last = stdout.trim().split('\n').pop() ?? '{}';
  const out = JSON.parse(last) as Record<string, unknown>;
  assert.equal(out['error'], undefined, `${client} failed: ${String(out['error'])}\n${stderr.slice(-2_000)}`);
  return { ...out, topic, group };
}

for (const client of ['kafka-python', 'confluent'] as const) {
  test(`${client}: create a topic, produce, consume in a group with commits, list groups — through the proxy`, { timeout: 150_000 }, async () => {
    const out = await runPython(client);
    assert.deepEqual(out['create'], [[out['topic'], 0]]);
    assert.equal(out['listed'], true);
    const acked = out['acked'] as Array<[number, number]>;
    assert.equal(acked.length, 30, `every message acknowledged (errors: ${JSON.stringify(out['produce_errors'] ?? [])})`);
    const seen = out['seen'] as string[];
    const prefix = client === 'kafka-python' ? 'kp' : 'ck';
    assert.deepEqual([...new Set(seen)].sort(), Array.from({ length: 30 }, (_, i) => `${prefix}-${i}`).sort());
    // Ten messages per partition, committed up to the end of each.
    const committed = out['committed'] as Record<string, number | { offset?: number } | null>;
    const offsetOf = (value: unknown): number => (typeof value === 'number' ? value : Number((value as { offset?: number } | null)?.offset ?? -1));
    for (const p of ['0', '1', '2']) assert.equal(offsetOf(committed[p]), 10, `partition ${p} committed to its end`);
    assert.ok((out['groups'] as string[]).includes(out['group'] as string), 'the group is listed (ListGroups merged from every broker)');
  });
}

test('kafkajs: admin, produce, a consumer group with commits, offsets read back — through the proxy', { timeout: 90_000 }, async () => {
  const topic = uniqueName('proxy-kafkajs');
  const groupId = uniqueName('g-kafkajs');
  const kafka = new kafkajs.Kafka({ clientId: 'proxy-kafkajs', brokers: [proxy.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true }), true);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const values = Array.from({ length: 40 }, (_, i) => `kjs-${i}`);
    await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ value, partition: i % 4 })) });
    await producer.disconnect();
    const ends = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(ends.map((e) => Number(e.high)).sort(), [10, 10, 10, 10]);

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    await consumer.connect();
    const seen = new Set<string>();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`kafkajs consumed ${seen.size} of 40 in 40 s`)), 40_000);
        void consumer.run({
          autoCommitInterval: 100,
          eachMessage: async ({ message }) => {
            seen.add(message.value?.toString() ?? '');
            if (seen.size === values.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      // Commits reach the end of every partition.
      let committed: number[] = [];
      await waitFor('the commits at the end of every partition', async () => {
        const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
        committed = (offsets[0]?.partitions ?? []).map((p) => Number(p.offset)).sort();
        return committed.length === 4 && committed.every((o) => o === 10);
      }, { timeoutMs: 15_000, intervalMs: 200, detail: () => `committed ${JSON.stringify(committed)}` });
      assert.deepEqual(committed, [10, 10, 10, 10]);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual([...seen].sort(), [...values].sort());
    const groups = await admin.listGroups();
    assert.ok(groups.groups.some((g) => g.groupId === groupId));
    const described = await admin.describeGroups([groupId]);
    assert.equal(described.groups[0]?.groupId, groupId);
    assert.equal(described.groups[0]?.state, 'Empty', 'the group is described by its coordinator, through the proxy');
  } finally {
    await admin.disconnect();
  }
});

test('@platformatic/kafka: admin, produce, a consumer group with commits — through the proxy', { timeout: 90_000 }, async (t) => {
  const topic = uniqueName('proxy-platformatic');
  const groupId = uniqueName('g-platformatic');
  const options = { clientId: 'proxy-platformatic', bootstrapBrokers: [proxy.bootstrap], retries: 3, retryDelay: 200, timeout: 10_000 };
  const admin = new Admin(options);
  t.after(() => admin.close());
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
  const producer = new Producer({ ...options, acks: ProduceAcks.ALL });
  try {
    await producer.send({ messages: Array.from({ length: 30 }, (_, i) => ({ topic, partition: i % 3, value: Buffer.from(`pl-${i}`) })) });
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({ ...options, groupId });
  t.after(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  const seen = new Set<string>();
  const timer = setTimeout(() => stream.destroy(new Error(`platformatic consumed ${seen.size} of 30 in 30 s`)), 30_000);
  try {
    for await (const message of stream) {
      seen.add(message.value.toString());
      await message.commit();
      if (seen.size >= 30) break;
    }
  } finally {
    clearTimeout(timer);
  }
  assert.equal(seen.size, 30);
  let committed: bigint[] = [];
  await waitFor('the commits at the end of every partition', async () => {
    const groups = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    committed = (groups.find((g) => g.groupId === groupId)?.topics.find((x) => x.name === topic)?.partitions ?? []).map((p) => p.committedOffset);
    return committed.length === 3 && committed.every((o) => o === 10n);
  }, { timeoutMs: 15_000, intervalMs: 200, detail: () => `committed ${committed.join(',')}` });
  assert.deepEqual(committed, [10n, 10n, 10n]);
});
