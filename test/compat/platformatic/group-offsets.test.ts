/**
 * @platformatic/kafka 2.x group offsets against a real broker: a new group started with
 * fallbackMode 'latest' (auto.offset.reset=latest) consumes only what is produced after it joined, and
 * its committed offsets survive a consumer restart and a broker restart (a new Consumer in mode
 * 'committed' reads only what came after the last commit).
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { classicGroupConsumer, closeForced, joinedPartitions } from './group-consumer.ts';

const PARTITIONS = 6;
const CLIENT = 'kafscale-compat-platformatic-group-offsets';

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000' }, logLevel: 'warn' });
});

after(async () => {
  await broker?.stop();
});

async function withAdmin<T>(task: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], retries: 1, retryDelay: 100, timeout: 10_000 });
  try {
    return await task(admin);
  } finally {
    await admin.close();
  }
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 3, retryDelay: 200, timeout: 10_000 });
  try {
    await producer.send({ messages: Array.from({ length: count }, (_, i) => ({ topic, partition: (from + i) % PARTITIONS, value: Buffer.from(`v${from + i}`) })) });
  } finally {
    await producer.close();
  }
}

async function committedTotal(groupId: string, topic: string): Promise<bigint> {
  const groups = await withAdmin((admin) => admin.listConsumerGroupOffsets({ groups: [groupId] }));
  const partitions = groups.find((g) => g.groupId === groupId)?.topics.find((t) => t.name === topic)?.partitions ?? [];
  return partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n);
}

async function logEndTotal(topic: string): Promise<bigint> {
  const partitions = Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
  const listed = await withAdmin((admin) => admin.listOffsets({ topics: [{ name: topic, partitions }] }));
  return (listed[0]?.partitions ?? []).reduce((sum, p) => sum + p.offset, 0n);
}

/** Waits until the group's commits reach the log end on every partition (sums: offsets only grow). */
async function committedToLogEnd(groupId: string, topic: string): Promise<void> {
  const end = await logEndTotal(topic);
  await waitFor('the autocommits reach the log end', async () => (await committedTotal(groupId, topic)) === end);
}

interface Run {
  readonly seen: string[];
  /** True once the stream knows where to start reading every partition (fallbackMode or commit resolved). */
  startsResolved(): boolean;
  close(): Promise<void>;
}

/** One group member consuming `topic`, autocommitting every 100 ms; resolves once it owns all partitions. */
async function consume(groupId: string, topic: string, fallbackMode: 'earliest' | 'latest'): Promise<Run> {
  const consumer = classicGroupConsumer(CLIENT, groupId, broker.bootstrap);
  const owned = joinedPartitions(consumer, topic);
  const seen: string[] = [];
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode, autocommit: 100 });
  stream.on('data', (message) => void seen.push(message.value.toString()));
  stream.on('error', () => {});
  const close = (): Promise<void> => closeForced(consumer);
  try {
    await waitFor('the member owns every partition', () => owned().length === PARTITIONS);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const startsResolved = (): boolean => Array.from({ length: PARTITIONS }, (_, p) => stream.offsetsToFetch.get(`${topic}:${p}`)).every((o) => o !== undefined);
  return { seen, startsResolved, close };
}

const names = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `v${from + i}`);
const sorted = (values: string[]): string[] => values.slice().sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));

test('platformatic: fallbackMode latest reads only new messages; commits survive a consumer restart and a broker restart', { timeout: 60_000 }, async (t) => {
  const topic = `platformatic-group-offsets-${randomUUID().slice(0, 8)}`;
  const groupId = `g-${topic}`;
  await withAdmin((admin) => admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 }));
  await waitFor('every partition accepts a produce', async () => {
    try {
      await produce(topic, 0, 12);
      return true;
    } catch {
      return false;
    }
  });
  // v0..v11 (possibly written more than once by the retries above) are before the group existed.
  let open: Run | null = null;
  t.after(async () => open?.close().catch(() => {}));

  open = await consume(groupId, topic, 'latest');
  // The stream resolves each partition's start offset (ListOffsets latest) after the join, on its own
  // schedule: messages produced before that would count as "before the group joined" and never arrive.
  await waitFor('the stream resolved the latest offset of every partition', () => open !== null && open.startsResolved());
  await produce(topic, 12, 6);
  await waitFor('6 new messages', () => open !== null && open.seen.length >= 6);
  await committedToLogEnd(groupId, topic);
  await sleep(500);
  assert.deepEqual(sorted(open.seen), names(12, 6), 'latest: nothing from before the group joined');
  await open.close();
  open = null;

  // Consumer restart: a new member resumes from the commits (the fallback would say earliest).
  await produce(topic, 18, 6);
  open = await consume(groupId, topic, 'earliest');
  await waitFor('the 6 messages after the commit', () => open !== null && open.seen.length >= 6);
  await sleep(1_000);
  assert.deepEqual(sorted(open.seen), names(18, 6), 'a restarted consumer reads only what came after its commit');
  await committedToLogEnd(groupId, topic);
  await open.close();
  open = null;

  await broker.restart();
  await produce(topic, 24, 6);
  open = await consume(groupId, topic, 'earliest');
  await waitFor('the 6 messages after the broker restart', () => open !== null && open.seen.length >= 6);
  await sleep(1_000);
  assert.deepEqual(sorted(open.seen), names(24, 6), 'after a broker restart the group resumes from its committed offsets');
});
