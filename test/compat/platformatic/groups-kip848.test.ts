/**
 * @platformatic/kafka 2.x with the KIP-848 consumer group protocol (`groupProtocol: 'consumer'`, i.e.
 * ConsumerGroupHeartbeat with broker-side assignment) against a real broker: three Consumers on a
 * 6-partition topic get every partition exactly once (two each), every message is consumed by exactly
 * one member; when a member leaves (epoch -1) the two others take over its partitions from its
 * committed offsets; a member started after everyone left resumes from the committed offsets. The same
 * scenario runs a second time through a kafscale proxy in front of the broker.
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { startProxy } from '../../proxy/proxy-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const PARTITIONS = 6;
const FIRST = 600;
const SECOND = 300;
const THIRD = 120;
/** Long polls started under an old assignment run out (maxWaitTime 200 ms) before the test produces. */
const SETTLE_MS = 1_000;

let broker: BrokerProcess;
/** Where the clients connect: the broker, or a kafscale proxy in front of it (second test). */
let clientBootstrap = '';
const streamErrors: string[] = [];

/** Waits like waitFor, naming the errors the client streams reported meanwhile. */
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 25_000): Promise<number> =>
  waitFor(what, condition, { timeoutMs, detail: () => (streamErrors.length > 0 ? `stream errors: ${streamErrors.join('; ')}` : '') });
let wire: WireClient;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '500', KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: '6000' }, logLevel: 'warn' });
  wire = await WireClient.connect(broker.host, broker.port);
  clientBootstrap = broker.bootstrap;
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

interface Member {
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly seen: string[];
  partitions(): number[];
}

async function member(groupId: string, topic: string, members: Member[]): Promise<Member> {
  const consumer = new Consumer({
    clientId: 'kafscale-compat-platformatic-kip848',
    groupId,
    groupProtocol: 'consumer',
    bootstrapBrokers: [clientBootstrap],
    // The client checks rebalanceTimeout ≥ its (classic) default sessionTimeout; the broker's settings apply.
    rebalanceTimeout: 60_000,
    maxWaitTime: 200,
    retries: 5,
    timeout: 10_000,
  });
  // With the consumer protocol the assignment arrives in heartbeat answers; the client keeps it here.
  const assigned = () => (consumer.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
  const seen: string[] = [];
  const start = async (): Promise<void> => {
    // Committed offsets first, earliest where none: a member taking over a partition resumes where the
    // previous owner committed.
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
    stream.on('data', (message) => void seen.push(message.value.toString()));
    stream.on('error', (error: Error) => void streamErrors.push(error.message));
  };
  await start();
  const m: Member = { consumer, seen, partitions: assigned };
  members.push(m);
  return m;
}

/** close(true): close the streams, then LeaveGroup. (The typings resolve `close(true)` to the callback overload.) */
function closeForced(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
  return new Promise((resolve, reject) => consumer.close(true, (error) => (error ? reject(error) : resolve())));
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: 'kafscale-compat-platformatic-kip848', bootstrapBrokers: [clientBootstrap], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
  try {
    for (let start = from; start < from + count; start += 100) {
      const messages = Array.from({ length: Math.min(100, from + count - start) }, (_, j) => ({ topic, partition: (start + j) % PARTITIONS, value: Buffer.from(`m${start + j}`) }));
      await producer.send({ messages });
    }
  } finally {
    await producer.close();
  }
}

async function committedTotal(groupId: string, topic: string): Promise<bigint> {
  const fetched = await wire.send(9, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }], requireStable: false });
  return (fetched.topics[0]?.partitions ?? []).reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n);
}

const scenario = async (t: import('node:test').TestContext): Promise<void> => {
  const topic = `platformatic-kip848-${randomUUID().slice(0, 8)}`;
  const groupId = `g-${topic}`;
  const admin = new Admin({ clientId: 'kafscale-compat-platformatic-kip848', bootstrapBrokers: [clientBootstrap], retries: 1, timeout: 10_000 });
  try {
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  } finally {
    await admin.close();
  }

  // Start consuming once every partition has its owner, and Metadata's leader epochs are the ones
  // ListOffsets checks (KIP-320).
  await until('every partition led, with the epoch ListOffsets accepts', async () => {
    const metadata = await wire.send(3, 12, { topics: [{ name: topic, topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const partitions = metadata.topics[0]?.partitions ?? [];
    if (partitions.length !== PARTITIONS || partitions.some((p) => p.errorCode !== 0 || p.leaderEpoch <= 0)) return false;
    const listed = await wire.send(2, 9, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p.partitionIndex, currentLeaderEpoch: p.leaderEpoch, timestamp: -2n, maxNumOffsets: 1 })) }],
    });
    return (listed.topics[0]?.partitions ?? []).every((p) => p.errorCode === 0);
  });
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) {
      try {
        await closeForced(m.consumer);
      } catch {
        // Cleanup after a failure: the broker is stopped next anyway.
      }
    }
  });
  for (let i = 0; i < 3; i++) await member(groupId, topic, members);
  await until('every partition assigned exactly once, two per member', () => {
    const all = members.flatMap((m) => m.partitions()).sort((a, b) => a - b);
    return all.join(',') === '0,1,2,3,4,5' && members.every((m) => m.partitions().length === 2);
  });

  await sleep(SETTLE_MS);
  await produce(topic, 0, FIRST);
  await until(`${FIRST} messages consumed`, () => members.reduce((n, m) => n + m.seen.length, 0) >= FIRST);
  const firstRound = members.flatMap((m) => m.seen);
  assert.equal(firstRound.length, FIRST);
  assert.equal(new Set(firstRound).size, FIRST, 'no message consumed twice');
  for (const m of members) {
    // A member consumed only from its own partitions.
    const own = new Set(m.partitions());
    assert.ok(m.seen.every((v) => own.has(Number(v.slice(1)) % PARTITIONS)), 'a member reads only its assigned partitions');
  }
  await until('the autocommits cover every consumed message', async () => (await committedTotal(groupId, topic)) === BigInt(FIRST));

  const leaving = members.pop() as Member;
  const handedOver = leaving.partitions();
  await closeForced(leaving.consumer);
  await until('the two remaining members own all six partitions', () => members.flatMap((m) => m.partitions()).sort((a, b) => a - b).join(',') === '0,1,2,3,4,5');
  assert.ok(handedOver.every((p) => members.some((m) => m.partitions().includes(p))), 'the leaver’s partitions were handed over');

  await sleep(SETTLE_MS);
  await produce(topic, FIRST, SECOND);
  await until(`${FIRST + SECOND} messages consumed`, () => members.reduce((n, m) => n + m.seen.length, 0) + leaving.seen.length >= FIRST + SECOND);
  await sleep(300);
  const everything = [...members.flatMap((m) => m.seen), ...leaving.seen];
  assert.equal(everything.length, FIRST + SECOND, 'nothing consumed twice across the hand-over');
  assert.equal(new Set(everything).size, FIRST + SECOND);

  assert.equal(new Set(everything.filter((v) => handedOver.includes(Number(v.slice(1)) % PARTITIONS) && Number(v.slice(1)) >= FIRST)).size > 0, true, 'handed-over partitions were consumed');
  await until('the autocommits cover every consumed message', async () => (await committedTotal(groupId, topic)) === BigInt(FIRST + SECOND));

  // Everyone leaves; a new member resumes from the committed offsets and reads only what is new.
  for (const m of members.splice(0)) await closeForced(m.consumer);
  const described = await wire.send(69, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.groupState, 'Empty');
  await produce(topic, FIRST + SECOND, THIRD);
  const late = await member(groupId, topic, members);
  await until(`${THIRD} new messages consumed by the new member`, () => late.seen.length >= THIRD);
  await sleep(500);
  assert.equal(late.seen.length, THIRD, 'the new member resumed from the committed offsets');
  assert.ok(late.seen.every((v) => Number(v.slice(1)) >= FIRST + SECOND));
};

test('platformatic (KIP-848 consumer protocol): three members share six partitions, each message consumed once, a leaving member hands over, a new member resumes', { timeout: 90_000 }, scenario);

test('the same through a kafscale proxy in front of the broker (ConsumerGroupHeartbeat routed to the coordinator)', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy({ bootstrap: broker.bootstrap });
  t.after(() => proxy.stop());
  clientBootstrap = proxy.bootstrap;
  try {
    await scenario(t);
  } finally {
    clientBootstrap = broker.bootstrap;
  }
});
