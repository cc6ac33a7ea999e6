/**
 * KIP-848 group state survives its coordinator: three brokers (real etcd, s3rver, 2 s session TTL),
 * three @platformatic/kafka members with `groupProtocol: 'consumer'` on a 6-partition topic; the broker
 * coordinating the group is killed (SIGKILL). Another broker becomes the coordinator, loads the group
 * (members, epochs, assignments) from the metadata store, and the members carry on: every partition
 * owned exactly once again, every message produced after the kill consumed, committed offsets kept.
 *
 * A member can lose its stream in the kill (@platformatic/kafka 2.12): a fetch in flight to the dead
 * broker is re-routed only when all its partitions moved to one new leader; otherwise it stays pinned to
 * the dead broker, and once Metadata no longer lists that broker the client fails it ("Cannot find broker
 * with node id N", not retried) and ends the stream. The member's subscription is then empty and its
 * partitions go to the others. Here the member consumes again, as an application does, and the group
 * rebalances back to two partitions each. (A CI run asserted on a snapshot taken mid-rebalance after two
 * members had lost their streams: [[],[0,3,4],[]].)
 * Known to fail: none known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { useClusterWithTopic } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PARTITIONS = 6;
const SESSION_TTL_MS = 2_000;
const fixture = useClusterWithTopic({
  topicPrefix: 'kip848-kill',
  partitions: PARTITIONS,
  sessionTtlMs: SESSION_TTL_MS,
  env: { KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '500', KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: '20000' },
});
const { topic, stops } = fixture;
const groupId = `g-${topic}`;

async function produce(from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: 'kip848-kill-producer', bootstrapBrokers: fixture.cluster.bootstrap.split(','), acks: ProduceAcks.ALL, retries: 10, retryDelay: 500, timeout: 10_000 });
  try {
    for (let start = from; start < from + count; start += 50) {
      const messages = Array.from({ length: Math.min(50, from + count - start) }, (_, j) => ({ topic, partition: (start + j) % PARTITIONS, value: Buffer.from(`m${start + j}`) }));
      await producer.send({ messages });
    }
  } finally {
    await producer.close();
  }
}

test('KIP-848: the coordinator broker is killed; the group continues from the stored state on another broker', { timeout: 180_000 }, async () => {
  const started = Date.now();
  // What the members went through, printed when the test fails.
  const timeline: string[] = [];
  const note = (line: string) => void timeline.push(`${String(Date.now() - started).padStart(6)} ms ${line}`);
  const members: { consumer: Consumer<Buffer, Buffer, Buffer, Buffer>; seen: string[] }[] = [];
  let closing = false;
  stops.push(async () => {
    closing = true;
    for (const m of members) await new Promise<void>((resolve) => m.consumer.close(true, () => resolve()));
  });
  /** Consumes the topic; when the stream ends while the test runs, consumes again (see the file comment). */
  const subscribe = async (i: number): Promise<void> => {
    const member = members[i] as (typeof members)[number];
    const stream = await member.consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
    stream.on('data', (message) => void member.seen.push(message.value.toString()));
    stream.on('error', (error: Error) => note(`member ${i} stream error: ${error.message}`));
    stream.on('close', () => {
      if (closing) return;
      note(`member ${i} stream closed; consuming again`);
      setTimeout(() => void subscribe(i).catch((error: Error) => note(`member ${i} could not consume again: ${error.message}`)), 200);
    });
  };
  for (let i = 0; i < 3; i++) {
    const consumer = new Consumer({ clientId: 'kip848-kill', groupId, groupProtocol: 'consumer', bootstrapBrokers: fixture.cluster.bootstrap.split(','), rebalanceTimeout: 60_000, maxWaitTime: 200, retries: 20, retryDelay: 500, timeout: 10_000 });
    consumer.on('consumer:heartbeat:error', (payload: { error?: Error }) => note(`member ${i} heartbeat error: ${payload.error?.message ?? ''}`));
    members.push({ consumer, seen: [] });
    await subscribe(i);
  }
  const owned = () => members.map((m) => (m.consumer.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions));
  const exactlyOnce = () => owned().flat().sort((a, b) => a - b).join(',') === '0,1,2,3,4,5';
  let lastOwned = '';
  const watcher = setInterval(() => {
    const now = JSON.stringify(owned());
    if (now !== lastOwned) note(`owned ${now}`);
    lastOwned = now;
  }, 50);
  stops.push(() => clearInterval(watcher));
  await scenario().catch((error: Error) => {
    throw new Error(`${error.message}\ntimeline:\n${timeline.join('\n')}`);
  });

  async function scenario(): Promise<void> {
    await waitFor('every partition owned exactly once, two each', () => exactlyOnce() && owned().every((p) => p.length === 2), 30_000);
    await produce(0, 300);
    await waitFor('300 messages consumed', () => new Set(members.flatMap((m) => m.seen)).size >= 300, 30_000);

    // The coordinator as the brokers agree on it (their views of the live brokers converge after start-up).
    let coordinatorId = -1;
    let before = { errorCode: -1, groupEpoch: -1, members: [] as { memberId: string }[] };
    await waitFor('a coordinator that describes the group', async () => {
      coordinatorId = await coordinatorOf(0);
      if (coordinatorId < 0) return false;
      before = await describe(coordinatorId);
      return before.errorCode === ErrorCode.NONE && before.members.length === 3;
    }, 30_000);
    note(`killing broker ${coordinatorId}, the coordinator`);
    await fixture.cluster.brokers[coordinatorId]?.kill();

    // Another broker becomes the coordinator and answers with the same members (loaded from etcd).
    const survivor = coordinatorId === 0 ? 1 : 0;
    let last: unknown = null;
    await waitFor(
      'another broker describes the group with the same members',
      async () => {
        const id = await coordinatorOf(survivor);
        if (id === coordinatorId || id < 0) return false;
        const now = await describe(id);
        last = { coordinator: id, ...now };
        return now.errorCode === ErrorCode.NONE && now.members.length === 3;
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last: ${JSON.stringify(last)}`);
    });
    const afterKill = await describe(await coordinatorOf(survivor));
    assert.ok(afterKill.groupEpoch >= before.groupEpoch, `group epoch ${afterKill.groupEpoch} ≥ ${before.groupEpoch}`);
    assert.deepEqual(afterKill.members.map((m) => m.memberId).sort(), before.members.map((m) => m.memberId).sort(), 'the same members continue (none had to rejoin)');

    note('the survivors describe the group; producing 300 more');
    await produce(300, 300);
    await waitFor('all 600 messages consumed at least once', () => new Set(members.flatMap((m) => m.seen)).size >= 600, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; consumed ${new Set(members.flatMap((m) => m.seen)).size}, owned ${JSON.stringify(owned())}`);
    });
    // Reconciliation passes through states where a partition is owned by nobody (revoked, not yet taken).
    await waitFor('every partition owned exactly once again, two each', () => exactlyOnce() && owned().every((p) => p.length === 2), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; owned ${JSON.stringify(owned())}`);
    });
  }
});

/** The group's coordinator as broker `askId` sees it (-1 when it does not answer with one). */
async function coordinatorOf(askId: number): Promise<number> {
  const broker = fixture.cluster.brokers[askId];
  assert.ok(broker !== undefined);
  const wire = await WireClient.connect(broker.host, broker.port);
  try {
    const found = await wire.send(10, 4, { key: '', keyType: 0, coordinatorKeys: [groupId] });
    return found.coordinators[0]?.errorCode === ErrorCode.NONE ? (found.coordinators[0]?.nodeId ?? -1) : -1;
  } finally {
    wire.close();
  }
}

async function describe(brokerId: number) {
  const broker = fixture.cluster.brokers[brokerId];
  assert.ok(broker !== undefined);
  const wire = await WireClient.connect(broker.host, broker.port);
  try {
    const r = await wire.send(69, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
    const g = r.groups[0];
    return { errorCode: g?.errorCode ?? -1, groupEpoch: g?.groupEpoch ?? -1, members: g?.members ?? [] };
  } finally {
    wire.close();
  }
}
