/**
 * @platformatic/kafka 2.x Producer and Consumer data path against a real broker on the embedded store.
 *
 * Expected to pass: Producer.send with acks=ALL of keyed messages with binary headers and values to a
 * 6-partition topic (explicit partitions), every partition's returned offsets; a Consumer (group,
 * mode 'earliest') reads everything back: per partition offsets contiguous from 0, key, value and
 * headers byte-identical. The client uses the newest versions it knows (Produce and Fetch flexible
 * versions), so this covers the compact encodings of the data path. The Consumer needs the group APIs;
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const PARTITIONS = 6;
const COUNT = 300;
const CONSUME_TIMEOUT_MS = 30_000;

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

function valueFor(index: number): Buffer {
  const digest = createHash('sha256').update(`platformatic-${index}`).digest();
  return Buffer.concat([Buffer.from([0, 0xff, index & 0xff]), digest, Buffer.alloc(index % 11 === 0 ? 4_000 : 0, 0x61)]);
}
const headerFor = (index: number): Buffer => Buffer.from([index & 0xff, 0, 0xfe]);

test('platformatic: acks=ALL to 6 partitions, consumed byte-identical by a group consumer', async (t) => {
  const topic = `platformatic-data-${randomUUID().slice(0, 8)}`;
  const admin = new Admin({ clientId: 'kafscale-compat-platformatic-data', bootstrapBrokers: [broker.bootstrap], retries: 1, timeout: 10_000 });
  try {
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  } finally {
    await admin.close();
  }

  const producer = new Producer({ clientId: 'kafscale-compat-platformatic-data', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
  const expected = new Map<number, Array<{ key: Buffer; value: Buffer; header: Buffer }>>();
  try {
    for (let start = 0; start < COUNT; start += 50) {
      const messages = Array.from({ length: 50 }, (_, j) => {
        const i = start + j;
        const partition = i % PARTITIONS;
        const entry = { key: Buffer.from(`key-${i}`), value: valueFor(i), header: headerFor(i) };
        const list = expected.get(partition) ?? [];
        list.push(entry);
        expected.set(partition, list);
        return { topic, partition, key: entry.key, value: entry.value, headers: new Map([[Buffer.from('h'), entry.header]]) };
      });
      const result = await producer.send({ messages });
      assert.ok((result.offsets?.length ?? 0) > 0, 'acks=ALL returns offsets');
    }
  } finally {
    await producer.close();
  }

  const consumer = new Consumer({
    clientId: 'kafscale-compat-platformatic-data',
    groupId: `g-${topic}`,
    bootstrapBrokers: [broker.bootstrap],
    retries: 2,
    timeout: 10_000,
  });
  t.after(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  const received = new Map<number, Array<{ offset: bigint; key: Buffer; value: Buffer; header: Buffer | undefined }>>();
  let total = 0;
  const timer = setTimeout(() => stream.destroy(new Error(`received ${total} of ${COUNT} within ${CONSUME_TIMEOUT_MS} ms`)), CONSUME_TIMEOUT_MS);
  try {
    for await (const message of stream) {
      const list = received.get(message.partition) ?? [];
      let header: Buffer | undefined;
      for (const [name, value] of message.headers) if (name.toString() === 'h') header = value;
      list.push({ offset: message.offset, key: message.key, value: message.value, header });
      received.set(message.partition, list);
      if (++total >= COUNT) break;
    }
  } finally {
    clearTimeout(timer);
  }

  assert.equal(total, COUNT);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const want = expected.get(partition) ?? [];
    const got = received.get(partition) ?? [];
    assert.equal(got.length, want.length, `partition ${partition} message count`);
    got.forEach((message, position) => {
      const wanted = want[position];
      assert.ok(wanted);
      assert.equal(message.offset, BigInt(position), `partition ${partition}: offsets contiguous from 0`);
      assert.ok(message.key.equals(wanted.key), `key at ${partition}/${position}`);
      assert.ok(message.value.equals(wanted.value), `value at ${partition}/${position} is byte-identical`);
      assert.ok(message.header?.equals(wanted.header), `header at ${partition}/${position}`);
    });
  }
});
