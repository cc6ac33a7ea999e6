/**
 * The @platformatic/kafka 2.x group scenario shared by the classic-protocol test (groups.test.ts) and
 * the KIP-848 one (groups-kip848.test.ts): three Consumers in one group on a 6-partition topic get every
 * partition exactly once (two each), every message is consumed by exactly one member, and when a member
 * leaves the two others take over its partitions from its committed offsets — nothing consumed twice or
 * lost. Only how a member joins differs between the protocols.
 *
 * @platformatic/kafka does not drop the records of a Fetch that was in flight when its partitions were
 * revoked (the Java client does): a long poll started under the old assignment can deliver a message that
 * the new owner also reads. Fetch is assignment-blind in Kafka too, so the scenario lets such polls
 * (maxWaitTime 200 ms) run out after every rebalance (SETTLE_MS) before it produces.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer, ProduceAcks, Producer, type GroupAssignment } from '@platformatic/kafka';
import type { WireClient } from '../../helpers/wire-client.ts';

export const PARTITIONS = 6;
export const FIRST = 600;
export const SECOND = 300;
const SETTLE_MS = 1_000;

export interface Member {
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly seen: string[];
  partitions(): number[];
}

export interface GroupScenarioOptions {
  readonly clientId: string;
  /** `classic`: JoinGroup/SyncGroup with the client's session settings; `consumer`: KIP-848 ConsumerGroupHeartbeat. */
  readonly protocol: 'classic' | 'consumer';
  /** Where the clients connect (a broker, or a kafscale proxy in front of it); read at each use. */
  bootstrap(): string;
  /** A connection to the broker itself, for Metadata, ListOffsets and OffsetFetch checks. */
  readonly wire: WireClient;
}

/** What the hand-over scenario leaves behind, for tests that go on from there. */
export interface HandOverResult {
  readonly topic: string;
  readonly groupId: string;
  /** The two members that stayed (closed by the test context at its end). */
  readonly members: Member[];
  /** Every message consumed, by the members and the one that left. */
  readonly everything: string[];
  /** The partitions the leaving member had. */
  readonly handedOver: number[];
}

export class GroupScenario {
  readonly #options: GroupScenarioOptions;
  readonly #streamErrors: string[] = [];

  constructor(options: GroupScenarioOptions) {
    this.#options = options;
  }

  async until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 25_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${this.#streamErrors.length > 0 ? `; stream errors: ${this.#streamErrors.join('; ')}` : ''}`);
      await sleep(100);
    }
  }

  /** A new member of the group, consuming from committed offsets (earliest where none). */
  async member(groupId: string, topic: string, members: Member[]): Promise<Member> {
    const { clientId, protocol } = this.#options;
    const consumer = new Consumer({
      clientId,
      groupId,
      bootstrapBrokers: [this.#options.bootstrap()],
      ...(protocol === 'consumer'
        ? // The client checks rebalanceTimeout ≥ its (classic) default sessionTimeout; the broker's settings apply.
          { groupProtocol: 'consumer' as const, rebalanceTimeout: 60_000 }
        : { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 }),
      maxWaitTime: 200,
      retries: 5,
      timeout: 10_000,
    });
    let assigned: () => number[];
    if (protocol === 'consumer') {
      // With the consumer protocol the assignment arrives in heartbeat answers; the client keeps it here.
      assigned = () => (consumer.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
    } else {
      let joined: number[] = [];
      consumer.on('consumer:group:join', (event: { assignments: GroupAssignment[] | null }) => {
        joined = (event.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
      });
      assigned = () => joined;
    }
    const seen: string[] = [];
    // Committed offsets first, earliest where none: a member taking over a partition resumes where the
    // previous owner committed.
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
    stream.on('data', (message) => void seen.push(message.value.toString()));
    stream.on('error', (error: Error) => void this.#streamErrors.push(error.message));
    const m: Member = { consumer, seen, partitions: assigned };
    members.push(m);
    return m;
  }

  /** close(true): close the streams, then leave the group. (The typings resolve `close(true)` to the callback overload.) */
  closeForced(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    return new Promise((resolve, reject) => consumer.close(true, (error) => (error ? reject(error) : resolve())));
  }

  /** Messages m<from>..m<from+count-1>, message i to partition i mod PARTITIONS. */
  async produce(topic: string, from: number, count: number): Promise<void> {
    const producer = new Producer({ clientId: this.#options.clientId, bootstrapBrokers: [this.#options.bootstrap()], acks: ProduceAcks.ALL, retries: 1, timeout: 10_000 });
    try {
      for (let start = from; start < from + count; start += 100) {
        const messages = Array.from({ length: Math.min(100, from + count - start) }, (_, j) => ({ topic, partition: (start + j) % PARTITIONS, value: Buffer.from(`m${start + j}`) }));
        await producer.send({ messages });
      }
    } finally {
      await producer.close();
    }
  }

  async committedTotal(groupId: string, topic: string): Promise<bigint> {
    const fetched = await this.#options.wire.send(9, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }], requireStable: false });
    return (fetched.topics[0]?.partitions ?? []).reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n);
  }

  /** Three members, FIRST messages, one member leaves, SECOND messages: each consumed exactly once. */
  async handOver(t: TestContext, topicPrefix: string): Promise<HandOverResult> {
    const wire = this.#options.wire;
    const topic = `${topicPrefix}-${randomUUID().slice(0, 8)}`;
    const groupId = `g-${topic}`;
    const admin = new Admin({ clientId: this.#options.clientId, bootstrapBrokers: [this.#options.bootstrap()], retries: 1, timeout: 10_000 });
    try {
      await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    } finally {
      await admin.close();
    }

    // Start consuming once every partition has its owner, and Metadata's leader epochs are the ones
    // ListOffsets checks (KIP-320).
    await this.until('every partition led, with the epoch ListOffsets accepts', async () => {
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
          await this.closeForced(m.consumer);
        } catch {
          // Cleanup after a failure: the broker is stopped next anyway.
        }
      }
    });
    for (let i = 0; i < 3; i++) await this.member(groupId, topic, members);
    await this.until('every partition assigned exactly once, two per member', () => {
      const all = members.flatMap((m) => m.partitions()).sort((a, b) => a - b);
      return all.join(',') === '0,1,2,3,4,5' && members.every((m) => m.partitions().length === 2);
    });

    await sleep(SETTLE_MS);
    await this.produce(topic, 0, FIRST);
    await this.until(`${FIRST} messages consumed`, () => members.reduce((n, m) => n + m.seen.length, 0) >= FIRST);
    const firstRound = members.flatMap((m) => m.seen);
    assert.equal(firstRound.length, FIRST);
    assert.equal(new Set(firstRound).size, FIRST, 'no message consumed twice');
    for (const m of members) {
      // A member consumed only from its own partitions.
      const own = new Set(m.partitions());
      assert.ok(m.seen.every((v) => own.has(Number(v.slice(1)) % PARTITIONS)), 'a member reads only its assigned partitions');
    }
    await this.until('the autocommits cover every consumed message', async () => (await this.committedTotal(groupId, topic)) === BigInt(FIRST));

    const leaving = members.pop() as Member;
    const handedOver = leaving.partitions();
    await this.closeForced(leaving.consumer);
    await this.until('the two remaining members own all six partitions', () => members.flatMap((m) => m.partitions()).sort((a, b) => a - b).join(',') === '0,1,2,3,4,5');
    assert.ok(handedOver.every((p) => members.some((m) => m.partitions().includes(p))), 'the leaver’s partitions were handed over');

    await sleep(SETTLE_MS);
    await this.produce(topic, FIRST, SECOND);
    await this.until(`${FIRST + SECOND} messages consumed`, () => members.reduce((n, m) => n + m.seen.length, 0) + leaving.seen.length >= FIRST + SECOND);
    await sleep(300);
    const everything = [...members.flatMap((m) => m.seen), ...leaving.seen];
    assert.equal(everything.length, FIRST + SECOND, 'nothing consumed twice across the hand-over');
    assert.equal(new Set(everything).size, FIRST + SECOND);
    return { topic, groupId, members, everything, handedOver };
  }
}
