/**
 * Malformed and invalid requests: the broker closes the connection where Kafka does (oversized,
 * unknown api key, unsupported version of anything but ApiVersions, truncated body), keeps serving new
 * connections afterwards, and answers invalid admin requests with Kafka's error codes.
 *
 * Replication factor: there are no replicas (object storage gives the durability); per
 * docs/design/admin-semantics.md -1 and any factor >= 1 are accepted, 0 and < -1 are
 * INVALID_REPLICATION_FACTOR.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startBroker, probeApiVersions, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient, rawRequest } from '../helpers/wire-client.ts';

const MAX_REQUEST_BYTES = 1024 * 1024;
const ERROR = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
} as const;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

let broker: BrokerProcess;
const clients: WireClient[] = [];

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_SOCKET_REQUEST_MAX_BYTES: String(MAX_REQUEST_BYTES) } });
});

after(async () => {
  for (const client of clients) client.close();
  await broker?.stop();
});

async function connect(): Promise<WireClient> {
  const client = await WireClient.connect(broker.host, broker.port);
  clients.push(client);
  return client;
}

async function assertStillServing(): Promise<void> {
  assert.equal(await probeApiVersions(broker.host, broker.port, 5_000), ERROR.NONE, 'a new connection is still served');
}

async function createTopic(name: string, numPartitions: number, replicationFactor = 1, configs: Array<{ name: string; value: string }> = []): Promise<{ errorCode: number; errorMessage: string | null }> {
  const client = await connect();
  const response = await client.send(19, 7, {
    topics: [{ name, numPartitions, replicationFactor, assignments: [], configs }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  assert.equal(response.topics.length, 1);
  const [result] = response.topics;
  return { errorCode: result?.errorCode ?? -1, errorMessage: result?.errorMessage ?? null };
}

const uniqueTopic = (label: string): string => `bad-input-${label}-${randomUUID().slice(0, 8)}`;

test('a frame larger than socket.request.max.bytes closes the connection before it is buffered', async () => {
  const client = await connect();
  // Only the size prefix and a few bytes: the broker must reject on the header, not wait for 2 MiB.
  const header = Buffer.alloc(8);
  header.writeInt32BE(2 * MAX_REQUEST_BYTES, 0);
  header.writeInt16BE(18, 4);
  client.sendRaw(header);
  assert.equal(await client.waitForClose(5_000), true);
  await assertStillServing();
});

test('an unknown api key closes the connection', async () => {
  const client = await connect();
  client.sendRaw(rawRequest(9999, 0, 7));
  assert.equal(await client.waitForClose(5_000), true);
  await assertStillServing();
});

test('an unsupported ApiVersions version gets a v0 reply with UNSUPPORTED_VERSION and the api table', async () => {
  const client = await connect();
  client.sendRaw(rawRequest(18, 999, 42));
  const frame = await client.nextFrame(5_000);
  // ApiVersions v0 response: correlation id, error code, [apiKey, min, max].
  assert.equal(frame.readInt32BE(0), 42);
  assert.equal(frame.readInt16BE(4), ERROR.UNSUPPORTED_VERSION);
  const count = frame.readInt32BE(6);
  const apis = new Map<number, [number, number]>();
  for (let i = 0; i < count && 10 + i * 6 + 6 <= frame.length; i++) {
    const at = 10 + i * 6;
    apis.set(frame.readInt16BE(at), [frame.readInt16BE(at + 2), frame.readInt16BE(at + 4)]);
  }
  assert.equal(apis.size, count);
  assert.deepEqual(apis.get(18), [0, 4]);
  assert.ok(apis.has(3), 'Metadata is listed');
  assert.ok(apis.has(19), 'CreateTopics is listed');
  assert.equal(client.isClosed, false, 'the connection stays open so the client can retry with v0');
});

test('an out-of-range Metadata version closes the connection', async () => {
  const client = await connect();
  client.sendRaw(rawRequest(3, 999, 8));
  assert.equal(await client.waitForClose(5_000), true);
  await assertStillServing();
});

test('a truncated request body closes the connection', async () => {
  const client = await connect();
  // Metadata v1: topics is an int32 array length; claim 5 topics and send none.
  const body = Buffer.alloc(4);
  body.writeInt32BE(5, 0);
  client.sendRaw(rawRequest(3, 1, 9, body));
  assert.equal(await client.waitForClose(5_000), true);
  await assertStillServing();
});

for (const name of ['', '.', '..', 'a'.repeat(250), 'bad name!', 'a/b']) {
  test(`topic name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 5)}…(${name.length} chars)` : name)} is INVALID_TOPIC_EXCEPTION`, async () => {
    assert.equal((await createTopic(name, 1)).errorCode, ERROR.INVALID_TOPIC_EXCEPTION);
  });
}

for (const count of [0, -2]) {
  test(`partition count ${count} is INVALID_PARTITIONS`, async () => {
    assert.equal((await createTopic(uniqueTopic('partitions'), count)).errorCode, ERROR.INVALID_PARTITIONS);
  });
}

for (const factor of [-1, 1, 3]) {
  test(`replication factor ${factor} is accepted`, async () => {
    assert.equal((await createTopic(uniqueTopic('replication'), 1, factor)).errorCode, ERROR.NONE);
  });
}

for (const factor of [0, -2]) {
  test(`replication factor ${factor} is INVALID_REPLICATION_FACTOR`, async () => {
    assert.equal((await createTopic(uniqueTopic('replication'), 1, factor)).errorCode, 38);
  });
}

test('an unknown topic config is INVALID_CONFIG', async () => {
  const result = await createTopic(uniqueTopic('config'), 1, 1, [{ name: 'no.such.config', value: '1' }]);
  assert.equal(result.errorCode, ERROR.INVALID_CONFIG);
});

test('creating an existing topic is TOPIC_ALREADY_EXISTS', async () => {
  const name = uniqueTopic('exists');
  assert.equal((await createTopic(name, 1)).errorCode, ERROR.NONE);
  assert.equal((await createTopic(name, 1)).errorCode, ERROR.TOPIC_ALREADY_EXISTS);
});

test('deleting an unknown topic is UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const client = await connect();
  const response = await client.send(20, 6, { topics: [{ name: uniqueTopic('missing'), topicId: ZERO_UUID }], timeoutMs: 10_000 });
  assert.equal(response.responses[0]?.errorCode, ERROR.UNKNOWN_TOPIC_OR_PARTITION);
});

test('decreasing the partition count is INVALID_PARTITIONS', async () => {
  const name = uniqueTopic('decrease');
  assert.equal((await createTopic(name, 3)).errorCode, ERROR.NONE);
  const client = await connect();
  const response = await client.send(37, 3, { topics: [{ name, count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: false });
  assert.equal(response.results[0]?.errorCode, ERROR.INVALID_PARTITIONS);
});

for (const version of [10, 11]) {
  test(`Metadata v${version} naming a topic by id is INVALID_REQUEST and the connection stays open`, async () => {
    const name = uniqueTopic('by-id');
    assert.equal((await createTopic(name, 1)).errorCode, ERROR.NONE);
    const client = await connect();
    const someId = '0b1e4a7c-58d3-4f1a-9c2e-7d6b5a4c3b2a';
    const byId = await client.send(3, version, { topics: [{ name: null, topicId: someId }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(byId.topics[0]?.errorCode, ERROR.INVALID_REQUEST);
    const withBoth = await client.send(3, version, { topics: [{ name, topicId: someId }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(withBoth.topics[0]?.errorCode, ERROR.INVALID_REQUEST);
    const byName = await client.send(3, version, { topics: [{ name, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(byName.topics[0]?.errorCode, ERROR.NONE);
    assert.equal(client.isClosed, false);
  });
}
