import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { CONFIG_DEFAULTS } from '../../config/index.ts';
import { GroupCoordinator, type CoordinatorPlacement, type GroupSettings } from './group-coordinator.ts';

const log = pino({ level: 'silent' });

/** The KIP-848 settings as the broker's config gives them by default. */
const CONSUMER_GROUP_SETTINGS = {
  consumerSessionTimeoutMs: CONFIG_DEFAULTS.groupConsumerSessionTimeoutMs,
  consumerHeartbeatIntervalMs: CONFIG_DEFAULTS.groupConsumerHeartbeatIntervalMs,
  consumerAssignors: CONFIG_DEFAULTS.groupConsumerAssignors,
};

function placement(selfId: number, liveIds: number[] = [selfId]): CoordinatorPlacement {
  return { self: { brokerId: selfId }, live: () => liveIds.map((brokerId) => ({ brokerId })), onChange: () => () => {} };
}

async function setup(t: import('node:test').TestContext, settings: Partial<GroupSettings> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-groups-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  let now = 1_000_000;
  const full: GroupSettings = { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100, maxSessionTimeoutMs: 60_000, offsetsRetentionMinutes: 1, nowMs: () => now, ...CONSUMER_GROUP_SETTINGS, ...settings };
  const coordinators: GroupCoordinator[] = [];
  const open = () => {
    const c = new GroupCoordinator(store, placement(1), full, log);
    coordinators.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of coordinators) await c.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { open, advance: (ms: number) => (now += ms) };
}

const joinReq = (groupId: string, memberId = '') => ({
  groupId, memberId, groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000,
  protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], requireKnownMemberId: false, supportSkipAssignment: false,
});

test('a replacement coordinator restores a stable group and its offsets from the store', async (t) => {
  const { open } = await setup(t);
  const first = open();
  const joined = await first.join(joinReq('g'));
  assert.equal(joined.errorCode, ErrorCode.NONE);
  const synced = await first.sync({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a') }] });
  assert.equal(synced.errorCode, ErrorCode.NONE);
  // 300 partitions: more than one transaction's worth of operations.
  const offsets = Array.from({ length: 300 }, (_, p) => ({ topic: 't', partition: p, offset: BigInt(p * 10), leaderEpoch: -1, metadata: null }));
  const codes = await first.commitOffsets({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, retentionTimeMs: -1, offsets });
  assert.ok(codes.every((c) => c === ErrorCode.NONE));
  await first.close();

  const second = open();
  const described = await second.describe('g');
  assert.equal(described.state, 'Stable');
  assert.equal(described.members[0]?.assignment.toString(), 'a');
  assert.equal(await second.heartbeat('g', { memberId: joined.memberId, groupInstanceId: null }, joined.generationId), ErrorCode.NONE);
  const fetched = await second.fetchOffsets('g', null);
  assert.equal(fetched.offsets.length, 300);
  assert.equal(fetched.offsets.find((o) => o.partition === 299)?.offset, 2990n);
});

test('a coordinator that lost the group to another writer answers NOT_COORDINATOR', async (t) => {
  const { open } = await setup(t);
  const a = open();
  const b = open();
  const std = { groupId: 'g2', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] };
  assert.deepEqual(await a.commitOffsets(std), [ErrorCode.NONE]);
  // b loads the group and rewrites it (a delete); a's next guarded write must fail.
  assert.equal(await b.deleteGroup('g2'), ErrorCode.NONE);
  assert.deepEqual(await a.commitOffsets(std), [ErrorCode.NOT_COORDINATOR]);
});

test('groups placed on another broker are refused with NOT_COORDINATOR', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-groups-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const c = new GroupCoordinator(store, placement(1, [1, 2, 3]), { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100, maxSessionTimeoutMs: 60_000, offsetsRetentionMinutes: 1, ...CONSUMER_GROUP_SETTINGS }, log);
  t.after(async () => {
    await c.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const elsewhere = Array.from({ length: 50 }, (_, i) => `g${i}`).find((g) => c.coordinatorOf(g) !== 1) as string;
  assert.equal((await c.join(joinReq(elsewhere))).errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(await c.deleteGroup(elsewhere), ErrorCode.NOT_COORDINATOR);
});

test('offsets of an empty group expire after offsets.retention.minutes, then the group is deleted', async (t) => {
  const { open, advance } = await setup(t);
  const c = open();
  const std = { groupId: 'old', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] };
  await c.commitOffsets(std);
  assert.equal(await c.expireOffsets(), 0, 'not yet');
  advance(61_000);
  assert.equal(await c.expireOffsets(), 1);
  assert.deepEqual((await c.fetchOffsets('old', null)).offsets, []);
  assert.ok(!(await c.list()).some((g) => g.groupId === 'old'));
});

test('an OffsetCommit v1 commit timestamp is the commit time the offset ages from (-1: now)', async (t) => {
  const { open, advance } = await setup(t);
  const c = open();
  const offset = (partition: number, commitTimestampMs: number) => ({ topic: 't', partition, offset: 1n, leaderEpoch: -1, metadata: null, commitTimestampMs });
  // Retention is 1 minute: committed "50 s ago" by the client's clock, it is gone 11 s later; "now" is not.
  const results = await c.commitOffsets({ groupId: 'v1', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [offset(0, 1_000_000 - 50_000), offset(1, -1)] });
  assert.deepEqual(results, [ErrorCode.NONE, ErrorCode.NONE]);
  assert.deepEqual((await c.fetchOffsets('v1', null)).offsets.map((o) => [o.partition, o.commitTimestampMs]), [[0, 950_000], [1, 1_000_000]]);
  advance(11_000);
  assert.equal(await c.expireOffsets(), 1);
  assert.deepEqual((await c.fetchOffsets('v1', null)).offsets.map((o) => o.partition), [1]);
});

test('offsets of a deleted topic: hidden from OffsetFetch at once, removed from every coordinated group', async (t) => {
  const { open } = await setup(t);
  const coordinator = open();
  const existing = new Set(['gone', 'kept']);
  coordinator.useTopicLookup((topic) => existing.has(topic));
  const offsets = [
    { topic: 'gone', partition: 0, offset: 5n, leaderEpoch: -1, metadata: null },
    { topic: 'gone', partition: 1, offset: 6n, leaderEpoch: -1, metadata: null },
    { topic: 'kept', partition: 0, offset: 7n, leaderEpoch: -1, metadata: null },
  ];
  for (const groupId of ['a', 'b']) {
    const codes = await coordinator.commitOffsets({ groupId, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets });
    assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE]);
  }
  existing.delete('gone');
  const hidden = await coordinator.fetchOffsets('a', null);
  assert.deepEqual(hidden.offsets.map((o) => `${o.topic}/${o.partition}=${o.offset}`), ['kept/0=7']);
  const named = await coordinator.fetchOffsets('a', [{ name: 'gone', partitions: [0] }]);
  assert.equal(named.offsets[0]?.offset, -1n, 'a named partition of a deleted topic has no committed offset');

  assert.equal(await coordinator.removeOffsetsOfTopics(['gone']), 4);
  // Re-created under the same name: the old incarnation's offsets do not come back.
  existing.add('gone');
  for (const groupId of ['a', 'b']) {
    const fetched = await coordinator.fetchOffsets(groupId, null);
    assert.deepEqual(fetched.offsets.map((o) => `${o.topic}/${o.partition}=${o.offset}`), ['kept/0=7']);
  }
  assert.equal(await coordinator.removeOffsetsOfTopics(['gone']), 0, 'nothing left to remove');
});

test('a commit still in flight from a previous coordinator (paused past its lease) cannot take committed offsets back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-groups-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  // The old coordinator's store: its transactions can be held, as a SIGSTOPped broker holds a request it
  // has built but not sent, and released after another coordinator took the group over.
  let hold: Promise<void> | null = null;
  const held = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'txn') {
        return async (...args: Parameters<typeof store.txn>) => {
          if (hold !== null) await hold;
          return target.txn(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const settings: GroupSettings = { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100, maxSessionTimeoutMs: 60_000, offsetsRetentionMinutes: 1, ...CONSUMER_GROUP_SETTINGS };
  const old = new GroupCoordinator(held, placement(1), settings, log);
  const replacement = new GroupCoordinator(store, placement(1), settings, log);
  t.after(async () => {
    await old.close();
    await replacement.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const joined = await old.join(joinReq('g'));
  await old.sync({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a') }] });
  const commit = (coordinator: GroupCoordinator, offset: bigint) =>
    coordinator.commitOffsets({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: -1, metadata: null }] });
  assert.deepEqual(await commit(old, 100n), [ErrorCode.NONE]);

  let release!: () => void;
  hold = new Promise<void>((resolve) => (release = resolve));
  const stale = commit(old, 150n);
  // The group moves: the replacement loads it and the member commits further there.
  assert.deepEqual(await commit(replacement, 300n), [ErrorCode.NONE]);
  release();
  hold = null;
  assert.deepEqual(await stale, [ErrorCode.NOT_COORDINATOR], 'the old coordinator is fenced by the replacement having loaded the group');
  const fetched = await replacement.fetchOffsets('g', [{ name: 't', partitions: [0] }]);
  assert.equal(fetched.offsets[0]?.offset, 300n);
});

test('the group log: one debug line per state change, with generation and assigned partitions; none per heartbeat', async (t) => {
  const lines: { msg: string; groupId: string; from: string; to: string; generationId: number; members: { memberId: string; partitions: number | null }[] }[] = [];
  const captured = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-groups-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  const coordinator = new GroupCoordinator(store, placement(1), { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100, maxSessionTimeoutMs: 60_000, offsetsRetentionMinutes: 1, ...CONSUMER_GROUP_SETTINGS }, captured);
  t.after(async () => {
    await coordinator.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const joined = await coordinator.join(joinReq('g'));
  // ConsumerProtocolAssignment v0: topic "t", partitions 0 and 1, no user data.
  const assignment = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
  await coordinator.sync({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment }] });
  for (let i = 0; i < 5; i++) assert.equal(await coordinator.heartbeat('g', { memberId: joined.memberId, groupInstanceId: null }, joined.generationId), ErrorCode.NONE);
  assert.deepEqual((await coordinator.leave('g', [{ memberId: joined.memberId, groupInstanceId: null }])).members, [ErrorCode.NONE]);

  const changes = lines.filter((l) => l.msg === 'group state change');
  assert.equal(changes.length, lines.filter((l) => l.groupId === 'g').length, 'no other debug line about the group');
  assert.deepEqual(changes.map((l) => [l.from, l.to, l.generationId]), [
    ['Empty', 'PreparingRebalance', 0],
    ['PreparingRebalance', 'CompletingRebalance', 1],
    ['CompletingRebalance', 'Stable', 1],
    ['Stable', 'PreparingRebalance', 1],
    ['PreparingRebalance', 'Empty', 2],
  ]);
  assert.deepEqual(changes[2]?.members, [{ memberId: joined.memberId, clientId: 'c', partitions: 2 }], 'Stable names every member with its partition count');
  assert.deepEqual(changes[4]?.members, [], 'the member left');
});

const TOPIC_T = { name: 't', id: '00000000-0000-0000-0000-0000000000aa', partitions: 4 };
const consumerReq = (groupId: string, memberId: string, memberEpoch: number) => ({
  groupId, memberId, memberEpoch, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: ['t'], subscribedTopicRegex: null,
  serverAssignor: null, ownedTopicPartitions: [], clientId: 'c', clientHost: '/127.0.0.1', apiVersion: 1,
});

test('KIP-848 group: a replacement coordinator restores members and epochs; offsets of the emptied group expire after retention', async (t) => {
  const { open, advance } = await setup(t, { consumerSessionTimeoutMs: 10_000 });
  const first = open();
  const topic = (name: string) => (name === 't' ? TOPIC_T : undefined);
  const joined = await first.consumerHeartbeat(consumerReq('k', 'm1', 0), topic);
  assert.equal(joined.errorCode, ErrorCode.NONE);
  assert.equal(joined.memberEpoch, 1);
  assert.deepEqual(await first.commitOffsets({ groupId: 'k', generationId: 1, memberId: 'm1', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 5n, leaderEpoch: -1, metadata: null }] }), [ErrorCode.NONE]);
  await first.close();

  const second = open();
  const again = await second.consumerHeartbeat({ ...consumerReq('k', 'm1', 1), ownedTopicPartitions: [{ topicId: TOPIC_T.id, partitions: [0, 1, 2, 3] }] }, topic);
  assert.equal(again.errorCode, ErrorCode.NONE, 'the member continues on the new coordinator');
  assert.equal(again.memberEpoch, 1);
  assert.equal((await second.consumerHeartbeat(consumerReq('k', 'm1', -1), topic)).memberEpoch, -1);
  assert.deepEqual((await second.list()).find((g) => g.groupId === 'k'), { groupId: 'k', protocolType: 'consumer', state: 'Empty', groupType: 'consumer' });
  assert.equal(await second.expireOffsets(), 0, 'kept within retention');
  advance(61_000);
  assert.equal(await second.expireOffsets(), 1);
  assert.equal((await second.list()).find((g) => g.groupId === 'k'), undefined, 'the emptied group without offsets is deleted');
});
