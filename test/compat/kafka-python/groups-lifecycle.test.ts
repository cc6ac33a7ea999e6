/**
 * kafka-python 2.x group member lifecycle against a real broker (the consumer-group acceptance for this
 * client): three members on a 6-partition topic get two partitions each; a member leaving gracefully
 * (close → LeaveGroup) hands its partitions over at once (well within the session timeout) and, as every
 * member commits after each handled batch, nothing is consumed twice or lost; a member killed with
 * SIGKILL (no LeaveGroup, no final commit) has its partitions taken over once its session expires, and
 * every acknowledged message is consumed at least once; committed offsets survive a consumer restart and
 * a broker restart. groups-lifecycle.py runs the clients (one member per process).
 * Known to fail: none known. Skips when kafka-python is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerGroupMemberRig } from '../../helpers/group-member-rig.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'groups-lifecycle.py');
const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 3_000;
/** Detection on the coordinator's 250 ms timer, a heartbeat interval (300 ms), one JoinGroup/SyncGroup round. */
const REBALANCE_SLACK_MS = 2_500;
/** Lets in-flight long polls (fetch_max_wait_ms 200) of the previous assignment run out before producing. */
const SETTLE_MS = 1_000;
const kafkaPythonMissing = spawnSync(PYTHON, ['-c', 'import kafka'], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import kafka`;

const rig = registerGroupMemberRig({ clientId: 'kafscale-kafka-python-lifecycle', enabled: kafkaPythonMissing === false });

async function createTopic(): Promise<string> {
  const topic = `kp-life-${randomUUID().slice(0, 8)}`;
  await rig.createTopic(topic, PARTITIONS);
  return topic;
}

interface Member {
  readonly child: ChildProcess;
  /** Every value consumed, in order, duplicates kept. */
  readonly consumed: string[];
  partitions: number[];
  assignedAtMs: number;
  readonly exited: Promise<void>;
}

function startMember(group: string, topic: string): Member {
  const consumed: string[] = [];
  const member: Member = {
    ...rig.startMember(PYTHON, [SCRIPT, 'member', rig.broker.bootstrap, topic, group, String(SESSION_TIMEOUT_MS)], (line) => {
      const event = JSON.parse(line) as { assigned?: number[]; consumed?: string };
      if (event.assigned !== undefined) {
        member.partitions = event.assigned;
        member.assignedAtMs = Date.now();
      } else if (event.consumed !== undefined) {
        consumed.push(event.consumed);
      }
    }),
    consumed,
    partitions: [],
    assignedAtMs: 0,
  };
  return member;
}

const owned = (members: readonly Member[]): string => members.flatMap((m) => m.partitions).sort((a, b) => a - b).join(',');
const ALL = '0,1,2,3,4,5';

async function produce(topic: string, from: number, count: number): Promise<string[]> {
  const messages = Array.from({ length: count }, (_, i) => ({ partition: (from + i) % PARTITIONS, value: `v${from + i}` }));
  await rig.producer.send({ topic, acks: -1, messages });
  return messages.map((m) => m.value);
}

async function committed(group: string, topic: string): Promise<bigint[]> {
  const fetched = await rig.wire.send(9, 7, { groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }], requireStable: false });
  return (fetched.topics[0]?.partitions ?? []).sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.committedOffset);
}

async function threeMembers(group: string, topic: string): Promise<Member[]> {
  const members = [startMember(group, topic), startMember(group, topic), startMember(group, topic)];
  await waitFor('three members with two partitions each', () => owned(members) === ALL && members.every((m) => m.partitions.length === 2), 30_000);
  return members;
}

test('kafka-python: a member leaving gracefully hands over at once; each message consumed exactly once', { skip: kafkaPythonMissing, timeout: 60_000 }, async () => {
  const topic = await createTopic();
  const group = `g-${topic}`;
  const members = await threeMembers(group, topic);
  await sleep(SETTLE_MS);
  const first = await produce(topic, 0, 120);
  const total = (): number => members.reduce((n, m) => n + m.consumed.length, 0);
  await waitFor('120 messages consumed', () => total() >= first.length, 15_000);
  for (const m of members) {
    const own = new Set(m.partitions);
    assert.ok(m.consumed.every((v) => own.has(Number(v.slice(1)) % PARTITIONS)), 'a member reads only its assigned partitions');
  }
  await waitFor('the commits reach the log end', async () => (await committed(group, topic)).every((o) => o === 20n), 10_000);

  const leaving = members.pop() as Member;
  const handedOver = leaving.partitions;
  const leftAt = Date.now();
  leaving.child.kill('SIGTERM');
  await waitFor('the two remaining members own all six partitions', () => owned(members) === ALL && members.every((m) => m.assignedAtMs > leftAt), SESSION_TIMEOUT_MS + REBALANCE_SLACK_MS);
  const handOverMs = Math.max(...members.map((m) => m.assignedAtMs)) - leftAt;
  process.stdout.write(`# kafka-python graceful hand-over: ${handOverMs} ms\n`);
  // LeaveGroup, not session expiry: the hand-over must not wait for the session timeout.
  assert.ok(handOverMs < SESSION_TIMEOUT_MS, `graceful hand-over took ${handOverMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);
  assert.ok(handedOver.every((p) => members.some((m) => m.partitions.includes(p))), 'the leaver’s partitions were handed over');
  await leaving.exited;

  await sleep(SETTLE_MS);
  const second = await produce(topic, 120, 60);
  await waitFor('180 messages consumed', () => total() + leaving.consumed.length >= first.length + second.length, 15_000);
  await sleep(500);
  const everything = [...members.flatMap((m) => m.consumed), ...leaving.consumed];
  assert.deepEqual(everything.slice().sort(), [...first, ...second].sort(), 'every message consumed exactly once across the hand-over');
  for (const m of members) m.child.kill('SIGTERM');
  await Promise.all(members.map((m) => m.exited));
});

test('kafka-python: a SIGKILLed member’s partitions go to the survivors within the session timeout, nothing lost', { skip: kafkaPythonMissing, timeout: 60_000 }, async () => {
  const topic = await createTopic();
  const group = `g-${topic}`;
  const members = await threeMembers(group, topic);
  const victim = members[0] as Member;
  const survivors = members.slice(1);
  const acknowledged: string[] = [];
  let killedAtMs = 0;
  for (let batch = 0; batch < 30; batch++) {
    acknowledged.push(...(await produce(topic, batch * 12, 12)));
    if (batch === 8) {
      await waitFor('the victim consumed something', () => victim.consumed.length > 0, 5_000);
      victim.child.kill('SIGKILL');
      killedAtMs = Date.now();
    }
    await sleep(100);
  }
  await waitFor('the survivors own all six partitions', () => owned(survivors) === ALL, SESSION_TIMEOUT_MS + 15_000);
  const handOverMs = Math.max(...survivors.map((m) => m.assignedAtMs)) - killedAtMs;
  process.stdout.write(`# kafka-python hand-over after SIGKILL: ${handOverMs} ms\n`);
  assert.ok(handOverMs <= SESSION_TIMEOUT_MS + REBALANCE_SLACK_MS, `hand-over took ${handOverMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);
  assert.ok(handOverMs >= SESSION_TIMEOUT_MS - 500, `the dead member kept its partitions until its session expired (${handOverMs} ms)`);

  const consumedByAnyone = new Set<string>();
  await waitFor('every acknowledged message consumed at least once', () => {
    for (const m of members) for (const v of m.consumed) consumedByAnyone.add(v);
    return acknowledged.every((v) => consumedByAnyone.has(v));
  }, 15_000);
  await waitFor('the commits reach the log end', async () => (await committed(group, topic)).every((o) => o === 60n), 10_000);
  for (const m of survivors) m.child.kill('SIGTERM');
  await Promise.all(survivors.map((m) => m.exited));
});

test('kafka-python: committed offsets survive a consumer restart and a broker restart', { skip: kafkaPythonMissing, timeout: 90_000 }, async () => {
  const topic = await createTopic();
  const group = `g-${topic}`;
  const names = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `v${from + i}`);
  const resume = async (from: number, count: number): Promise<{ seen: string[]; committed: number[][] }> => {
    const { stdout } = await run(PYTHON, [SCRIPT, 'resume', rig.broker.bootstrap, topic, group, String(from), String(count)], { timeout: 60_000 });
    return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '{}') as { seen: string[]; committed: number[][] };
  };
  const first = await resume(0, 12);
  assert.deepEqual(first.seen, names(0, 12));
  assert.deepEqual(first.committed, [0, 1, 2, 3, 4, 5].map((p) => [p, 2]), 'committed to the log end');
  // A new consumer process in the same group resumes after the committed offsets.
  const second = await resume(12, 6);
  assert.deepEqual(second.seen, names(12, 6), 'a restarted consumer reads only what came after its commit');
  // The kafkajs producer reconnects by itself; the wire client does not, and is not used after this.
  await rig.broker.restart();
  const third = await resume(18, 6);
  assert.deepEqual(third.seen, names(18, 6), 'after a broker restart the group resumes from its committed offsets');
  assert.deepEqual(third.committed, [0, 1, 2, 3, 4, 5].map((p) => [p, 4]));
});
