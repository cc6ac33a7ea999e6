/**
 * kafka-python 2.0.2 (Debian, /usr/bin/python3) producer and assign-style consumer against a real
 * broker; produce-consume.py runs the client and prints what it sent and read, this file asserts.
 *
 * Expected to pass: KafkaProducer(acks='all', gzip) of keyed messages with headers (binary values) to a
 * 6-partition topic — every future resolves with a partition and offset; KafkaConsumer(group_id=None)
 * with assign + seek_to_beginning (ListOffsets, Fetch; no group APIs) reads every message back with
 * the acknowledged partition and offset, byte-identical key, value and headers; end_offsets equal the
 * per-partition counts; offsets per partition contiguous from 0.
 * Known to fail: none known. Skips when the kafka module is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createKafkajsTopic } from '../../helpers/create-kafkajs-topic.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'produce-consume.py');
const PARTITIONS = 6;
const COUNT = 400;
const missing = spawnSync(PYTHON, ['-c', 'import kafka'], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import kafka (apt-get install python3-kafka)`;

interface ScriptResult {
  sent: Array<{ index: number; partition: number; offset: number }>;
  received: Array<{ partition: number; offset: number; key: string; value: string; headers: Array<[string, string]> }>;
  expected: Record<string, { value: string; headers: Array<[string, string]> }>;
  end_offsets: Record<string, number>;
}

let broker: BrokerProcess | undefined;

before(async () => {
  if (missing !== false) return;
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

test('kafka-python: acks=all produce to 6 partitions, assign-style consume byte-identical', { skip: missing }, async () => {
  if (broker === undefined) throw new Error('broker not started');
  const topic = `py-data-${randomUUID().slice(0, 8)}`;
  await createKafkajsTopic(broker.bootstrap, topic, PARTITIONS);

  const { stdout } = await run(PYTHON, [SCRIPT, broker.bootstrap, topic, String(PARTITIONS), String(COUNT)], {
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const result = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as ScriptResult;

  assert.equal(result.sent.length, COUNT);
  assert.equal(result.received.length, COUNT);
  const counts = new Map<number, number>();
  for (const ack of result.sent) counts.set(ack.partition, (counts.get(ack.partition) ?? 0) + 1);
  assert.ok(counts.size > 1, 'keys were spread over several partitions');
  for (let p = 0; p < PARTITIONS; p++) assert.equal(result.end_offsets[String(p)], counts.get(p) ?? 0, `end offset of partition ${p}`);

  const ackByKey = new Map(result.sent.map((ack) => [`key-${ack.index}`, ack]));
  const nextOffset = new Map<number, number>();
  for (const message of result.received) {
    const expectedOffset = nextOffset.get(message.partition) ?? 0;
    assert.equal(message.offset, expectedOffset, `partition ${message.partition}: offsets contiguous from 0`);
    nextOffset.set(message.partition, expectedOffset + 1);
    const ack = ackByKey.get(message.key);
    assert.ok(ack, `unexpected key ${message.key}`);
    assert.deepEqual([message.partition, message.offset], [ack.partition, ack.offset], `${message.key} is at its acknowledged offset`);
    ackByKey.delete(message.key);
    const expected = result.expected[message.key];
    assert.equal(message.value, expected?.value, `value of ${message.key} (base64) is byte-identical`);
    assert.deepEqual(message.headers, expected?.headers);
  }
  assert.equal(ackByKey.size, 0, 'every acknowledged message was read exactly once');
});
