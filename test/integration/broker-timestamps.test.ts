/**
 * Broker-computed timestamps end to end: a real broker process, batches written on the wire as sarama
 * before 1.28 writes them (maxTimestamp -1 in the header; snappy in Java's xerial framing, lz4 frames,
 * uncompressed), then read back: ListOffsets by time with kafkajs 2.2.4's admin, the records with kcat
 * (librdkafka; kafkajs has no snappy or lz4 codec).
 * LogAppendTime and message.timestamp.after.max.ms through a kafkajs producer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { MAX_TIMESTAMP_OFFSET, encodeRecordBatch, writeCrc } from '../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { recompressedBatch } from '../helpers/recompressed-batch.ts';
import { WireClient } from '../helpers/wire-client.ts';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

let broker: BrokerProcess;
let admin: Admin;
let producer: Producer;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'kafscale-timestamps', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
});

/** A batch as sarama < 1.28 sends it: real record timestamps, maxTimestamp -1 in the header. */
function saramaBatch(values: readonly string[], timestamps: readonly number[], codec: 'none' | 'snappy' | 'lz4'): Buffer {
  const plain = encodeRecordBatch({ records: values.map((value, i) => ({ value, timestamp: BigInt(timestamps[i]!) })) });
  const out = codec === 'none' ? plain : recompressedBatch(plain, codec === 'snappy' ? 'snappy-xerial' : 'lz4');
  out.writeBigInt64BE(-1n, MAX_TIMESTAMP_OFFSET);
  writeCrc(out);
  return out;
}

async function consumeAll(topic: string, count: number): Promise<Array<{ value: string; timestamp: number }>> {
  const consumer = kafka.consumer({ groupId: `ts-${randomUUID()}` });
  await consumer.connect();
  const got: Array<{ value: string; timestamp: number }> = [];
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${count} from ${topic}`)), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push({ value: message.value?.toString() ?? '', timestamp: Number(message.timestamp) });
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

test('sarama-style batches (maxTimestamp -1; none, snappy xerial, lz4): ListOffsets by time and consumers see the records\' times', async () => {
  const topic = `ts-sarama-${randomUUID().slice(0, 8)}`;
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
  const t0 = Date.now() - 60_000;
  const client = await WireClient.connect(broker.host, broker.port);
  try {
    const batches = [
      saramaBatch(['a0', 'a1'], [t0, t0 + 1_000], 'none'),
      saramaBatch(['b0', 'b1'], [t0 + 2_000, t0 + 3_000], 'snappy'),
      saramaBatch(['c0', 'c1'], [t0 + 5_000, t0 + 4_000], 'lz4'),
    ];
    for (const records of batches) {
      const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
      assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, 0);
    }
    // A record an hour and a bit ahead (message.timestamp.after.max.ms defaults to 1 h): INVALID_TIMESTAMP (32).
    const future = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: saramaBatch(['f'], [Date.now() + 3_700_000], 'lz4') }] }] });
    const partition = future.responses[0]?.partitionResponses[0];
    assert.equal(partition?.errorCode, 32);
    assert.deepEqual(partition?.recordErrors.map((e) => e.batchIndex), [0]);
  } finally {
    client.close();
  }
  const at = async (timestamp: number): Promise<string | undefined> => (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp))[0]?.offset;
  assert.equal(await at(t0 + 500), '1');
  assert.equal(await at(t0 + 2_500), '3');
  assert.equal(await at(t0 + 4_500), '4');
  assert.equal(await at(t0 + 5_001), '6', 'after every record: the log end offset');
  // kafkajs has no snappy/lz4 codec: librdkafka (kcat) reads them, and prints each record's timestamp.
  const { stdout } = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%T %s\\n'], { timeout: 30_000 });
  const records = stdout.trim().split('\n').map((line) => line.split(' '));
  assert.deepEqual(records.map(([ts, value]) => [value, Number(ts) - t0]), [['a0', 0], ['a1', 1_000], ['b0', 2_000], ['b1', 3_000], ['c0', 5_000], ['c1', 4_000]]);
});

test('LogAppendTime topic: consumers see the broker\'s time, not the producer\'s', async () => {
  const topic = `ts-append-${randomUUID().slice(0, 8)}`;
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }], waitForLeaders: true }), true);
  const before = Date.now();
  const sent = await producer.send({ topic, acks: -1, compression: kafkajs.CompressionTypes.GZIP, messages: [{ value: 'x', timestamp: '1000' }, { value: 'y', timestamp: '2000' }] });
  const after = Date.now();
  const stamped = Number(sent[0]?.logAppendTime);
  assert.ok(stamped >= before - 1_000 && stamped <= after + 1_000, `logAppendTime ${stamped}`);
  const records = await consumeAll(topic, 2);
  assert.deepEqual(records.map((r) => r.timestamp), [stamped, stamped]);
});
