/**
 * kafkajs 2.2.4 consumer groups against a real broker: a 3-member group on a 6-partition topic, each
 * message consumed exactly once across the members, hand-over when a member leaves, committed offsets
 * surviving a consumer restart and a broker restart, and the admin views (list, describe, reset and
 * delete offsets, delete groups).
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Consumer, type Producer } from 'kafkajs';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const { Kafka, logLevel } = kafkajs;
const SESSION_TIMEOUT_MS = 6_000;

let broker: BrokerProcess;
let kafka: InstanceType<typeof Kafka>;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000' }, logLevel: 'warn' });
  kafka = new Kafka({ clientId: 'kafscale-groups', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
});

after(async () => {
  for (const c of consumers) await c.disconnect().catch(() => {});
  await producer?.disconnect().catch(() => {});
  await admin?.disconnect().catch(() => {});
  await broker?.stop();
});

async function createTopic(partitions: number): Promise<string> {
  const topic = `g-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

async function produce(topic: string, count: number, from = 0): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}`, partition: (from + i) % 6 }));
  await producer.send({ topic, messages });
}

interface Member {
  consumer: Consumer;
  seen: string[];
  assigned: () => number[];
  /** True once a fetch has completed since the last join: kafkajs resolves its start offsets before fetching. */
  fetchedSinceJoin: () => boolean;
}

async function member(groupId: string, topic: string, fromBeginning = true): Promise<Member> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 });
  consumers.push(consumer);
  const seen: string[] = [];
  let assignment: number[] = [];
  let fetched = false;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assignment = (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b);
    fetched = false;
  });
  consumer.on(consumer.events.FETCH, () => {
    fetched = true;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
  return { consumer, seen, assigned: () => assignment, fetchedSinceJoin: () => fetched };
}

test('three members share six partitions, each message is consumed once, and a leaving member hands over', { timeout: 60_000 }, async () => {
  const topic = await createTopic(6);
  const groupId = `grp-${randomUUID().slice(0, 8)}`;
  await produce(topic, 60);
  const members = [await member(groupId, topic), await member(groupId, topic), await member(groupId, topic)];
  await waitFor('every partition assigned exactly once', () => {
    const all = members.flatMap((m) => m.assigned()).sort((a, b) => a - b);
    return all.join(',') === '0,1,2,3,4,5' && members.every((m) => m.assigned().length === 2);
  });
  await waitFor('60 messages consumed', () => members.reduce((n, m) => n + m.seen.length, 0) >= 60);
  const all = members.flatMap((m) => m.seen).sort();
  assert.equal(all.length, 60);
  assert.equal(new Set(all).size, 60, 'no message consumed twice');

  const described = await admin.describeGroups([groupId]);
  const group = described.groups[0];
  assert.equal(group?.state, 'Stable');
  assert.equal(group?.protocolType, 'consumer');
  assert.equal(group?.members.length, 3);
  for (const m of group?.members ?? []) {
    assert.equal(m.clientId, 'kafscale-groups');
    assert.ok(m.memberAssignment.length > 0, 'assignment reported');
  }
  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === groupId && g.protocolType === 'consumer'));

  // Graceful leave: the two others take over all six partitions, and new messages still arrive once.
  const leaving = members.pop() as Member;
  await leaving.consumer.disconnect();
  await waitFor('the remaining two own all partitions', () => members.flatMap((m) => m.assigned()).sort((a, b) => a - b).join(',') === '0,1,2,3,4,5', SESSION_TIMEOUT_MS + 10_000);
  await produce(topic, 30, 60);
  await waitFor('90 messages consumed', () => members.reduce((n, m) => n + m.seen.length, 0) + leaving.seen.length >= 90);
  const after = [...members.flatMap((m) => m.seen), ...leaving.seen];
  assert.equal(new Set(after).size, after.length, 'no message consumed twice across the hand-over');
  for (const m of members) await m.consumer.disconnect();
});

test('committed offsets survive a consumer restart and a broker restart; admin resets and deletes them', { timeout: 60_000 }, async () => {
  const topic = await createTopic(6);
  const groupId = `grp-${randomUUID().slice(0, 8)}`;
  await produce(topic, 12);
  const first = await member(groupId, topic);
  await waitFor('12 consumed', () => first.seen.length >= 12);
  await waitFor('offsets committed', async () => {
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets[0]?.partitions.every((p) => p.offset === '2') ?? false;
  });
  await first.consumer.disconnect();

  await broker.restart();
  await produce(topic, 6, 12);
  const second = await member(groupId, topic);
  await waitFor('the 6 new messages', () => second.seen.length >= 6);
  await sleep(500);
  assert.deepEqual(second.seen.sort(), ['v12', 'v13', 'v14', 'v15', 'v16', 'v17'], 'only messages after the committed offsets');
  await second.consumer.disconnect();

  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === groupId), 'an empty group with offsets is listed');
  await admin.resetOffsets({ groupId, topic, earliest: true });
  // kafkajs commits the earliest sentinel (-2) itself and resolves it when a consumer starts; Kafka
  // stores whatever offset is committed, and so does kafscale.
  const reset = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.ok(reset[0]?.partitions.every((p) => p.offset === '-2'), JSON.stringify(reset));
  await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '1' }] });
  const set = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.equal(set[0]?.partitions.find((p) => p.partition === 0)?.offset, '1');
  await admin.deleteGroups([groupId]);
  const gone = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.ok(gone[0]?.partitions.every((p) => p.offset === '-1'), 'deleting the group deleted its offsets');
});

test('a new group honours fromBeginning=false (auto.offset.reset latest)', { timeout: 30_000 }, async () => {
  const topic = await createTopic(6);
  await produce(topic, 6);
  const latest = await member(`grp-${randomUUID().slice(0, 8)}`, topic, false);
  // Messages produced before the consumer has resolved the latest offsets would count as old ones.
  await waitFor('assignment and a fetch from the resolved latest offsets', () => latest.assigned().length === 6 && latest.fetchedSinceJoin());
  await produce(topic, 6, 6);
  await waitFor('new messages', () => latest.seen.length >= 6);
  assert.ok(latest.seen.every((v) => Number(v.slice(1)) >= 6), `only new messages: ${latest.seen.join(',')}`);
  await latest.consumer.disconnect();
});
