import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { rangeAssignor, uniformAssignor, type AssignableTopic, type TargetAssignment } from './assignors.ts';
import { compileTopicRegex, ConsumerGroup } from './consumer-group.ts';
import { consumerHeartbeat, expiredMembers, type ConsumerHeartbeatRequest } from './consumer-heartbeat.ts';

const T1: AssignableTopic = { name: 't1', id: '00000000-0000-0000-0000-000000000001', partitions: 6 };
const T2: AssignableTopic = { name: 't2', id: '00000000-0000-0000-0000-000000000002', partitions: 3 };
const TOPICS = new Map([T1, T2].map((t) => [t.name, t]));

function counts(target: TargetAssignment): number[] {
  return [...target.values()].map((topics) => [...topics.values()].reduce((n, ps) => n + ps.length, 0));
}

function allPartitions(target: TargetAssignment): string[] {
  return [...target.values()].flatMap((topics) => [...topics].flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`))).sort();
}

describe('assignors', () => {
  it('range gives contiguous, co-partitioned ranges per topic', () => {
    const target = rangeAssignor.assign([{ memberId: 'b', topics: ['t1', 't2'] }, { memberId: 'a', topics: ['t1', 't2'] }], TOPICS, new Map());
    assert.deepEqual(target.get('a')?.get(T1.id), [0, 1, 2]);
    assert.deepEqual(target.get('b')?.get(T1.id), [3, 4, 5]);
    assert.deepEqual(target.get('a')?.get(T2.id), [0, 1]);
    assert.deepEqual(target.get('b')?.get(T2.id), [2]);
  });

  it('uniform balances every partition and stays sticky when a member joins', () => {
    const members = ['m1', 'm2'].map((memberId) => ({ memberId, topics: ['t1', 't2'] }));
    const first = uniformAssignor.assign(members, TOPICS, new Map());
    assert.equal(allPartitions(first).length, 9);
    assert.ok(Math.max(...counts(first)) - Math.min(...counts(first)) <= 1);
    const second = uniformAssignor.assign([...members, { memberId: 'm3', topics: ['t1', 't2'] }], TOPICS, first);
    assert.equal(allPartitions(second).length, 9);
    assert.deepEqual(counts(second), [3, 3, 3]);
    // Sticky: m1 and m2 keep 3 of what they had each (only the moved ones go to m3).
    for (const m of ['m1', 'm2']) {
      const kept = allPartitions(new Map([[m, second.get(m) as Map<string, number[]>]])).filter((p) => allPartitions(new Map([[m, first.get(m) as Map<string, number[]>]])).includes(p));
      assert.equal(kept.length, 3, m);
    }
  });

  it('uniform only gives a member topics it subscribes to', () => {
    const target = uniformAssignor.assign([{ memberId: 'a', topics: ['t1'] }, { memberId: 'b', topics: ['t2'] }], TOPICS, new Map());
    assert.deepEqual([...(target.get('a')?.keys() ?? [])], [T1.id]);
    assert.deepEqual([...(target.get('b')?.keys() ?? [])], [T2.id]);
  });
});

/** A simulated client: owns what it was last told, reports it on every heartbeat. */
interface Client {
  memberId: string;
  epoch: number;
  owned: Map<string, number[]>;
  alive: boolean;
  /** Topic names; both topics when absent. */
  topics?: string[];
}

function request(client: Client, extra: Partial<ConsumerHeartbeatRequest> = {}): ConsumerHeartbeatRequest {
  return {
    groupId: 'g',
    memberId: client.memberId,
    memberEpoch: client.epoch,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 60_000,
    subscribedTopicNames: client.topics ?? ['t1', 't2'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    ownedTopicPartitions: [...client.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
    clientId: 'c',
    clientHost: '/127.0.0.1',
    apiVersion: 1,
    ...extra,
  };
}

const env = (nowMs = 0) => ({ nowMs, heartbeatIntervalMs: 5_000, topic: (name: string) => TOPICS.get(name) });

function beat(group: ConsumerGroup, client: Client, nowMs = 0) {
  const { outcome } = consumerHeartbeat(group, request(client), env(nowMs));
  assert.equal(outcome.errorCode, ErrorCode.NONE, `${client.memberId}: ${outcome.errorMessage}`);
  client.epoch = outcome.memberEpoch;
  if (outcome.assignment !== null) client.owned = new Map(outcome.assignment.map((t) => [t.topicId, t.partitions]));
  return outcome;
}

function assertNoCoOwnership(clients: readonly Client[]): void {
  const seen = new Map<string, string>();
  for (const c of clients) {
    if (!c.alive) continue;
    for (const [t, ps] of c.owned) {
      for (const p of ps) {
        const other = seen.get(`${t}:${p}`);
        assert.equal(other, undefined, `${t}:${p} owned by ${other} and ${c.memberId}`);
        seen.set(`${t}:${p}`, c.memberId);
      }
    }
  }
}

describe('consumer group reconciliation', () => {
  it('never lets two members own a partition across random joins (mixed subscriptions), leaves and heartbeats, and converges', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 20; run++) {
      const group = new ConsumerGroup('g', 0);
      const clients: Client[] = [];
      for (let step = 0; step < 200; step++) {
        const r = random();
        const live = clients.filter((c) => c.alive);
        if (r < 0.1 && live.length < 5) {
          // Mixed subscriptions: some members read one topic only.
          const pick = random();
          const topics = pick < 0.2 ? ['t1'] : pick < 0.35 ? ['t2'] : ['t1', 't2'];
          const client: Client = { memberId: `m${clients.length}`, epoch: 0, owned: new Map(), alive: true, topics };
          clients.push(client);
          beat(group, client);
        } else if (r < 0.15 && live.length > 0) {
          const client = live[Math.floor(random() * live.length)] as Client;
          const { outcome } = consumerHeartbeat(group, request(client, { memberEpoch: -1 }), env());
          assert.equal(outcome.errorCode, ErrorCode.NONE);
          client.alive = false;
          client.owned = new Map();
        } else if (live.length > 0) {
          beat(group, live[Math.floor(random() * live.length)] as Client);
        }
        assertNoCoOwnership(clients);
      }
      // Converge: a few rounds of heartbeats from everyone reach a stable group owning every partition.
      for (let round = 0; round < 6; round++) for (const c of clients.filter((x) => x.alive)) beat(group, c);
      const live = clients.filter((c) => c.alive);
      assertNoCoOwnership(clients);
      if (live.length > 0) {
        assert.equal(group.state, 'Stable');
        const owned = live.flatMap((c) => [...c.owned].flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
        const subscribed = new Set(live.flatMap((c) => c.topics ?? ['t1', 't2']));
        assert.equal(owned.length, (subscribed.has('t1') ? 6 : 0) + (subscribed.has('t2') ? 3 : 0));
        for (const c of live) assert.equal(c.epoch, group.groupEpoch);
      }
    }
  });

  it('hands a partition over only after the previous owner revoked it', () => {
    const group = new ConsumerGroup('g', 0);
    const a: Client = { memberId: 'a', epoch: 0, owned: new Map(), alive: true };
    const b: Client = { memberId: 'b', epoch: 0, owned: new Map(), alive: true };
    beat(group, a);
    assert.equal([...a.owned.values()].flat().length, 9);
    beat(group, b);
    // b joined: a still owns everything, so b gets nothing yet, at the new epoch.
    assert.equal([...b.owned.values()].flat().length, 0);
    assert.equal(b.epoch, 2);
    // a is told to give some up (keeps its epoch until it does).
    const aBefore = a.epoch;
    beat(group, a);
    assert.equal(a.epoch, aBefore);
    assert.ok([...a.owned.values()].flat().length < 9);
    // Its next heartbeat lists only what it kept: now it moves to the new epoch and b can take the rest.
    beat(group, a);
    assert.equal(a.epoch, 2);
    beat(group, b);
    assert.equal([...a.owned.values()].flat().length + [...b.owned.values()].flat().length, 9);
    assertNoCoOwnership([a, b]);
  });

  it('fences epochs ahead or older than the member, answers UNKNOWN_MEMBER_ID for strangers, UNSUPPORTED_ASSIGNOR for unknown assignors', () => {
    const group = new ConsumerGroup('g', 0);
    const a: Client = { memberId: 'a', epoch: 0, owned: new Map(), alive: true };
    beat(group, a);
    assert.equal(consumerHeartbeat(group, request(a, { memberEpoch: a.epoch + 1 }), env()).outcome.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    assert.equal(consumerHeartbeat(group, request({ ...a, memberId: 'x' }), env()).outcome.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(consumerHeartbeat(group, request({ ...a, memberId: 'y', epoch: 0, owned: new Map() }, { serverAssignor: 'nope' }), env()).outcome.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    const b: Client = { memberId: 'b', epoch: 0, owned: new Map(), alive: true };
    beat(group, b);
    beat(group, a);
    beat(group, a);
    assert.equal(a.epoch, 2);
    // The previous epoch with owned ⊆ assigned is a lost answer: accepted. Anything older is fenced.
    assert.equal(consumerHeartbeat(group, request(a, { memberEpoch: 1 }), env()).outcome.errorCode, ErrorCode.NONE);
    const c: Client = { memberId: 'c', epoch: 0, owned: new Map(), alive: true };
    beat(group, c);
    beat(group, a);
    beat(group, a);
    assert.equal(a.epoch, 3);
    assert.equal(consumerHeartbeat(group, request(a, { memberEpoch: 1 }), env()).outcome.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  });

  it('session timeout and revocation deadline name the members to remove', () => {
    const group = new ConsumerGroup('g', 0);
    const a: Client = { memberId: 'a', epoch: 0, owned: new Map(), alive: true };
    beat(group, a, 0);
    assert.deepEqual(expiredMembers(group, 45_000, 45_000), []);
    assert.deepEqual(expiredMembers(group, 45_001, 45_000).map((m) => m.memberId), ['a']);
  });

  it('a static member that leaves with -2 keeps its partitions and gets them back when it rejoins with its instance id', () => {
    const group = new ConsumerGroup('g', 0);
    const a: Client = { memberId: 'a', epoch: 0, owned: new Map(), alive: true };
    const out = consumerHeartbeat(group, request(a, { instanceId: 'i1' }), env()).outcome;
    assert.equal(out.errorCode, ErrorCode.NONE);
    const epoch = out.memberEpoch;
    assert.equal(consumerHeartbeat(group, request({ ...a, epoch }, { memberEpoch: -2, instanceId: 'i1' }), env()).outcome.memberEpoch, -2);
    assert.equal(group.groupEpoch, epoch);
    // Another member with the same instance id while it is still active is refused; after -2 it takes over.
    const back = consumerHeartbeat(group, request({ memberId: 'a2', epoch: 0, owned: new Map(), alive: true }, { instanceId: 'i1' }), env()).outcome;
    assert.equal(back.errorCode, ErrorCode.NONE);
    assert.equal(back.memberEpoch, epoch);
    assert.equal(back.assignment?.flatMap((t) => t.partitions).length, 9);
    assert.equal(consumerHeartbeat(group, request({ memberId: 'a3', epoch: 0, owned: new Map(), alive: true }, { instanceId: 'i1' }), env()).outcome.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  });

  it('group.consumer.assignors: the first enabled assignor is the default; a disabled one is UNSUPPORTED_ASSIGNOR', () => {
    const group = new ConsumerGroup('g', 0);
    group.enabledAssignors = ['range'];
    assert.equal(consumerHeartbeat(group, request({ memberId: 'u', epoch: 0, owned: new Map(), alive: true }, { serverAssignor: 'uniform' }), env()).outcome.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    const a: Client = { memberId: 'a', epoch: 0, owned: new Map(), alive: true };
    beat(group, a);
    assert.equal(group.assignorName, 'range');
  });

  it('SubscribedTopicRegex matches whole topic names (as Java matches()); JS-only and RE2/J-only syntax as documented', () => {
    const re = compileTopicRegex('orders-.*') as RegExp;
    assert.ok(re.test('orders-eu'));
    assert.ok(!re.test('old-orders-eu'), 'anchored at the start');
    assert.ok(!(compileTopicRegex('orders') as RegExp).test('orders-eu'), 'anchored at the end');
    assert.ok(!(compileTopicRegex('a|b') as RegExp).test('ab'), 'alternation stays inside the anchors');
    // Lookahead: RE2/J refuses it, JS accepts it (documented difference); (?P<name>…) the other way round.
    assert.ok((compileTopicRegex('(?!tmp-).*') as RegExp).test('orders'));
    assert.equal(compileTopicRegex('(?P<n>x)'), null);
    assert.equal(compileTopicRegex('(unclosed'), null);
  });
});
