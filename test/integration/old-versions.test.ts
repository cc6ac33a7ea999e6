/**
 * The oldest request versions Kafka 3.9 serves (KIP-896 removed them in 4.0; deployed clients such as
 * sarama still send them), sent raw through the generated codec to a real broker and checked field by
 * field: CreateTopics 0–1, DeleteTopics 0, DescribeConfigs 0, ListOffsets 0 (oldStyleOffsets),
 * OffsetForLeaderEpoch 0, OffsetCommit 0–1, OffsetFetch 0. Fetch stays at 4 (the first version with v2
 * record batches): an older one closes the connection, as Kafka does, and is logged once per
 * (client id, API, version).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs, { type Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZERO_UUID } from '../../src/protocol/sentinel-values.ts';
import { REQUEST_SCHEMAS } from '../../src/protocol/messages/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { ConnectionClosedError, WireClient } from '../helpers/wire-client.ts';
import { startProxy } from '../proxy/proxy-process.ts';
import { waitFor } from '../helpers/wait-for.ts';

const { Kafka, logLevel } = kafkajs;

const API_VERSIONS = 18;
const METADATA = 3;
const LIST_OFFSETS = 2;
const FETCH = 1;
const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const FIND_COORDINATOR = 10;
const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const LEAVE_GROUP = 13;
const SYNC_GROUP = 14;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const OFFSET_FOR_LEADER_EPOCH = 23;
const DESCRIBE_CONFIGS = 32;
const ALTER_CONFIGS = 33;

const TOPIC_RESOURCE = 2;
const BROKER_RESOURCE = 4;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const ILLEGAL_GENERATION = 22;
const UNKNOWN_MEMBER_ID = 25;
const UNSUPPORTED_VERSION = 35;
const TOPIC_ALREADY_EXISTS = 36;

let broker: BrokerProcess;
let wire: WireClient;
let producer: Producer;
const topic = `old-${randomUUID().slice(0, 8)}`;
/** Record timestamps of the five records on partition 0: one second apart, ending a minute ago. */
const firstTimestampMs = Date.now() - 65_000;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'info' });
  wire = await WireClient.connect(broker.host, broker.port);
  const created = await wire.send(CREATE_TOPICS, 0, { topics: [{ name: topic, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000 });
  assert.deepEqual(created.topics.map((t) => [t.name, t.errorCode]), [[topic, 0]]);
  producer = new Kafka({ clientId: 'old-versions', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4].map((i) => ({ partition: 0, value: `v${i}`, timestamp: String(firstTimestampMs + i * 1000) })) });
});

after(async () => {
  wire?.close();
  await producer?.disconnect().catch(() => {});
  await broker?.stop();
});

function schemaFloor(apiKey: number): number {
  const schema = (REQUEST_SCHEMAS as Record<number, { validVersions: string }>)[apiKey];
  return Number(schema?.validVersions.split('-')[0]);
}

test('ApiVersions advertises Kafka 3.9 floors for every API, Fetch from 4', async () => {
  const versions = await wire.send(API_VERSIONS, 3, { clientSoftwareName: 'old-versions', clientSoftwareVersion: '1' });
  assert.equal(versions.errorCode, 0);
  const byKey = new Map(versions.apiKeys.map((k) => [k.apiKey, k]));
  for (const [apiKey, min] of [[CREATE_TOPICS, 0], [DELETE_TOPICS, 0], [DESCRIBE_CONFIGS, 0], [LIST_OFFSETS, 0], [OFFSET_FOR_LEADER_EPOCH, 0], [OFFSET_COMMIT, 0], [OFFSET_FETCH, 0], [FETCH, 4]]) {
    assert.equal(byKey.get(apiKey as number)?.minVersion, min, `api ${apiKey}`);
  }
  const aboveSchemaFloor = versions.apiKeys.filter((k) => k.apiKey !== FETCH && k.minVersion !== schemaFloor(k.apiKey));
  assert.deepEqual(aboveSchemaFloor, [], 'every API but Fetch starts where Kafka 3.9 does');
});

test('CreateTopics v1: validateOnly creates nothing; an existing topic answers TOPIC_ALREADY_EXISTS with a message', async () => {
  const name = `${topic}-v1`;
  const validated = await wire.send(CREATE_TOPICS, 1, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: true });
  assert.deepEqual(validated.topics.map((t) => [t.name, t.errorCode, t.errorMessage]), [[name, 0, null]]);
  const metadata = await wire.send(METADATA, 0, { topics: [{ name, topicId: ZERO_UUID }] });
  assert.equal(metadata.topics[0]?.errorCode, UNKNOWN_TOPIC_OR_PARTITION, 'validateOnly created nothing');
  const again = await wire.send(CREATE_TOPICS, 1, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(again.topics[0]?.errorCode, TOPIC_ALREADY_EXISTS);
  assert.match(again.topics[0]?.errorMessage ?? '', new RegExp(topic));
});

test('DeleteTopics v0: deletes by name; a second time UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const name = `${topic}-del`;
  await wire.send(CREATE_TOPICS, 0, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000 });
  const deleted = await wire.send(DELETE_TOPICS, 0, { topicNames: [name], timeoutMs: 5000 });
  assert.deepEqual(deleted.responses.map((r) => [r.name, r.errorCode]), [[name, 0]]);
  const again = await wire.send(DELETE_TOPICS, 0, { topicNames: [name], timeoutMs: 5000 });
  assert.deepEqual(again.responses.map((r) => [r.name, r.errorCode]), [[name, UNKNOWN_TOPIC_OR_PARTITION]]);
});

test('DescribeConfigs v0: isDefault instead of a source, no synonyms; after AlterConfigs v0 the override is not default', async () => {
  const describe = () => wire.send(DESCRIBE_CONFIGS, 0, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: ['retention.ms', 'cleanup.policy'] }] });
  const before = await describe();
  assert.equal(before.results[0]?.errorCode, 0);
  assert.deepEqual(
    before.results[0]?.configs.map((c) => ({ name: c.name, value: c.value, readOnly: c.readOnly, isDefault: c.isDefault, isSensitive: c.isSensitive, synonyms: c.synonyms })),
    [
      { name: 'retention.ms', value: '604800000', readOnly: false, isDefault: true, isSensitive: false, synonyms: [] },
      { name: 'cleanup.policy', value: 'delete', readOnly: false, isDefault: true, isSensitive: false, synonyms: [] },
    ].sort((a, b) => (before.results[0]?.configs.findIndex((c) => c.name === a.name) ?? 0) - (before.results[0]?.configs.findIndex((c) => c.name === b.name) ?? 0)),
  );
  const altered = await wire.send(ALTER_CONFIGS, 0, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configs: [{ name: 'retention.ms', value: '3600000' }] }], validateOnly: false });
  assert.equal(altered.responses[0]?.errorCode, 0);
  const after = await describe();
  const retention = after.results[0]?.configs.find((c) => c.name === 'retention.ms');
  assert.deepEqual([retention?.value, retention?.isDefault], ['3600000', false]);
  const brokerConfigs = await wire.send(DESCRIBE_CONFIGS, 0, { resources: [{ resourceType: BROKER_RESOURCE, resourceName: '0', configurationKeys: null }] });
  assert.equal(brokerConfigs.results[0]?.errorCode, 0);
  assert.ok((brokerConfigs.results[0]?.configs.length ?? 0) > 0);
  for (const c of brokerConfigs.results[0]?.configs ?? []) assert.deepEqual([c.name, c.readOnly, c.isDefault], [c.name, true, false]);
});

test('ListOffsets v0: oldStyleOffsets as Kafka answers them, newest first, at most maxNumOffsets', async () => {
  const ask = async (partition: number, timestamp: bigint, maxNumOffsets: number, name = topic) => {
    const answer = await wire.send(LIST_OFFSETS, 0, { replicaId: -1, topics: [{ name, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets }] }] });
    const p = answer.topics[0]?.partitions[0];
    return { errorCode: p?.errorCode, offsets: p?.oldStyleOffsets };
  };
  assert.deepEqual(await ask(0, -2n, 1), { errorCode: 0, offsets: [0n] }, 'earliest');
  assert.deepEqual(await ask(0, -1n, 1), { errorCode: 0, offsets: [5n] }, 'latest');
  assert.deepEqual(await ask(0, -1n, 10), { errorCode: 0, offsets: [5n, 0n] }, 'latest and every segment start before it');
  assert.deepEqual(await ask(0, BigInt(firstTimestampMs + 4000), 10), { errorCode: 0, offsets: [0n] }, 'at the newest record: the segment start');
  assert.deepEqual(await ask(0, BigInt(firstTimestampMs + 1000), 10), { errorCode: 0, offsets: [] }, 'before the segment was last written: nothing');
  assert.deepEqual(await ask(0, BigInt(Date.now() + 60_000), 10), { errorCode: 0, offsets: [5n, 0n] }, 'after now: the log end too');
  assert.deepEqual(await ask(1, -1n, 10), { errorCode: 0, offsets: [0n] }, 'an empty partition: its end');
  assert.deepEqual(await ask(1, -2n, 10), { errorCode: 0, offsets: [0n] });
  assert.deepEqual(await ask(0, -1n, 0), { errorCode: 0, offsets: [] }, 'maxNumOffsets 0');
  assert.deepEqual(await ask(0, -1n, 1, 'no-such-topic'), { errorCode: UNKNOWN_TOPIC_OR_PARTITION, offsets: [] });
  const v1 = await wire.send(LIST_OFFSETS, 1, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: BigInt(firstTimestampMs + 2500), maxNumOffsets: 1 }] }] });
  assert.deepEqual([v1.topics[0]?.partitions[0]?.errorCode, v1.topics[0]?.partitions[0]?.offset, v1.topics[0]?.partitions[0]?.timestamp], [0, 3n, BigInt(firstTimestampMs + 3000)], 'v1 still answers by time');
});

test('OffsetForLeaderEpoch v0: the end offset of the current epoch, as v2 answers it', async () => {
  const metadata = await wire.send(METADATA, 9, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  const epoch = metadata.topics[0]?.partitions.find((p) => p.partitionIndex === 0)?.leaderEpoch ?? -1;
  assert.ok(epoch >= 0);
  const v0 = await wire.send(OFFSET_FOR_LEADER_EPOCH, 0, { topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch }] }] });
  assert.deepEqual(v0.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.errorCode, p.endOffset])]), [[topic, [[0, 0, 5n]]]]);
  const v2 = await wire.send(OFFSET_FOR_LEADER_EPOCH, 2, { topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch }] }] });
  assert.equal(v2.topics[0]?.partitions[0]?.endOffset, 5n);
  assert.equal(v2.topics[0]?.partitions[0]?.leaderEpoch, epoch);
});

test('OffsetCommit v0 and v1 (simple commits) are read back by OffsetFetch v0 and v1', async () => {
  const group = `${topic}-simple`;
  const v0 = await wire.send(OFFSET_COMMIT, 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'm0' }] }] });
  assert.deepEqual(v0.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]), [[topic, [[0, 0]]]]);
  const fetch = async (version: number) => {
    const answer = await wire.send(OFFSET_FETCH, version, { groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }] });
    return answer.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]));
  };
  assert.deepEqual(await fetch(0), [[topic, 0, 3n, 'm0', 0], [topic, 1, -1n, '', 0]]);
  const v1 = await wire.send(OFFSET_COMMIT, 1, {
    groupId: group,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    topics: [{ name: topic, partitions: [{ partitionIndex: 1, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }, { partitionIndex: 0, committedOffset: 4n, committedLeaderEpoch: -1, commitTimestamp: BigInt(Date.now()), committedMetadata: 'm1' }] }],
  });
  assert.deepEqual(v1.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode]), [[1, 0], [0, 0]]);
  assert.deepEqual(await fetch(1), [[topic, 0, 4n, 'm1', 0], [topic, 1, 0n, '', 0]]);
  assert.deepEqual(await fetch(0), await fetch(1), 'v0 reads what v1 does');
  const unknownTopic = await wire.send(OFFSET_COMMIT, 0, { groupId: group, topics: [{ name: 'no-such-topic', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal(unknownTopic.topics[0]?.partitions[0]?.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
});

test('OffsetCommit v1 of a group member is checked against its generation; v0 into an active group is UNKNOWN_MEMBER_ID', async () => {
  const group = `${topic}-members`;
  const joined = await wire.send(JOIN_GROUP, 0, { groupId: group, sessionTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
  assert.equal(joined.errorCode, 0);
  assert.equal(joined.leader, joined.memberId);
  const synced = await wire.send(SYNC_GROUP, 0, { groupId: group, generationId: joined.generationId, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.alloc(0) }] });
  assert.equal(synced.errorCode, 0);
  const commit = (generationIdOrMemberEpoch: number) =>
    wire.send(OFFSET_COMMIT, 1, { groupId: group, generationIdOrMemberEpoch, memberId: joined.memberId, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 2n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' }] }] });
  assert.equal((await commit(joined.generationId)).topics[0]?.partitions[0]?.errorCode, 0);
  assert.equal((await commit(joined.generationId + 1)).topics[0]?.partitions[0]?.errorCode, ILLEGAL_GENERATION);
  const simple = await wire.send(OFFSET_COMMIT, 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal(simple.topics[0]?.partitions[0]?.errorCode, UNKNOWN_MEMBER_ID);
  const fetched = await wire.send(OFFSET_FETCH, 0, { groupId: group, topics: [{ name: topic, partitionIndexes: [0] }] });
  assert.equal(fetched.topics[0]?.partitions[0]?.committedOffset, 2n, 'only the member commit counted');
  const beat = await wire.send(HEARTBEAT, 0, { groupId: group, generationId: joined.generationId, memberId: joined.memberId });
  assert.equal(beat.errorCode, 0);
  const left = await wire.send(LEAVE_GROUP, 0, { groupId: group, memberId: joined.memberId });
  assert.equal(left.errorCode, 0);
  const afterLeave = await wire.send(OFFSET_COMMIT, 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal(afterLeave.topics[0]?.partitions[0]?.errorCode, 0, 'a simple commit once the group is Empty');
});

test('Metadata v0 (an empty list is every topic) and FindCoordinator v0 answer', async () => {
  const metadata = await wire.send(METADATA, 0, { topics: [] });
  assert.deepEqual(metadata.brokers.map((b) => [b.nodeId, b.host, b.port]), [[0, broker.host, broker.port]]);
  const ours = metadata.topics.find((t) => t.name === topic);
  assert.deepEqual(ours?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId]), [[0, 0, 0], [1, 0, 0]]);
  const coordinator = await wire.send(FIND_COORDINATOR, 0, { key: `${topic}-simple` });
  assert.deepEqual([coordinator.errorCode, coordinator.nodeId, coordinator.host, coordinator.port], [0, 0, broker.host, broker.port]);
});

test('a version still unsupported (Fetch v3) closes the connection and is logged once per client id, API and version', async () => {
  const clientId = `old-fetch-${randomUUID().slice(0, 8)}`;
  for (let i = 0; i < 3; i++) {
    const client = await WireClient.connect(broker.host, broker.port, clientId);
    await assert.rejects(
      client.send(FETCH, 3, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024, topics: [{ topic, topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1024, replicaDirectoryId: ZERO_UUID }] }] }),
      ConnectionClosedError,
    );
    client.close();
  }
  const other = await WireClient.connect(broker.host, broker.port, `${clientId}-other`);
  await assert.rejects(other.send(FETCH, 2, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024, topics: [] }), ConnectionClosedError);
  other.close();
  const refusals = () =>
    broker
      .logs()
      .split('\n')
      .filter((line) => line.includes('unsupported API version') && line.includes(clientId))
      .map((line) => JSON.parse(line) as { api: string; apiVersion: number; clientId: string; supported: string });
  // The broker's log lines reach us asynchronously; wait for the second client's, then for any straggler.
  await waitFor("the second client's refusal logged", () => refusals().length >= 2, 5_000).catch(() => {});
  await sleep(300);
  const logged = refusals();
  assert.deepEqual(
    logged.map((l) => [l.clientId, l.api, l.apiVersion, l.supported]),
    [[clientId, 'Fetch', 3, '4-17'], [`${clientId}-other`, 'Fetch', 2, '4-17']],
  );
  const versions = await wire.send(API_VERSIONS, 0, {});
  assert.equal(versions.errorCode, 0, 'ApiVersions v0 is served');
});

test('ApiVersions of an unknown version answers UNSUPPORTED_VERSION with the table (KIP-511)', async () => {
  const client = await WireClient.connect(broker.host, broker.port);
  // Encoded as v3, framed as v99: the broker answers in v0 with the error and its versions.
  const { encodeRequest, decodeResponse } = await import('../../src/protocol/codec/index.ts');
  const chunks = encodeRequest(API_VERSIONS, 3, 7, 'kip-511', { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  const frame = Buffer.concat(chunks);
  frame.writeInt16BE(99, 2);
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length, 0);
  client.sendRaw(Buffer.concat([size, frame]));
  const answer = decodeResponse(API_VERSIONS, 0, await client.nextFrame());
  assert.equal(answer.body.errorCode, UNSUPPORTED_VERSION);
  assert.ok(answer.body.apiKeys.some((k) => k.apiKey === OFFSET_COMMIT && k.minVersion === 0));
  client.close();
});

test('through the proxy: the old versions are advertised and answered the same way', async () => {
  const proxy = await startProxy({ bootstrap: broker.bootstrap });
  try {
    const client = await WireClient.connect(proxy.host, proxy.port);
    const versions = await client.send(API_VERSIONS, 3, { clientSoftwareName: 'old-versions', clientSoftwareVersion: '1' });
    const min = (apiKey: number) => versions.apiKeys.find((k) => k.apiKey === apiKey)?.minVersion;
    assert.deepEqual([min(OFFSET_COMMIT), min(OFFSET_FETCH), min(LIST_OFFSETS), min(DESCRIBE_CONFIGS), min(FETCH)], [0, 0, 0, 0, 4]);
    const offsets = await client.send(LIST_OFFSETS, 0, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 10 }, { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 10 }] }] });
    assert.deepEqual(offsets.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.oldStyleOffsets]), [[0, 0, [5n, 0n]], [1, 0, [0n]]]);
    const group = `${topic}-proxy`;
    const committed = await client.send(OFFSET_COMMIT, 1, { groupId: group, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: topic, partitions: [{ partitionIndex: 1, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'p' }] }] });
    assert.equal(committed.topics[0]?.partitions[0]?.errorCode, 0);
    const fetched = await client.send(OFFSET_FETCH, 0, { groupId: group, topics: [{ name: topic, partitionIndexes: [1] }] });
    assert.deepEqual(fetched.topics[0]?.partitions.map((p) => [p.committedOffset, p.metadata, p.errorCode]), [[0n, 'p', 0]]);
    const configs = await client.send(DESCRIBE_CONFIGS, 0, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: ['cleanup.policy'] }] });
    assert.deepEqual(configs.results[0]?.configs.map((c) => [c.name, c.value, c.isDefault]), [['cleanup.policy', 'delete', true]]);
    client.close();
  } finally {
    await proxy.stop();
  }
});
