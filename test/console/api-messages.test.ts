/**
 * The message browser on what real producers write: batches compressed by librdkafka (kcat -z gzip,
 * snappy, lz4, zstd), binary values (no text), tombstones, and the per-request byte bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { kcat } from '../helpers/kcat.ts';
import { ConsoleClient, startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

const MAX_BYTES = 64 * 1024;

describe('console message browser', { timeout: 120_000 }, () => {
  let broker: ConsoleBroker;
  let client: ConsoleClient;

  before(async () => {
    broker = await startConsoleBroker({ KAFSCALE_CONSOLE_MAX_BYTES: String(MAX_BYTES) });
    client = new ConsoleClient(broker.base);
  });

  after(async () => {
    await broker?.close();
  });

  test('compressed batches from kcat are decoded', async () => {
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const topic = `compressed-${codec}`;
      assert.equal((await client.call('POST', '/api/v1/topics', { body: { name: topic, partitions: 1 } })).status, 201);
      const input = Array.from({ length: 20 }, (_, i) => `{"codec":"${codec}","n":${i}}`).join('\n') + '\n';
      const produced = await kcat(['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-z', codec, '-X', 'linger.ms=50'], input);
      assert.equal(produced.code, 0, produced.stderr);
      const browse = await client.get(`/api/v1/topics/${topic}/messages?partition=0&from=earliest&limit=100`);
      assert.equal(browse.status, 200, browse.text);
      assert.deepEqual(browse.json.messages.map((m: { value: { text: string } }) => JSON.parse(m.value.text).n), Array.from({ length: 20 }, (_, i) => i), codec);
      assert.deepEqual(browse.json.messages.map((m: { offset: number }) => m.offset), Array.from({ length: 20 }, (_, i) => i));
      const middle = await client.get(`/api/v1/topics/${topic}/messages?partition=0&from=offset&offset=7&limit=3`);
      assert.deepEqual(middle.json.messages.map((m: { offset: number }) => m.offset), [7, 8, 9], `${codec}: a read starting inside a compressed batch`);
    }
  });

  test('binary values have no text; tombstones are null; headers are kept', async () => {
    assert.equal((await client.call('POST', '/api/v1/topics', { body: { name: 'binary', partitions: 1 } })).status, 201);
    const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: 'binary', messages: [
        { key: 'key', value: Buffer.from([0xff, 0xfe, 0x00]), headers: { trace: Buffer.from([0x80]) } },
        { key: 'gone', value: null },
      ] });
    } finally {
      await producer.disconnect();
    }
    const browse = await client.get('/api/v1/topics/binary/messages?partition=0&from=earliest');
    const [binary, tombstone] = browse.json.messages;
    assert.equal(binary.key.text, 'key');
    assert.equal(binary.value.text, null);
    assert.deepEqual([...Buffer.from(binary.value.base64, 'base64')], [0xff, 0xfe, 0x00]);
    assert.deepEqual(binary.headers, [{ key: 'trace', value: { base64: 'gA==', text: null } }]);
    assert.equal(tombstone.key.text, 'gone');
    assert.equal(tombstone.value, null);
  });

  test('at most KAFSCALE_CONSOLE_MAX_BYTES of records per request: truncated says so', async () => {
    assert.equal((await client.call('POST', '/api/v1/topics', { body: { name: 'large', partitions: 1 } })).status, 201);
    for (let i = 0; i < 3; i++) {
      const response = await client.call('POST', '/api/v1/topics/large/messages', { body: { partition: 0, value: String(i).repeat(25 * 1024) } });
      assert.equal(response.status, 201, response.text);
    }
    const browse = await client.get('/api/v1/topics/large/messages?partition=0&from=earliest&limit=10');
    assert.equal(browse.json.messages.length, 2);
    assert.equal(browse.json.truncated, true);
    const rest = await client.get('/api/v1/topics/large/messages?partition=0&from=offset&offset=2');
    assert.equal(rest.json.messages.length, 1);
    assert.equal(rest.json.truncated, false);
    const tooLarge = await client.call('POST', '/api/v1/topics/large/messages', { body: { value: 'x'.repeat(MAX_BYTES + 1) } });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.error.code, 'MESSAGE_TOO_LARGE');
  });
});
