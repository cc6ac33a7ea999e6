/**
 * @platformatic/kafka 2.x Admin consumer-group views against a real broker, with a live 3-member group
 * on a 6-partition topic: listGroups (with state, and the states filter), describeGroups (members with
 * client id, host and decoded assignment), lag (log end from Admin.listOffsets minus the committed
 * offsets from listConsumerGroupOffsets), reset offsets with alterConsumerGroupOffsets (refused with
 * UNKNOWN_MEMBER_ID while the group has members, as Kafka's OffsetCommit does for generation -1; to
 * earliest and to a given offset once it is empty), deleteConsumerGroupOffsets (OffsetDelete:
 * GROUP_SUBSCRIBED_TO_TOPIC while members consume the topic, then it works) and deleteGroups
 * (NON_EMPTY_GROUP while members remain; once empty the group and its offsets are gone).
 * The client has an Admin call for every step, so the wire client is used only to wait until every
 * partition has a leader.
 * The last test pins a fixed bug: the broker used to delete a live group's offsets because it could
 * not read @platformatic/kafka's v1-labelled subscription (it now reads the v0 prefix, as Kafka does).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { classicGroupConsumer, closeForced, joinedPartitions, type BufferConsumer } from './group-consumer.ts';

const PARTITIONS = 6;
const PER_PARTITION = 10;
const CLIENT = 'kafscale-compat-platformatic-group-admin';

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000' }, logLevel: 'warn' });
  admin = new Admin({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], retries: 1, retryDelay: 100, timeout: 10_000 });
});

after(async () => {
  await admin?.close();
  await broker?.stop();
});

/** The Kafka error name inside a client error (ResponseError wraps one ProtocolError per failed item). */
function kafkaErrorNames(error: unknown): string[] {
  const names: string[] = [];
  const visit = (e: unknown): void => {
    if (e === null || typeof e !== 'object') return;
    const apiId = (e as { apiId?: unknown }).apiId;
    if (typeof apiId === 'string') names.push(apiId);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) visit(inner);
  };
  visit(error);
  return names;
}

async function rejectsWith(what: Promise<unknown>, kafkaError: string): Promise<void> {
  await assert.rejects(what, (error: unknown) => {
    assert.ok(kafkaErrorNames(error).includes(kafkaError), `expected ${kafkaError}, got ${kafkaErrorNames(error).join(',') || String(error)}`);
    return true;
  });
}

interface Member {
  readonly consumer: BufferConsumer;
  readonly clientId: string;
  readonly seen: string[];
  partitions(): number[];
}

async function member(groupId: string, topic: string, clientId: string): Promise<Member> {
  const consumer = classicGroupConsumer(clientId, groupId, broker.bootstrap);
  const partitions = joinedPartitions(consumer, topic);
  const seen: string[] = [];
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
  stream.on('data', (message) => void seen.push(message.value.toString()));
  stream.on('error', () => {});
  return { consumer, clientId, seen, partitions };
}

async function produce(topic: string, perPartition: number): Promise<void> {
  const producer = new Producer({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
  try {
    const messages = Array.from({ length: perPartition * PARTITIONS }, (_, i) => ({ topic, partition: i % PARTITIONS, value: Buffer.from(`m${i}`) }));
    await producer.send({ messages });
  } finally {
    await producer.close();
  }
}

const allPartitions = (): { partitionIndex: number; timestamp: bigint }[] =>
  Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));

/** Log end offset (ListOffsets LATEST, timestamp -1) per partition. */
async function logEnds(topic: string): Promise<Map<number, bigint>> {
  const listed = await admin.listOffsets({ topics: [{ name: topic, partitions: allPartitions() }] });
  return new Map((listed.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
}

/** Committed offset per partition (-1 where none), as OffsetFetch reports them. */
async function committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
  const groups = await admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }] }] });
  const partitions = groups.find((g) => g.groupId === groupId)?.topics.find((t) => t.name === topic)?.partitions ?? [];
  return new Map(partitions.map((p) => [p.partitionIndex, p.committedOffset]));
}

/** Lag per partition the way kafka-consumer-groups computes it: log end minus committed offset. */
async function lag(groupId: string, topic: string): Promise<number[]> {
  const [ends, offsets] = await Promise.all([logEnds(topic), committed(groupId, topic)]);
  return Array.from({ length: PARTITIONS }, (_, p) => {
    const end = ends.get(p);
    const at = offsets.get(p);
    assert.ok(end !== undefined && at !== undefined && at >= 0n, `partition ${p}: log end ${String(end)}, committed ${String(at)}`);
    return Number(end - at);
  });
}

/** A new topic whose partitions all answer ListOffsets, holding PER_PARTITION messages per partition. */
async function filledTopic(): Promise<string> {
  const topic = `platformatic-group-admin-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  await waitFor('every partition has a leader that answers ListOffsets', async () => {
    try {
      return (await logEnds(topic)).size === PARTITIONS;
    } catch {
      return false;
    }
  });
  await produce(topic, PER_PARTITION);
  return topic;
}

test('platformatic Admin: list, describe, lag, reset, delete offsets and delete a consumer group', { timeout: 60_000 }, async (t) => {
  const topic = await filledTopic();
  const groupId = `g-${topic}`;

  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await closeForced(m.consumer).catch(() => {});
  });
  for (let i = 0; i < 3; i++) members.push(await member(groupId, topic, `${CLIENT}-member-${i}`));
  await waitFor('every partition assigned exactly once, two per member', () =>
    members.flatMap((m) => m.partitions()).sort((a, b) => a - b).join(',') === '0,1,2,3,4,5' && members.every((m) => m.partitions().length === 2));
  await waitFor('every message consumed', () => members.reduce((n, m) => n + m.seen.length, 0) >= PER_PARTITION * PARTITIONS);
  await waitFor('the autocommits reach the log end', async () => [...(await committed(groupId, topic)).values()].every((o) => o === BigInt(PER_PARTITION)));

  // list: the live group with its state (2.x reports Kafka's wire value, 'Stable'); the states filter
  // keeps it out of an Empty-only listing. 2.x still accepts 1.x's 'STABLE' spelling as a filter.
  const listed = await admin.listGroups();
  assert.deepEqual(listed.get(groupId), { id: groupId, state: 'Stable', groupType: 'classic', protocolType: 'consumer' });
  assert.equal((await admin.listGroups({ states: ['Empty'] })).has(groupId), false, 'a stable group is not in an Empty listing');
  assert.equal((await admin.listGroups({ states: ['Stable'] })).has(groupId), true);
  assert.equal((await admin.listGroups({ states: ['STABLE'] })).has(groupId), true, "1.x's spelling of the filter");

  // describe: every member with its client id, host and the assignment it was given.
  const described = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
  assert.ok(described !== undefined);
  assert.equal(described.state, 'Stable');
  assert.equal(described.protocolType, 'consumer');
  assert.ok(described.protocol.length > 0, 'the chosen assignor is named');
  assert.equal(described.members.size, 3);
  const byClient = new Map([...described.members.values()].map((m) => [m.clientId, m]));
  for (const m of members) {
    const d = byClient.get(m.clientId);
    assert.ok(d !== undefined, `member ${m.clientId} described`);
    assert.equal(d.clientHost, '/127.0.0.1');
    assert.equal(d.groupInstanceId, null);
    assert.deepEqual(d.metadata?.topics, [topic], 'the subscription is decoded from the member metadata');
    assert.deepEqual(d.assignments?.get(topic)?.partitions.slice().sort((a, b) => a - b), m.partitions(), 'the assignment the member was given');
  }

  // lag with the members caught up.
  assert.deepEqual(await lag(groupId, topic), [0, 0, 0, 0, 0, 0]);

  // A live group refuses an admin reset (generation -1, no member id) and deletion. (OffsetDelete of
  // its topic: the last test.)
  await rejectsWith(admin.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 0n }] }] }), 'UNKNOWN_MEMBER_ID');
  await rejectsWith(admin.deleteGroups({ groups: [groupId] }), 'NON_EMPTY_GROUP');
  assert.equal((await committed(groupId, topic)).get(0), BigInt(PER_PARTITION), 'nothing changed by the refused calls');

  for (const m of members.splice(0)) await closeForced(m.consumer);
  await waitFor('the group is empty', async () => (await admin.listGroups()).get(groupId)?.state === 'Empty');
  assert.equal((await admin.describeGroups({ groups: [groupId] })).get(groupId)?.members.size, 0);
  assert.equal((await admin.listGroups({ states: ['Empty'] })).has(groupId), true, 'an empty group with offsets is listed');

  // lag grows with the log while nobody consumes.
  await produce(topic, 2);
  assert.deepEqual(await lag(groupId, topic), [2, 2, 2, 2, 2, 2]);

  // reset to earliest: the client has no "earliest" mode, so the offsets come from ListOffsets (-2).
  const earliest = await admin.listOffsets({ topics: [{ name: topic, partitions: allPartitions().map((p) => ({ ...p, timestamp: -2n })) }] });
  const earliestOffsets = (earliest[0]?.partitions ?? []).map((p) => ({ partition: p.partitionIndex, offset: p.offset }));
  assert.equal(earliestOffsets.length, PARTITIONS);
  await admin.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: earliestOffsets }] });
  assert.deepEqual([...(await committed(groupId, topic)).entries()].sort(([a], [b]) => a - b), Array.from({ length: PARTITIONS }, (_, p) => [p, 0n]));
  assert.deepEqual(await lag(groupId, topic), Array(PARTITIONS).fill(PER_PARTITION + 2));

  // reset one partition to a given offset.
  await admin.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: [{ partition: 3, offset: 7n }] }] });
  assert.equal((await committed(groupId, topic)).get(3), 7n);
  assert.equal((await lag(groupId, topic))[3], PER_PARTITION + 2 - 7);

  // delete one partition's offset (OffsetDelete on an empty group).
  const deleted = await admin.deleteConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionIndexes: [3] }] });
  assert.deepEqual(deleted, [{ name: topic, partitionIndexes: [3] }]);
  const afterDelete = await committed(groupId, topic);
  assert.equal(afterDelete.get(3), -1n, 'the deleted offset is gone');
  assert.equal(afterDelete.get(2), 0n, 'the other offsets stay');

  // delete the group: its offsets go with it, and it is no longer listed.
  await admin.deleteGroups({ groups: [groupId] });
  assert.equal((await admin.listGroups()).has(groupId), false);
  const gone = await admin.listConsumerGroupOffsets({ groups: [groupId] });
  assert.deepEqual(gone.find((g) => g.groupId === groupId)?.topics ?? [], [], 'no offsets left');
  await rejectsWith(admin.deleteGroups({ groups: [groupId] }), 'GROUP_ID_NOT_FOUND');
});

test('platformatic Admin: OffsetDelete of a topic a live group consumes is GROUP_SUBSCRIBED_TO_TOPIC', {
  timeout: 30_000,
}, async (t) => {
  const topic = await filledTopic();
  const groupId = `g-${topic}`;
  const live = await member(groupId, topic, `${CLIENT}-subscribed`);
  t.after(() => closeForced(live.consumer).catch(() => {}));
  await waitFor('the member owns every partition', () => live.partitions().length === PARTITIONS);
  await waitFor('the autocommits reach the log end', async () => [...(await committed(groupId, topic)).values()].every((o) => o === BigInt(PER_PARTITION)));
  await rejectsWith(admin.deleteConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionIndexes: [0] }] }), 'GROUP_SUBSCRIBED_TO_TOPIC');
  assert.equal((await committed(groupId, topic)).get(0), BigInt(PER_PARTITION), 'the live group keeps its offset');
});
