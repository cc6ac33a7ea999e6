/**
 * @platformatic/kafka 2.x consumer group (classic protocol) against a real broker: three Consumers in
 * one group on a 6-partition topic get every partition exactly once (two each), every message is
 * consumed by exactly one member, and when a member leaves (close → LeaveGroup) the two others take
 * over its partitions from its committed offsets, so nothing is consumed twice or lost.
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { classicGroupConsumer, closeForced, joinedPartitions, type BufferConsumer } from './group-consumer.ts';

const PARTITIONS = 6;
const FIRST = 600;
const SECOND = 300;
/**
 * @platformatic/kafka does not drop the records of a Fetch that was in flight when its partitions were
 * revoked (the Java client does): a long poll started under the old assignment can deliver a message
 * that the new owner also reads. Fetch is assignment-blind in Kafka too, so the test lets such polls
 * (maxWaitTime 200 ms) run out after every rebalance before it produces.
 */
const SETTLE_MS = 1_000;

let broker: BrokerProcess;
const streamErrors: string[] = [];

/** Waits like waitFor, naming the errors the client streams reported meanwhile. */
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 25_000): Promise<number> =>
  waitFor(what, condition, { timeoutMs, detail: () => (streamErrors.length > 0 ? `stream errors: ${streamErrors.join('; ')}` : '') });
let wire: WireClient;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000' }, logLevel: 'warn' });
  wire = await WireClient.connect(broker.host, broker.port);
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

interface Member {
  readonly consumer: BufferConsumer;
  readonly seen: string[];
  partitions(): number[];
}

async function member(groupId: string, topic: string, members: Member[]): Promise<Member> {
  const consumer = classicGroupConsumer('kafscale-compat-platformatic-groups', groupId, broker.bootstrap);
  const partitions = joinedPartitions(consumer, topic);
  const seen: string[] = [];
  const start = async (): Promise<void> => {
    // Committed offsets first, earliest where none: a member taking over a partition resumes where the
    // previous owner committed.
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
    stream.on('data', (message) => void seen.push(message.value.toString()));
    stream.on('error', (error: Error) => void streamErrors.push(error.message));
  };
  await start();
  const m: Member = { consumer, seen, partitions };
  members.push(m);
  return m;
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: 'kafscale-compat-platformatic-groups', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
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

test('platformatic: three members share six partitions, each message consumed once, a leaving member hands over', { timeout: 90_000 }, async (t) => {
  const topic = `platformatic-groups-${randomUUID().slice(0, 8)}`;
  const groupId = `g-${topic}`;
  const admin = new Admin({ clientId: 'kafscale-compat-platformatic-groups', bootstrapBrokers: [broker.bootstrap], retries: 1, timeout: 10_000 });
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
});
