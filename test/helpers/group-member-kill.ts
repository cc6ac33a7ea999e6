/**
 * The SIGKILLed-group-member scenario shared by the client suites: three members run as child processes
 * (a per-client member script printing JSON lines `{"type":"assigned","partitions":[…]}` and
 * `{"type":"consumed","value":"vN"}`) on a 6-partition topic while a kafkajs producer keeps writing; one
 * is killed with SIGKILL (no LeaveGroup, no final commit). Asserted: the survivors own all six partitions
 * within the session timeout plus a rebalance, and not before the session expired; every acknowledged
 * message is consumed at least once; the committed offsets (sampled every 50 ms) never go backwards and
 * reach the log end. Registers its own node:test before/after hooks and one test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerGroupMemberRig } from './group-member-rig.ts';
import { waitFor } from './wait-for.ts';

const PARTITIONS = 6;
/** The members' session timeout (classic: JoinGroup's; KIP-848 scenarios set the broker's to it). */
export const SESSION_TIMEOUT_MS = 3_000;
/** Detection on the coordinator's 250 ms timer, a heartbeat interval, one JoinGroup/SyncGroup round. */
const REBALANCE_SLACK_MS = 2_500;
const BATCHES = 40;
const PER_BATCH = 12;

export interface MemberKillScenario {
  /** Test name. */
  readonly name: string;
  /** Topic prefix and label in the printed hand-over time. */
  readonly label: string;
  /** Path of the child-process member: `node <script> <bootstrap> <groupId> <topic> <sessionTimeoutMs>`. */
  readonly memberScript: string;
  /**
   * How long to wait, at the kill, for the victim to have consumed something (0: it must already have).
   * Clients whose first fetch comes later than kafkajs' need a moment.
   */
  readonly victimConsumedWithinMs: number;
  /** Extra arguments after `<sessionTimeoutMs>` (e.g. the group protocol); none by default. */
  readonly memberArgs?: readonly string[];
  /** Extra broker environment (e.g. the KIP-848 session timeout); none by default. */
  readonly brokerEnv?: Readonly<Record<string, string>>;
}

interface Member {
  readonly child: ChildProcess;
  readonly consumed: Set<string>;
  partitions: number[];
  assignedAtMs: number;
  readonly exited: Promise<void>;
}

export function registerMemberKillTest(scenario: MemberKillScenario): void {
  const rig = registerGroupMemberRig({ clientId: `kafscale-${scenario.label}-kill-producer`, ...(scenario.brokerEnv === undefined ? {} : { brokerEnv: scenario.brokerEnv }) });

  function startMember(groupId: string, topic: string): Member {
    const args = ['--no-warnings', scenario.memberScript, rig.broker.bootstrap, groupId, topic, String(SESSION_TIMEOUT_MS), ...(scenario.memberArgs ?? [])];
    const consumed = new Set<string>();
    const member: Member = {
      ...rig.startMember(process.execPath, args, (line) => {
        const event = JSON.parse(line) as { type: string; partitions?: number[]; value?: string };
        if (event.type === 'assigned') {
          member.partitions = event.partitions ?? [];
          member.assignedAtMs = Date.now();
        } else if (event.type === 'consumed' && event.value !== undefined) {
          consumed.add(event.value);
        }
      }),
      consumed,
      partitions: [],
      assignedAtMs: 0,
    };
    return member;
  }

  test(scenario.name, { timeout: 60_000 }, async () => {
    const topic = `${scenario.label}-kill-${randomUUID().slice(0, 8)}`;
    const groupId = `g-${topic}`;
    await rig.createTopic(topic, PARTITIONS);
    const { producer, wire } = rig;

    const members = [startMember(groupId, topic), startMember(groupId, topic), startMember(groupId, topic)];
    await waitFor('three members with two partitions each', () => owned(members) === '0,1,2,3,4,5' && members.every((m) => m.partitions.length === 2), 30_000);

    // Committed offsets are sampled in the background for the whole run; any decrease is recorded.
    const lastCommitted = new Map<number, bigint>();
    const regressions: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const fetched = await wire.send(9, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }], requireStable: false });
        for (const p of fetched.topics[0]?.partitions ?? []) {
          const before = lastCommitted.get(p.partitionIndex) ?? -1n;
          if (p.committedOffset < before) regressions.push(`partition ${p.partitionIndex}: ${before} → ${p.committedOffset}`);
          lastCommitted.set(p.partitionIndex, p.committedOffset > before ? p.committedOffset : before);
        }
        await sleep(50);
      }
    })();

    const acknowledged: string[] = [];
    let killedAtMs = 0;
    const victim = members[0] as Member;
    const survivors = members.slice(1);
    try {
      for (let batch = 0; batch < BATCHES; batch++) {
        const messages = Array.from({ length: PER_BATCH }, (_, i) => ({ partition: (batch * PER_BATCH + i) % PARTITIONS, value: `v${batch * PER_BATCH + i}` }));
        await producer.send({ topic, acks: -1, messages });
        acknowledged.push(...messages.map((m) => m.value));
        if (batch === 10) {
          if (scenario.victimConsumedWithinMs === 0) assert.ok(victim.consumed.size > 0, 'the victim consumed before it was killed');
          else await waitFor('the victim consumed something', () => victim.consumed.size > 0, scenario.victimConsumedWithinMs);
          victim.child.kill('SIGKILL');
          killedAtMs = Date.now();
        }
        await sleep(100);
      }
      await waitFor('the survivors own all six partitions', () => owned(survivors) === '0,1,2,3,4,5', SESSION_TIMEOUT_MS + 15_000);
      const handOverMs = Math.max(...survivors.map((m) => m.assignedAtMs)) - killedAtMs;
      process.stdout.write(`# ${scenario.label} hand-over after SIGKILL: ${handOverMs} ms\n`);
      assert.ok(handOverMs <= SESSION_TIMEOUT_MS + REBALANCE_SLACK_MS, `hand-over took ${handOverMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);
      assert.ok(handOverMs >= SESSION_TIMEOUT_MS - 500, `the dead member kept its partitions until its session expired (${handOverMs} ms)`);

      const consumedByAnyone = (value: string): boolean => members.some((m) => m.consumed.has(value));
      await waitFor('every acknowledged message consumed at least once', () => acknowledged.every(consumedByAnyone), 15_000);
      // The survivors also commit everything in the end; the last sample must reach the log end.
      await waitFor('the committed offsets reach the end of every partition', () => [...Array(PARTITIONS).keys()].every((p) => lastCommitted.get(p) === BigInt((BATCHES * PER_BATCH) / PARTITIONS)), 10_000);
    } finally {
      sampling = false;
      await sampler;
      for (const m of survivors) m.child.kill('SIGTERM');
      // Bounded wait for the graceful close; an unref'd timer so that it cannot hold the test process open.
      await Promise.race([Promise.all(survivors.map((m) => m.exited)), sleep(10_000, undefined, { ref: false })]);
    }
    assert.deepEqual(regressions, [], 'committed offsets never went backwards');
  });
}

function owned(members: readonly Member[]): string {
  return members.flatMap((m) => m.partitions).sort((a, b) => a - b).join(',');
}
