/**
 * kafkajs 2.2 producer and consumer data path against a real broker on the embedded store.
 *
 * Expected to pass: producer.send with acks=-1 of keyed messages with headers (binary values included)
 * to a 6-partition topic, partitioned by kafkajs' default (murmur2) partitioner; a consumer group
 * (consumer.run, fromBeginning) reads every message back: per partition, offsets contiguous from 0 in
 * send order, keys, values and headers byte-identical. kafkajs has no assign-style consumer, so the
 * consume half needs the group APIs (FindCoordinator/JoinGroup/SyncGroup/Heartbeat/OffsetFetch);
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const PARTITIONS = 6;
const COUNT = 600;
const CONSUME_TIMEOUT_MS = 30_000;

let broker: BrokerProcess;
let kafka: kafkajs.Kafka;

before(async () => {
  broker = await startBroker();
  kafka = new kafkajs.Kafka({ clientId: 'kafscale-compat-kafkajs-data', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
});

after(async () => {
  await broker?.stop();
});

/** A value with bytes a text path would mangle (NUL, 0xff, invalid UTF-8), unique per index. */
function valueFor(index: number): Buffer {
  const digest = createHash('sha256').update(String(index)).digest();
  return Buffer.concat([Buffer.from([0, 0xff, 0xfe, index & 0xff]), digest, Buffer.alloc(index % 7 === 0 ? 2_000 : 0, index)]);
}

interface Seen {
  offset: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

test('kafkajs: acks=-1 keyed messages with headers to 6 partitions, consumed byte-identical by a group', async (t) => {
  const topic = `kafkajs-data-${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] }), true);
  } finally {
    await admin.disconnect();
  }

  const producer = kafka.producer();
  await producer.connect();
  const expectedByKey = new Map<string, { value: Buffer; headers: Record<string, string> }>();
  try {
    // Several sends, so each partition gets several batches and offsets must continue across them.
    for (let start = 0; start < COUNT; start += 100) {
      const messages = Array.from({ length: 100 }, (_, j) => {
        const i = start + j;
        return { key: `key-${i}`, value: valueFor(i), headers: { index: String(i), trace: `t-${i % 3}` } };
      });
      const metadata = await producer.send({ topic, acks: -1, messages });
      for (const entry of metadata) assert.equal(entry.errorCode, 0);
      // kafkajs reports only each partition's base offset per send; the consumer check below proves
      // the per-message offsets.
    }
    for (let i = 0; i < COUNT; i++) expectedByKey.set(`key-${i}`, { value: valueFor(i), headers: { index: String(i), trace: `t-${i % 3}` } });
  } finally {
    await producer.disconnect();
  }

  const byPartition = new Map<number, Seen[]>();
  let received = 0;
  const consumer = kafka.consumer({ groupId: `g-${topic}`, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  t.after(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolveDone, rejectDone) => {
    const timer = setTimeout(() => rejectDone(new Error(`received ${received} of ${COUNT} within ${CONSUME_TIMEOUT_MS} ms`)), CONSUME_TIMEOUT_MS);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        const list = byPartition.get(partition) ?? [];
        list.push({ offset: message.offset, key: message.key?.toString('utf8') ?? '', value: Buffer.from(message.value ?? Buffer.alloc(0)), headers });
        byPartition.set(partition, list);
        received++;
        if (received >= COUNT) {
          clearTimeout(timer);
          resolveDone();
        }
      },
    });
  });
  await done;

  assert.equal(received, COUNT);
  const seenKeys = new Set<string>();
  for (const [partition, messages] of byPartition) {
    let previousIndex = -1;
    messages.forEach((message, position) => {
      assert.equal(message.offset, String(position), `partition ${partition}: offsets contiguous from 0`);
      const expected = expectedByKey.get(message.key);
      assert.ok(expected, `unexpected key ${message.key}`);
      assert.ok(message.value.equals(expected.value), `value of ${message.key} is byte-identical`);
      assert.deepEqual(message.headers, expected.headers);
      const index = Number(message.headers['index']);
      assert.ok(index > previousIndex, `partition ${partition}: send order kept`);
      previousIndex = index;
      assert.ok(!seenKeys.has(message.key), `${message.key} delivered once`);
      seenKeys.add(message.key);
    });
  }
  assert.equal(seenKeys.size, COUNT);
  assert.ok(byPartition.size > 1, 'the default partitioner spread keys over several partitions');
});
