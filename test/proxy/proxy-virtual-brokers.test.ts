/**
 * `kafscale proxy` with three virtual brokers (KAFSCALE_PROXY_VIRTUAL_BROKERS=3) in front of three real
 * brokers (real etcd, s3rver): the proxy names three brokers on three consecutive ports, spreads
 * partition leaders and coordinators over them independently of the real owners, every port serves
 * every request, a second proxy gives the same answers, and real clients (kcat, confluent-kafka,
 * kafka-python, kafkajs) produce and consume through it with nothing lost.
 */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { useClusterWithTopic } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { proxyInFrontOf, startProxy, type ProxyProcess } from './proxy-process.ts';
import { ProxyIdentity } from '../../src/proxy/proxy-identity.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const PARTITIONS = 6;
const VIRTUAL_BROKERS = 3;
const PYTHON = '/usr/bin/python3';
const PYTHON_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'python-clients.py');
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const fixture = useClusterWithTopic({ topicPrefix: 'proxy-vb', partitions: PARTITIONS, sessionTtlMs: 2_000 });
const proxyOf = proxyInFrontOf(fixture, { virtualBrokers: VIRTUAL_BROKERS });
let proxy: ProxyProcess;
beforeEach(async () => {
  proxy = await proxyOf();
});

const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

async function answersOf(host: string, port: number, topic: string): Promise<{ metadata: unknown; cluster: unknown; coordinators: unknown }> {
  const client = await WireClient.connect(host, port);
  try {
    const metadata = await client.send(3, 12, { topics: [{ topicId: ZERO_UUID, name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const cluster = await client.send(60, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    const found = await client.send(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2', 'g3', 'orders'] });
    return {
      metadata: {
        brokers: metadata.brokers,
        controllerId: metadata.controllerId,
        partitions: metadata.topics[0]?.partitions.map((p) => [p.partitionIndex, p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes]),
      },
      cluster: cluster.brokers,
      coordinators: found.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]),
    };
  } finally {
    client.close();
  }
}

test('three virtual brokers on consecutive ports; leaders and coordinators spread by name, not by owner; every port and a second proxy answer the same', async () => {
  const { cluster, topic } = fixture;
  const real = await cluster.waitForLeaders(topic, PARTITIONS, 15_000);
  assert.deepEqual(proxy.ports, [proxy.port, proxy.port + 1, proxy.port + 2]);
  const identity = new ProxyIdentity(proxy.host, VIRTUAL_BROKERS, proxy.port);
  const expected = await answersOf(proxy.host, proxy.port, topic);
  const metadata = expected.metadata as { brokers: Array<{ nodeId: number; host: string; port: number }>; controllerId: number; partitions: Array<[number, number, number, number[], number[]]> };
  assert.deepEqual(metadata.brokers.map((b) => [b.nodeId, b.host, b.port]), proxy.ports.map((port, nodeId) => [nodeId, proxy.host, port]));
  assert.equal(metadata.controllerId, 0);
  for (const [index, leaderId, epoch, replicas, isr] of metadata.partitions) {
    const leader = identity.leaderOf(topic, index);
    assert.deepEqual([leaderId, replicas, isr], [leader, [leader], [leader]], `partition ${index}`);
    assert.equal(epoch, real.partitions[index]?.leaderEpoch, `partition ${index} keeps its real leader epoch`);
  }
  assert.deepEqual(new Set(metadata.partitions.map((p) => p[1])), new Set([0, 1, 2]), 'every virtual broker leads partitions');
  assert.deepEqual((expected.cluster as Array<{ brokerId: number; port: number }>).map((b) => [b.brokerId, b.port]), proxy.ports.map((port, nodeId) => [nodeId, port]));
  assert.deepEqual(expected.coordinators, ['g1', 'g2', 'g3', 'orders'].map((key) => [key, identity.coordinatorOf(key), proxy.host, proxy.port + identity.coordinatorOf(key), 0]));
  for (const port of proxy.ports.slice(1)) assert.deepEqual(await answersOf(proxy.host, port, topic), expected, `port ${port} answers as port ${proxy.port}`);

  // Another proxy behind the same (advertised) Service ports gives the same answers.
  const second = await startProxy({ bootstrap: cluster.bootstrap, virtualBrokers: VIRTUAL_BROKERS, env: { KAFSCALE_PROXY_ADVERTISED_PORT: String(proxy.port) } });
  try {
    assert.deepEqual(await answersOf(second.host, second.port + 2, topic), expected, 'a second proxy is interchangeable');
  } finally {
    assert.equal(await second.stop(), 0);
  }
});

test('kcat: lists three brokers, produces to every partition and consumes everything back, nothing lost', { timeout: 90_000 }, async () => {
  const topic = uniqueName('proxy-vb-kcat');
  await fixture.cluster.createTopic(topic, PARTITIONS);
  await fixture.cluster.waitForLeaders(topic, PARTITIONS, 15_000);
  const listing = JSON.parse((await run('kcat', ['-L', '-J', '-b', proxy.bootstrap, '-t', topic], { timeout: 20_000 })).stdout) as {
    brokers: Array<{ id: number; name: string }>;
    topics: Array<{ partitions: Array<{ partition: number; leader: number }> }>;
  };
  assert.deepEqual(listing.brokers.map((b) => b.name).sort(), proxy.ports.map((port) => `${proxy.host}:${port}`).sort());
  const identity = new ProxyIdentity(proxy.host, VIRTUAL_BROKERS, proxy.port);
  for (const p of listing.topics[0]?.partitions ?? []) assert.equal(p.leader, identity.leaderOf(topic, p.partition));
  const values = Array.from({ length: 3_000 }, (_, i) => `kcat-vb-${i}`);
  // Keyed messages (key = the value): librdkafka hashes each key to a partition, so all six partitions
  // get messages every time (keyless messages stick to one partition per linger window).
  const child = execFile('kcat', ['-P', '-b', proxy.bootstrap, '-t', topic, '-X', 'acks=all', '-K', '\t'], { timeout: 60_000 });
  child.stdin?.end(values.map((v) => `${v}\t${v}`).join('\n') + '\n');
  await new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}`)))));
  // Bootstrapping from the last virtual broker: any port is a full entry point.
  const consumed = await run('kcat', ['-C', '-b', `${proxy.host}:${proxy.ports.at(-1)}`, '-t', topic, '-o', 'beginning', '-e', '-f', '%p %s\\n'], { timeout: 60_000, maxBuffer: 16 << 20 });
  const lines = consumed.stdout.split('\n').filter((line) => line.includes('kcat-vb-'));
  const seen = lines.map((line) => line.split(' ')[1]);
  assert.equal(seen.length, values.length, 'every message once');
  assert.deepEqual([...new Set(seen)].sort(), [...values].sort());
  assert.equal(new Set(lines.map((line) => line.split(' ')[0])).size, PARTITIONS, 'every partition (and so every virtual broker) carried messages');
});

for (const client of ['confluent', 'kafka-python'] as const) {
  test(`${client}: create a topic, produce, consume in a group with commits — through three virtual brokers`, { timeout: 150_000 }, async () => {
    const topic = uniqueName(`proxy-vb-${client}`);
    const group = uniqueName(`g-vb-${client}`);
    const count = 300;
    const { stdout, stderr } = await run(PYTHON, [PYTHON_SCRIPT, client, proxy.bootstrap, topic, group, String(count)], { timeout: 120_000, maxBuffer: 16 << 20 });
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    assert.equal(out['error'], undefined, `${client} failed: ${String(out['error'])}\n${stderr.slice(-2_000)}`);
    assert.deepEqual(out['create'], [[topic, 0]]);
    const acked = out['acked'] as Array<[number, number]>;
    assert.equal(acked.length, count, `every message acknowledged (errors: ${JSON.stringify(out['produce_errors'] ?? [])})`);
    const seen = out['seen'] as string[];
    const prefix = client === 'kafka-python' ? 'kp' : 'ck';
    assert.deepEqual([...new Set(seen)].sort(), Array.from({ length: count }, (_, i) => `${prefix}-${i}`).sort(), 'nothing lost');
    const committed = out['committed'] as Record<string, number | { offset?: number } | null>;
    const offsetOf = (value: unknown): number => (typeof value === 'number' ? value : Number((value as { offset?: number } | null)?.offset ?? -1));
    for (const p of ['0', '1', '2']) assert.equal(offsetOf(committed[p]), count / 3, `partition ${p} committed to its end`);
    assert.ok((out['groups'] as string[]).includes(group), 'the group is listed');
  });
}

test('kafkajs: idempotent produce, a consumer group with commits, offsets read back — through three virtual brokers', { timeout: 90_000 }, async () => {
  const topic = uniqueName('proxy-vb-kafkajs');
  const groupId = uniqueName('g-vb-kafkajs');
  const kafka = new kafkajs.Kafka({ clientId: 'proxy-vb-kafkajs', brokers: [proxy.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), true);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const values = Array.from({ length: 600 }, (_, i) => `kjs-vb-${i}`);
    for (let i = 0; i < values.length; i += 100) {
      await producer.send({ topic, acks: -1, messages: values.slice(i, i + 100).map((value, j) => ({ value, partition: (i + j) % PARTITIONS })) });
    }
    await producer.disconnect();
    const ends = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(ends.map((e) => Number(e.high)), Array.from({ length: PARTITIONS }, () => values.length / PARTITIONS));

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    await consumer.connect();
    const seen: string[] = [];
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`kafkajs consumed ${seen.length} of ${values.length} in 40 s`)), 40_000);
        void consumer.run({
          autoCommitInterval: 100,
          eachMessage: async ({ message }) => {
            seen.push(message.value?.toString() ?? '');
            if (new Set(seen).size === values.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      let committed: number[] = [];
      await waitFor('the commits at the end of every partition', async () => {
        const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
        committed = (offsets[0]?.partitions ?? []).map((p) => Number(p.offset));
        return committed.length === PARTITIONS && committed.every((o) => o === values.length / PARTITIONS);
      }, { timeoutMs: 15_000, intervalMs: 200, detail: () => `committed ${JSON.stringify(committed)}` });
      assert.deepEqual(committed, Array.from({ length: PARTITIONS }, () => values.length / PARTITIONS));
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual([...new Set(seen)].sort(), [...values].sort(), 'nothing lost');
    const described = await admin.describeGroups([groupId]);
    assert.equal(described.groups[0]?.state, 'Empty', 'the group is described by its coordinator, through the proxy');
  } finally {
    await admin.disconnect();
  }
});
