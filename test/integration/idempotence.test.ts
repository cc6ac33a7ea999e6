/**
 * Idempotent producers end to end (docs/design/idempotence.md): kafkajs, confluent-kafka (librdkafka) and
 * @platformatic/kafka produce through a TCP proxy
 * that drops Produce responses after the broker appended the batch and cuts the connection; the client
 * retries on a new connection and the partition must hold every record exactly once, in order. The
 * broker advertises the proxy's port, so every connection of the client goes through it.
 * Also: a retried batch is still de-duplicated after a broker restart, and a transactional id is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { readPartition } from '../fault/partition-reader.ts';
import { CuttingProxy, type CuttingProxyOptions } from './idempotence-cutting-proxy.ts';

const run = promisify(execFile);
const MESSAGES = 24;

let broker: BrokerProcess;
let proxy: CuttingProxy;
const proxyOptions: CuttingProxyOptions = { targetHost: '127.0.0.1', targetPort: 0, cut: () => false };
let kafka: kafkajs.Kafka;

before(async () => {
  proxy = await CuttingProxy.start(0, proxyOptions);
  broker = await startBroker({ env: { KAFSCALE_BROKER_PORT: String(proxy.port) }, logLevel: 'warn' });
  proxyOptions.targetPort = broker.port;
  kafka = new kafkajs.Kafka({ brokers: [`127.0.0.1:${proxy.port}`], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 } });
});

after(async () => {
  await proxy?.close();
  await broker?.stop();
});

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), true);
  } finally {
    await admin.disconnect();
  }
}

async function stored(topic: string): Promise<string[]> {
  const contents = await readPartition(broker.host, broker.port, topic, 0);
  return contents.batches.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

/** Cut every third Produce response, at most `max` times. */
function cutEveryThird(max: number): (n: number) => boolean {
  let cuts = 0;
  return (n) => n % 3 === 0 && cuts++ < max;
}

async function produceWithKafkajs(topic: string, idempotent: boolean): Promise<void> {
  const producer = kafka.producer({ idempotent, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < MESSAGES; i++) {
      await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: `m${i}` }] });
    }
  } finally {
    await producer.disconnect();
  }
}

test('kafkajs idempotent: responses lost after the append are retried without duplicates or gaps', async () => {
  const topic = `idem-kafkajs-${randomUUID()}`;
  await createTopic(topic);
  const cutsBefore = proxy.cuts;
  proxyOptions.cut = cutEveryThird(6);
  try {
    await produceWithKafkajs(topic, true);
  } finally {
    proxyOptions.cut = () => false;
  }
  assert.ok(proxy.cuts - cutsBefore >= 3, `the proxy cut ${proxy.cuts - cutsBefore} connections`);
  assert.deepEqual(await stored(topic), Array.from({ length: MESSAGES }, (_, i) => `m${i}`));
});

test('control: without idempotence the same faults do duplicate records (the fault hits after the append)', async () => {
  const topic = `idem-control-${randomUUID()}`;
  await createTopic(topic);
  proxyOptions.cut = cutEveryThird(3);
  try {
    await produceWithKafkajs(topic, false);
  } finally {
    proxyOptions.cut = () => false;
  }
  const values = await stored(topic);
  assert.ok(values.length > MESSAGES, `expected duplicates, got ${values.length} records`);
});

test('confluent-kafka (librdkafka) enable.idempotence=true: no duplicates, no gaps under cut connections', async (t) => {
  const probe = await run('/usr/bin/python3', ['-c', 'import confluent_kafka']).then(() => true, () => false);
  if (!probe) {
    t.skip('python3-confluent-kafka is not installed');
    return;
  }
  const topic = `idem-librdkafka-${randomUUID()}`;
  await createTopic(topic);
  const script = `
import sys
from confluent_kafka import Producer
errors = []
p = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True, 'linger.ms': 0,
              'retry.backoff.ms': 50, 'message.timeout.ms': 20000, 'socket.timeout.ms': 5000})
def report(err, msg):
    if err is not None: errors.append(str(err))
for i in range(int(sys.argv[3])):
    p.produce(sys.argv[2], value=('c%d' % i).encode(), partition=0, on_delivery=report)
    p.flush(20)
left = p.flush(20)
print('errors=%d left=%d %s' % (len(errors), left, errors[:3]))
sys.exit(1 if errors or left else 0)
`;
  const cutsBefore = proxy.cuts;
  proxyOptions.cut = cutEveryThird(6);
  try {
    await run('/usr/bin/python3', ['-c', script, `127.0.0.1:${proxy.port}`, topic, String(MESSAGES)], { timeout: 60_000 });
  } finally {
    proxyOptions.cut = () => false;
  }
  assert.ok(proxy.cuts - cutsBefore >= 3, `the proxy cut ${proxy.cuts - cutsBefore} connections`);
  assert.deepEqual(await stored(topic), Array.from({ length: MESSAGES }, (_, i) => `c${i}`));
});

test('@platformatic/kafka idempotent producer: no duplicates, no gaps under cut connections', async () => {
  const topic = `idem-platformatic-${randomUUID()}`;
  await createTopic(topic);
  const { Producer, ProduceAcks } = await import('@platformatic/kafka');
  const producer = new Producer({ clientId: 'idem-test', bootstrapBrokers: [`127.0.0.1:${proxy.port}`], idempotent: true, acks: ProduceAcks.ALL, retries: 10, retryDelay: 50 });
  const cutsBefore = proxy.cuts;
  proxyOptions.cut = cutEveryThird(6);
  try {
    for (let i = 0; i < MESSAGES; i++) {
      await producer.send({ messages: [{ topic, partition: 0, value: Buffer.from(`p${i}`) }] });
    }
  } finally {
    proxyOptions.cut = () => false;
    await producer.close();
  }
  assert.ok(proxy.cuts - cutsBefore >= 3, `the proxy cut ${proxy.cuts - cutsBefore} connections`);
  assert.deepEqual(await stored(topic), Array.from({ length: MESSAGES }, (_, i) => `p${i}`));
});

test('across a broker restart a retried batch is not duplicated', async () => {
  const topic = `idem-restart-${randomUUID()}`;
  await createTopic(topic);
  const batchOf = (seq: number, value: string): Buffer => encodeRecordBatch({ producerId: 1_000_000n, producerEpoch: 0, baseSequence: seq, records: [{ value, timestamp: BigInt(Date.now()) }] });
  const produce = async (batch: Buffer): Promise<{ errorCode: number; baseOffset: bigint }> => {
    const client = await WireClient.connect(broker.host, broker.port);
    try {
      const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      const p = response.responses[0]!.partitionResponses[0]!;
      return { errorCode: p.errorCode, baseOffset: p.baseOffset };
    } finally {
      client.close();
    }
  };
  assert.deepEqual(await produce(batchOf(0, 'a')), { errorCode: 0, baseOffset: 0n });
  assert.deepEqual(await produce(batchOf(1, 'b')), { errorCode: 0, baseOffset: 1n });
  await broker.restart();
  // The client never saw the answer for 'b' and retries it against the restarted broker.
  assert.deepEqual(await produce(batchOf(1, 'b')), { errorCode: 0, baseOffset: 1n });
  assert.deepEqual(await produce(batchOf(3, 'gap')), { errorCode: 45, baseOffset: -1n });
  assert.deepEqual(await produce(batchOf(2, 'c')), { errorCode: 0, baseOffset: 2n });
  assert.deepEqual(await stored(topic), ['a', 'b', 'c']);
  // DescribeProducers (operators): the owner's rebuilt state shows the producer's last sequence.
  const client = await WireClient.connect(broker.host, broker.port);
  try {
    const described = await client.send(61, 0, { topics: [{ name: topic, partitionIndexes: [0, 7] }] });
    const [p0, p7] = described.topics[0]!.partitions;
    assert.equal(p0!.errorCode, 0);
    assert.deepEqual(p0!.activeProducers.map((p) => [p.producerId, p.producerEpoch, p.lastSequence]), [[1_000_000n, 0, 2]]);
    assert.equal(p7!.errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION for a partition the topic does not have');
  } finally {
    client.close();
  }
});

test('InitProducerId over the wire: unique ids, KIP-360 epoch bump, transactional id refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED', async () => {
  const client = await WireClient.connect(broker.host, broker.port);
  try {
    const a = await client.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    const b = await client.send(22, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(a.errorCode, 0);
    assert.equal(b.errorCode, 0);
    assert.notEqual(a.producerId, b.producerId);
    const bumped = await client.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: a.producerId, producerEpoch: a.producerEpoch });
    assert.deepEqual([bumped.producerId, bumped.producerEpoch], [a.producerId, a.producerEpoch + 1]);
    const txn = await client.send(22, 4, { transactionalId: 'tx-1', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(txn.errorCode, 53);
  } finally {
    client.close();
  }
});
