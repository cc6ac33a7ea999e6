/**
 * Issue 13, "group hand-over without re-delivery": @platformatic/kafka (classic protocol, session timeout
 * 10 s, heartbeat 1 s, autocommit off, the client's default 5 s Fetch long poll), three members on a
 * 6-partition topic; once their assignments cover every partition, 300 messages are produced; then one
 * member commits, leaves, and 300 more are produced.
 *
 * Seen: a message delivered twice. This test shows where the second copy comes from. Every delivery is
 * classed by whether the receiving member owned the partition at that moment (its latest
 * consumer:group:join). The broker's part is asserted:
 *   - the owners together receive every message exactly once (nothing lost, nothing doubled);
 *   - the group log (debug line per state change) shows no rebalance between "assignments cover every
 *     partition" and the end of the batch, and the leave causes exactly one rebalance;
 *   - committed offsets end at the log end.
 * What is left are deliveries to a member that did NOT own the partition: records of a Fetch it sent
 * under its previous assignment, still in the broker's long poll when the rebalance completed, which the
 * client hands to the application instead of dropping (the Java client drops them; see
 * docs/compatibility.md, "@platformatic/kafka: copies of messages after a rebalance"). Their count is reported, not asserted: it depends on whether
 * a poll was in flight across a rebalance.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { closeForced, joinedPartitions, type BufferConsumer } from './group-consumer.ts';

const PARTITIONS = 6;
const BATCH = 300;
const CLIENT = 'kafscale-compat-platformatic-redelivery';

let broker: BrokerProcess;
let wire: WireClient;
const streamErrors: string[] = [];

/** Waits like waitFor, naming the errors the client streams reported meanwhile. */
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 40_000): Promise<number> =>
  waitFor(what, condition, { timeoutMs, detail: () => (streamErrors.length > 0 ? `stream errors: ${streamErrors.join('; ')}` : '') });

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'debug' });
  wire = await WireClient.connect(broker.host, broker.port);
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

interface Delivery {
  readonly value: string;
  readonly partition: number;
  /** The member owned the partition (consumer.assignments) when the message was delivered. */
  readonly owned: boolean;
}

/** One Fetch the member's stream sent: the generation it was sent under and the one it was answered in. */
interface FetchRecord {
  readonly sentInGeneration: number;
  readonly answeredInGeneration: number;
  /** Partitions the answer carried records for. */
  readonly withRecords: number[];
}

interface Member {
  readonly clientId: string;
  readonly fetches: FetchRecord[];
  readonly consumer: BufferConsumer;
  readonly deliveries: Delivery[];
  /** Commits in flight (autocommit is off: each message is committed by the application). */
  readonly commits: Set<Promise<void>>;
  partitions(): number[];
}

interface Transition {
  readonly from: string;
  readonly to: string;
  readonly generationId: number;
  readonly members: { memberId: string; clientId: string; partitions: number | null }[];
}

/** The broker's group log for one group: every state change, in order. */
function groupLog(groupId: string): Transition[] {
  const transitions: Transition[] = [];
  for (const line of broker.logs().split('\n')) {
    if (!line.includes('"group state change"') || !line.includes(groupId)) continue;
    const entry = JSON.parse(line) as Transition & { groupId: string };
    if (entry.groupId === groupId) transitions.push({ from: entry.from, to: entry.to, generationId: entry.generationId, members: entry.members });
  }
  return transitions;
}

async function member(groupId: string, topic: string, index: number): Promise<Member> {
  const clientId = `${CLIENT}-${index}`;
  // The issue's settings; maxWaitTime is the client's default (5 s).
  const consumer = new Consumer({ clientId, groupId, bootstrapBrokers: [broker.bootstrap], sessionTimeout: 10_000, heartbeatInterval: 1_000, retries: 5, timeout: 15_000 });
  const partitions = joinedPartitions(consumer, topic);
  // Every Fetch the stream sends goes through consumer.fetch (callback form): note its generations.
  const fetches: FetchRecord[] = [];
  type FetchCallback = (error: Error | null, response: { responses: { partitions: { partitionIndex: number; records?: unknown[] | null }[] }[] }) => void;
  const patchable = consumer as unknown as { fetch: (options: unknown, callback: FetchCallback) => void };
  const fetch = patchable.fetch.bind(consumer);
  patchable.fetch = (options, callback) => {
    const sentInGeneration = consumer.generationId;
    fetch(options, (error, response) => {
      if (error === null) {
        const withRecords = response.responses.flatMap((r) => r.partitions.filter((p) => (p.records?.length ?? 0) > 0).map((p) => p.partitionIndex));
        if (withRecords.length > 0) fetches.push({ sentInGeneration, answeredInGeneration: consumer.generationId, withRecords });
      }
      callback(error, response);
    });
  };
  const deliveries: Delivery[] = [];
  const commits = new Set<Promise<void>>();
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
  stream.on('data', (message) => {
    // Ownership as the application can see it: the consumer's assignments when the message is delivered.
    const owned = consumer.assignments?.some((a) => a.topic === topic && a.partitions.includes(message.partition)) ?? false;
    deliveries.push({ value: message.value.toString(), partition: message.partition, owned });
    const commit = new Promise<void>((resolve) => void message.commit(() => resolve()));
    commits.add(commit);
    void commit.then(() => commits.delete(commit));
  });
  stream.on('error', (error: Error) => void streamErrors.push(error.message));
  return { clientId, fetches, consumer, deliveries, commits, partitions };
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
  try {
    const messages = Array.from({ length: count }, (_, j) => ({ topic, partition: (from + j) % PARTITIONS, value: Buffer.from(`m${from + j}`) }));
    await producer.send({ messages });
  } finally {
    await producer.close();
  }
}

async function committed(groupId: string, topic: string): Promise<bigint[]> {
  const fetched = await wire.send(9, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }], requireStable: false });
  return (fetched.topics[0]?.partitions ?? []).map((p) => p.committedOffset);
}

const covered = (members: readonly Member[]): boolean => members.flatMap((m) => m.partitions()).sort((a, b) => a - b).join(',') === '0,1,2,3,4,5';

/**
 * Every copy a member received for a partition it did not own came in the answer to a Fetch it had sent
 * under an earlier generation, answered after its assignment changed: the client's stale long poll.
 */
function checkStaleCopiesCameFromOldFetches(member: Member, stale: readonly Delivery[], label: string): void {
  for (const partition of new Set(stale.map((d) => d.partition))) {
    assert.ok(
      member.fetches.some((f) => f.sentInGeneration < f.answeredInGeneration && f.withRecords.includes(partition)),
      `${label}: ${member.clientId}'s copies of partition ${partition} came from a Fetch sent under an earlier generation (fetches: ${JSON.stringify(member.fetches)})`,
    );
  }
}

/** Owners' deliveries of [from, from + count): each exactly once. Returns the deliveries to non-owners. */
function checkBatch(members: readonly Member[], from: number, count: number, label: string): Delivery[] {
  const inBatch = (d: Delivery) => {
    const n = Number(d.value.slice(1));
    return n >= from && n < from + count;
  };
  const all = members.flatMap((m) => m.deliveries.filter(inBatch));
  const owned = all.filter((d) => d.owned);
  assert.equal(new Set(owned.map((d) => d.value)).size, count, `${label}: every message reached its partition's owner`);
  assert.equal(owned.length, count, `${label}: no owner received a message twice`);
  const stale = all.filter((d) => !d.owned);
  for (const d of stale) assert.ok(owned.some((o) => o.value === d.value), `${label}: a non-owner's delivery ${d.value} is a copy of an owner's`);
  return stale;
}

test('platformatic: three members, then a graceful leave — the broker delivers each message once to its owner; extra copies go to members that lost the partition', { timeout: 120_000 }, async (t) => {
  const topic = `platformatic-redelivery-${randomUUID().slice(0, 8)}`;
  const groupId = `g-${topic}`;
  const admin = new Admin({ clientId: CLIENT, bootstrapBrokers: [broker.bootstrap], retries: 1, timeout: 10_000 });
  try {
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  } finally {
    await admin.close();
  }
  const members: Member[] = [];
  // All at once: a member closing after another would first rejoin a rebalance the broker may not finish.
  t.after(() => Promise.all(members.map((m) => closeForced(m.consumer).catch(() => {}))));
  for (let i = 0; i < 3; i++) members.push(await member(groupId, topic, i));
  await until('the three assignments cover every partition', () => covered(members) && members.every((m) => m.partitions().length === 2));
  // The broker's log reaches the test through a pipe, maybe after the SyncGroup answers did.
  await until('the group log shows the Stable generation', () => groupLog(groupId).at(-1)?.members.length === 3 && groupLog(groupId).at(-1)?.to === 'Stable', 5_000);
  const stableAt = groupLog(groupId).length;
  const lastBeforeProduce = groupLog(groupId).at(-1);
  assert.equal(lastBeforeProduce?.to, 'Stable', 'the group log ends in Stable once every member has its assignment');
  assert.deepEqual(lastBeforeProduce.members.map((m) => m.partitions), [2, 2, 2], 'the broker distributed the leader’s assignment: two partitions each');

  // No settle time: the issue's user produces as soon as the assignments cover every partition.
  await produce(topic, 0, BATCH);
  await until(`${BATCH} messages reached their owners`, () => members.flatMap((m) => m.deliveries).filter((d) => d.owned).length >= BATCH);
  await until('every commit answered', () => members.every((m) => m.commits.size === 0));
  await sleep(6_000); // longer than the client's 5 s long poll: every stale poll has answered
  const firstStale = checkBatch(members, 0, BATCH, 'first batch');
  for (const m of members) checkStaleCopiesCameFromOldFetches(m, m.deliveries.filter((d) => !d.owned), 'first batch');
  assert.equal(groupLog(groupId).length, stableAt, 'no rebalance after the group was stable');
  assert.deepEqual(await committed(groupId, topic), Array(PARTITIONS).fill(BigInt(BATCH / PARTITIONS)), 'every partition committed to its end');

  // One member leaves gracefully, having committed everything it consumed.
  const leaving = members.pop() as Member;
  await until('the leaving member’s commits are answered', () => leaving.commits.size === 0);
  await closeForced(leaving.consumer);
  await until('the two remaining assignments cover every partition', () => covered(members) && members.every((m) => m.partitions().length === 3));
  await until('the group log shows the next Stable generation', () => groupLog(groupId).length >= stableAt + 3 && groupLog(groupId).at(-1)?.to === 'Stable', 5_000);
  const afterLeave = groupLog(groupId).slice(stableAt);
  assert.deepEqual(afterLeave.map((e) => e.to), ['PreparingRebalance', 'CompletingRebalance', 'Stable'], `the leave caused exactly one rebalance: ${JSON.stringify(afterLeave)}`);
  assert.deepEqual(afterLeave.at(-1)?.members.map((m) => m.partitions), [3, 3]);
  const stableAgainAt = groupLog(groupId).length;

  await produce(topic, BATCH, BATCH);
  await until(`${BATCH} more messages reached their owners`, () => members.flatMap((m) => m.deliveries).filter((d) => d.owned && Number(d.value.slice(1)) >= BATCH).length >= BATCH);
  await until('every commit answered', () => members.every((m) => m.commits.size === 0));
  await sleep(6_000);
  const secondStale = checkBatch(members, BATCH, BATCH, 'second batch');
  for (const m of members) checkStaleCopiesCameFromOldFetches(m, m.deliveries.filter((d) => !d.owned), 'second batch');
  assert.equal(groupLog(groupId).length, stableAgainAt, 'no rebalance after the group was stable again');
  assert.deepEqual(await committed(groupId, topic), Array(PARTITIONS).fill(BigInt((2 * BATCH) / PARTITIONS)), 'every partition committed to its end');

  t.diagnostic(`copies delivered to members that no longer owned the partition: ${firstStale.length} in the first batch, ${secondStale.length} in the second`);
  t.diagnostic(`group log: ${JSON.stringify(groupLog(groupId).map((e) => `${e.from}->${e.to} g${e.generationId} [${e.members.map((m) => m.partitions).join(',')}]`))}`);
});
