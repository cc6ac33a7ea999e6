/**
 * KIP-848 consumer groups on the wire (codec-typed WireClient against a broker process):
 * ConsumerGroupHeartbeat join/heartbeat/leave, incremental reconciliation (a partition moves only
 * after its owner revoked it), epoch fencing, session timeout, OffsetCommit v9 member-epoch checks,
 * ConsumerGroupDescribe, ListGroups types, and what classic APIs answer for a consumer group.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';

const HEARTBEAT = 68;
const DESCRIBE = 69;
const COMMIT = 8;
const FETCH = 9;
const SESSION_TIMEOUT_MS = 2_000;

let broker: BrokerProcess;
let wire: WireClient;
let topicId = '';
let groupCounter = 0;
const TOPIC = 'kip848-wire';

before(async () => {
  broker = await startBroker({
    env: {
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '500',
      KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '700',
    },
    logLevel: 'warn',
  });
  wire = await WireClient.connect(broker.host, broker.port);
  const created = await wire.send(19, 7, { topics: [{ name: TOPIC, numPartitions: 6, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
  topicId = created.topics[0]?.topicId ?? '';
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

const newGroup = (): string => `kip848-group-${++groupCounter}`;

interface Member {
  memberId: string;
  epoch: number;
  owned: number[];
}

function heartbeat(groupId: string, m: Member, extra: Record<string, unknown> = {}, version = 1) {
  return wire.send(HEARTBEAT, version, {
    groupId,
    memberId: m.memberId,
    memberEpoch: m.epoch,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 10_000,
    subscribedTopicNames: [TOPIC],
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: m.owned.length === 0 ? [] : [{ topicId, partitions: m.owned }],
    ...extra,
  });
}

/** One heartbeat that must succeed; the member then owns what the answer says (a real consumer's behaviour). */
async function beat(groupId: string, m: Member, extra: Record<string, unknown> = {}) {
  const r = await heartbeat(groupId, m, extra);
  assert.equal(r.errorCode, ErrorCode.NONE, `${m.memberId}: ${r.errorMessage}`);
  m.epoch = r.memberEpoch;
  if (r.assignment !== null) m.owned = r.assignment.topicPartitions.flatMap((t) => (t.topicId === topicId ? t.partitions : [])).sort((a, b) => a - b);
  return r;
}

async function joinNew(groupId: string, name: string, extra: Record<string, unknown> = {}): Promise<Member> {
  const m: Member = { memberId: `${name}-${groupId}`, epoch: 0, owned: [] };
  await beat(groupId, m, extra);
  return m;
}

function assertDisjoint(...members: Member[]) {
  const all = members.flatMap((m) => m.owned);
  assert.equal(new Set(all).size, all.length, `co-owned: ${JSON.stringify(members)}`);
}

test('ApiVersions advertises ConsumerGroupHeartbeat 0-1 and ConsumerGroupDescribe 0', async () => {
  const r = await wire.send(18, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
  assert.deepEqual(r.apiKeys.find((k) => k.apiKey === HEARTBEAT), { apiKey: HEARTBEAT, minVersion: 0, maxVersion: 1 });
  assert.deepEqual(r.apiKeys.find((k) => k.apiKey === DESCRIBE), { apiKey: DESCRIBE, minVersion: 0, maxVersion: 0 });
});

test('v0 join gets a broker-chosen member id; v1 needs the client to choose one; the first member gets every partition', async () => {
  const groupId = newGroup();
  const v0 = await heartbeat(groupId, { memberId: '', epoch: 0, owned: [] }, {}, 0);
  assert.equal(v0.errorCode, ErrorCode.NONE);
  assert.ok((v0.memberId ?? '').length > 0);
  assert.equal(v0.memberEpoch, 1);
  assert.equal(v0.heartbeatIntervalMs, 700);
  assert.deepEqual(v0.assignment?.topicPartitions, [{ topicId, partitions: [0, 1, 2, 3, 4, 5] }]);
  const v1 = await heartbeat(newGroup(), { memberId: '', epoch: 0, owned: [] });
  assert.equal(v1.errorCode, ErrorCode.INVALID_REQUEST);
  const badAssignor = await heartbeat(newGroup(), { memberId: 'x', epoch: 0, owned: [] }, { serverAssignor: 'sticky-ish' });
  assert.equal(badAssignor.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
});

test('incremental reconciliation: a partition moves only after its owner stopped listing it; leave frees partitions', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  assert.deepEqual(a.owned, [0, 1, 2, 3, 4, 5]);
  const b = await joinNew(groupId, 'b');
  assert.equal(b.epoch, 2);
  assert.deepEqual(b.owned, [], 'b gets nothing while a still owns everything');
  // a is asked to revoke: it keeps its epoch until its heartbeat no longer lists the revoked ones.
  const revoke = await beat(groupId, a, { topicPartitions: [{ topicId, partitions: [0, 1, 2, 3, 4, 5] }] });
  assert.equal(revoke.memberEpoch, 1);
  assert.equal(a.owned.length, 3);
  // b still gets nothing: a has not confirmed.
  await beat(groupId, b);
  assert.deepEqual(b.owned, []);
  await beat(groupId, a);
  assert.equal(a.epoch, 2);
  await beat(groupId, b);
  assert.equal(b.owned.length, 3);
  assertDisjoint(a, b);
  const c = await joinNew(groupId, 'c', { serverAssignor: 'range' });
  for (let round = 0; round < 4; round++) {
    for (const m of [a, b, c]) {
      await beat(groupId, m);
      assertDisjoint(a, b, c);
    }
  }
  assert.deepEqual([a.owned.length, b.owned.length, c.owned.length], [2, 2, 2]);
  // The range assignor (named by c, the only vote): contiguous ranges by member id order (a, b, c).
  assert.deepEqual([a.owned, b.owned, c.owned], [[0, 1], [2, 3], [4, 5]]);
  const left = await heartbeat(groupId, { ...c, epoch: -1 });
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.equal(left.memberEpoch, -1);
  for (let round = 0; round < 3; round++) for (const m of [a, b]) await beat(groupId, m);
  assert.equal(a.owned.length + b.owned.length, 6);
  assertDisjoint(a, b);
  const described = await wire.send(DESCRIBE, 0, { groupIds: [groupId, 'no-such-group'], includeAuthorizedOperations: false });
  const g = described.groups[0];
  assert.equal(g?.errorCode, ErrorCode.NONE);
  assert.equal(g?.groupState, 'Stable');
  assert.equal(g?.groupEpoch, a.epoch);
  assert.equal(g?.members.length, 2);
  assert.deepEqual(g?.members.find((m) => m.memberId === a.memberId)?.assignment.topicPartitions, [{ topicId, topicName: TOPIC, partitions: a.owned }]);
  assert.equal(described.groups[1]?.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('fencing: an epoch ahead is FENCED_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID, an unknown group GROUP_ID_NOT_FOUND; a fenced member rejoins with epoch 0', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  assert.equal((await heartbeat(groupId, { ...a, epoch: a.epoch + 5 })).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal((await heartbeat(groupId, { ...a, memberId: 'stranger' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await heartbeat(newGroup(), { ...a })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND, 'only a join creates a group');
  const rejoin: Member = { memberId: a.memberId, epoch: 0, owned: [] };
  await beat(groupId, rejoin);
  assert.deepEqual(rejoin.owned, [0, 1, 2, 3, 4, 5]);
});

test('session timeout removes a silent member and its partitions go to the others', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  const b = await joinNew(groupId, 'b');
  for (let round = 0; round < 3; round++) for (const m of [a, b]) await beat(groupId, m);
  assert.equal(a.owned.length, 3);
  // b goes silent; a keeps heartbeating.
  const deadline = Date.now() + SESSION_TIMEOUT_MS * 4;
  while (a.owned.length < 6 && Date.now() < deadline) {
    await sleep(300);
    await beat(groupId, a);
  }
  assert.deepEqual(a.owned, [0, 1, 2, 3, 4, 5]);
  assert.equal((await heartbeat(groupId, b)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

function commit(groupId: string, memberId: string, epoch: number, offset: bigint, version = 9) {
  return wire.send(COMMIT, version, {
    groupId,
    generationIdOrMemberEpoch: epoch,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' }] }],
  });
}

const commitCode = (r: Awaited<ReturnType<typeof commit>>) => r.topics[0]?.partitions[0]?.errorCode;

test('OffsetCommit v9 and OffsetFetch v9 check member epochs; simple commits work once the group is empty', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  assert.equal(commitCode(await commit(groupId, a.memberId, a.epoch, 10n)), ErrorCode.NONE);
  const b = await joinNew(groupId, 'b');
  for (let round = 0; round < 3; round++) for (const m of [a, b]) await beat(groupId, m);
  assert.equal(a.epoch, 2);
  assert.equal(commitCode(await commit(groupId, a.memberId, 1, 11n)), ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(commitCode(await commit(groupId, 'stranger', a.epoch, 11n)), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(commitCode(await commit(groupId, '', -1, 11n)), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(commitCode(await commit(groupId, a.memberId, a.epoch, 11n, 8)), ErrorCode.UNSUPPORTED_VERSION);
  assert.equal(commitCode(await commit(groupId, a.memberId, a.epoch, 12n)), ErrorCode.NONE);
  const fetchAs = (memberId: string | null, memberEpoch: number) =>
    wire.send(FETCH, 9, { groupId: '', topics: null, groups: [{ groupId, memberId, memberEpoch, topics: [{ name: TOPIC, partitionIndexes: [0] }] }], requireStable: false });
  assert.equal((await fetchAs(a.memberId, a.epoch)).groups[0]?.topics[0]?.partitions[0]?.committedOffset, 12n);
  assert.equal((await fetchAs(a.memberId, 1)).groups[0]?.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal((await fetchAs('stranger', a.epoch)).groups[0]?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await fetchAs(null, -1)).groups[0]?.errorCode, ErrorCode.NONE, 'admin fetches are not checked');
  for (const m of [a, b]) assert.equal((await heartbeat(groupId, { ...m, epoch: -1 })).errorCode, ErrorCode.NONE);
  assert.equal(commitCode(await commit(groupId, '', -1, 13n)), ErrorCode.NONE);
  const fetched = await wire.send(FETCH, 8, { groupId: '', topics: null, groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: TOPIC, partitionIndexes: [0] }] }], requireStable: false });
  assert.equal(fetched.groups[0]?.topics[0]?.partitions[0]?.committedOffset, 13n);
});

test('classic APIs and a consumer group: ListGroups types, DescribeGroups, JoinGroup; ConsumerGroupHeartbeat on a classic group', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  const listed = await wire.send(16, 5, { statesFilter: [], typesFilter: ['consumer'] });
  const row = listed.groups.find((g) => g.groupId === groupId);
  assert.deepEqual(row, { groupId, protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' });
  const classicOnly = await wire.send(16, 5, { statesFilter: [], typesFilter: ['classic'] });
  assert.equal(classicOnly.groups.find((g) => g.groupId === groupId), undefined);
  const described = await wire.send(15, 5, { groups: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const joined = await wire.send(11, 9, { groupId, memberId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], reason: null });
  assert.equal(joined.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await heartbeat(groupId, { ...a, epoch: -1 })).errorCode, ErrorCode.NONE);

  // A classic group with a member: ConsumerGroupHeartbeat answers GROUP_ID_NOT_FOUND.
  const classic = newGroup();
  const first = await wire.send(11, 9, { groupId: classic, memberId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], reason: null });
  const second = await wire.send(11, 9, { groupId: classic, memberId: first.memberId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], reason: null });
  assert.equal(second.errorCode, ErrorCode.NONE);
  assert.equal((await heartbeat(classic, { memberId: 'k1', epoch: 0, owned: [] })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('an empty classic group (offsets only) becomes a consumer group on a join and keeps its offsets; an emptied consumer group becomes classic on JoinGroup', async () => {
  const groupId = newGroup();
  assert.equal(commitCode(await commit(groupId, '', -1, 42n, 7)), ErrorCode.NONE);
  const listedClassic = await wire.send(16, 5, { statesFilter: [], typesFilter: [] });
  assert.equal(listedClassic.groups.find((g) => g.groupId === groupId)?.groupType, 'classic');
  const a = await joinNew(groupId, 'a');
  assert.equal(a.owned.length, 6);
  const fetched = await wire.send(FETCH, 8, { groupId: '', topics: null, groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: TOPIC, partitionIndexes: [0] }] }], requireStable: false });
  assert.equal(fetched.groups[0]?.topics[0]?.partitions[0]?.committedOffset, 42n, 'offsets kept across the upgrade');
  assert.equal((await heartbeat(groupId, { ...a, epoch: -1 })).errorCode, ErrorCode.NONE);
  const joined = await wire.send(11, 9, { groupId, memberId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], reason: null });
  assert.notEqual(joined.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, 'an empty consumer group takes a classic member');
  assert.equal(joined.errorCode, ErrorCode.MEMBER_ID_REQUIRED, 'and answers it as a classic group does (KIP-394)');
});

test('GROUP configs: described with the broker\'s values, overridden per group with IncrementalAlterConfigs (heartbeat interval in the answers, session timeout in expiry), validated, deleted', async () => {
  const groupId = newGroup();
  const describe = async () => {
    const described = await wire.send(32, 4, { resources: [{ resourceType: 32, resourceName: groupId, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
    assert.equal(described.results[0]?.errorCode, ErrorCode.NONE);
    return Object.fromEntries((described.results[0]?.configs ?? []).map((c) => [c.name, [c.value, c.configSource]]));
  };
  assert.deepEqual(await describe(), { 'consumer.session.timeout.ms': [String(SESSION_TIMEOUT_MS), 4], 'consumer.heartbeat.interval.ms': ['700', 4] });
  const alter = (configs: { name: string; configOperation: number; value: string | null }[]) =>
    wire.send(44, 1, { resources: [{ resourceType: 32, resourceName: groupId, configs }], validateOnly: false }).then((r) => r.responses[0]?.errorCode);
  assert.equal(await alter([{ name: 'consumer.heartbeat.interval.ms', configOperation: 0, value: '250' }, { name: 'consumer.session.timeout.ms', configOperation: 0, value: '1000' }]), ErrorCode.NONE);
  assert.deepEqual(await describe(), { 'consumer.session.timeout.ms': ['1000', 8], 'consumer.heartbeat.interval.ms': ['250', 8] });
  assert.equal(await alter([{ name: 'consumer.heartbeat.interval.ms', configOperation: 0, value: '5000' }]), ErrorCode.INVALID_CONFIG, 'heartbeat interval must stay below the session timeout');
  assert.equal(await alter([{ name: 'consumer.no.such', configOperation: 0, value: '1' }]), ErrorCode.INVALID_CONFIG);
  assert.equal(await alter([{ name: 'consumer.session.timeout.ms', configOperation: 0, value: 'soon' }]), ErrorCode.INVALID_CONFIG);

  const a = await joinNew(groupId, 'a');
  const hb = await beat(groupId, a);
  assert.equal(hb.heartbeatIntervalMs, 250, 'the group override is in the answer');
  const b = await joinNew(groupId, 'b');
  for (let round = 0; round < 3; round++) for (const m of [a, b]) await beat(groupId, m);
  assert.equal(a.owned.length, 3);
  // b goes silent: with the group's 1 s session timeout (broker: 2 s) it is gone well before 2 s.
  const started = Date.now();
  while (a.owned.length < 6 && Date.now() - started < 1_900) {
    await sleep(150);
    await beat(groupId, a);
  }
  assert.deepEqual(a.owned, [0, 1, 2, 3, 4, 5], 'b expired after the group\'s session timeout');
  assert.equal((await heartbeat(groupId, b)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

  assert.equal(await alter([{ name: 'consumer.heartbeat.interval.ms', configOperation: 1, value: null }, { name: 'consumer.session.timeout.ms', configOperation: 1, value: null }]), ErrorCode.NONE);
  assert.deepEqual(await describe(), { 'consumer.session.timeout.ms': [String(SESSION_TIMEOUT_MS), 4], 'consumer.heartbeat.interval.ms': ['700', 4] });
  assert.equal((await beat(groupId, a)).heartbeatIntervalMs, 700);
});

async function createTopic(name: string, partitions: number): Promise<string> {
  const created = await wire.send(19, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
  return created.topics[0]?.topicId ?? '';
}

test('partition-count growth and regex subscriptions: new partitions and newly created matching topics get assigned', async () => {
  const groupId = newGroup();
  const grownId = await createTopic('kip848-grow', 2);
  const m = { memberId: `r-${groupId}`, epoch: 0 };
  const hb = (extra: Record<string, unknown> = {}) =>
    wire.send(HEARTBEAT, 1, { groupId, memberId: m.memberId, memberEpoch: m.epoch, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null, ...extra });
  let r = await hb({ subscribedTopicNames: [], subscribedTopicRegex: 'kip848-(grow|later-.*)', topicPartitions: [] });
  assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
  m.epoch = r.memberEpoch;
  assert.deepEqual(r.assignment?.topicPartitions, [{ topicId: grownId, partitions: [0, 1] }]);
  const grown = await wire.send(37, 3, { topics: [{ name: 'kip848-grow', count: 4, assignments: null }], timeoutMs: 5000, validateOnly: false });
  assert.equal(grown.results[0]?.errorCode, ErrorCode.NONE);
  r = await hb();
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.memberEpoch, m.epoch + 1, 'the partition count change bumped the epoch');
  m.epoch = r.memberEpoch;
  assert.deepEqual(r.assignment?.topicPartitions, [{ topicId: grownId, partitions: [0, 1, 2, 3] }]);
  const laterId = await createTopic('kip848-later-1', 1);
  r = await hb();
  assert.equal(r.memberEpoch, m.epoch + 1, 'a newly created matching topic bumped the epoch');
  const got = new Map(r.assignment?.topicPartitions.map((t) => [t.topicId, t.partitions]));
  assert.deepEqual(got.get(laterId), [0]);
  assert.deepEqual(got.get(grownId), [0, 1, 2, 3]);
  const described = await wire.send(DESCRIBE, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.members[0]?.subscribedTopicRegex, 'kip848-(grow|later-.*)');
  const bad = await wire.send(HEARTBEAT, 1, { groupId: newGroup(), memberId: 'bad', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: null, subscribedTopicRegex: '(unclosed', serverAssignor: null, topicPartitions: [] });
  assert.equal(bad.errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION);
});

test('static membership: leave with -2 keeps the partitions; the instance rejoins under a new member id and gets them back', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a', { instanceId: 'inst-a' });
  const b = await joinNew(groupId, 'b');
  for (let round = 0; round < 3; round++) for (const m of [a, b]) await beat(groupId, m, m === a ? { instanceId: 'inst-a' } : {});
  assert.equal(a.owned.length, 3);
  const aOwned = a.owned;
  const epochBefore = b.epoch;
  const busy = await heartbeat(groupId, { memberId: `a2-${groupId}`, epoch: 0, owned: [] }, { instanceId: 'inst-a' });
  assert.equal(busy.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  const left = await heartbeat(groupId, { ...a, epoch: -2 }, { instanceId: 'inst-a' });
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.equal(left.memberEpoch, -2);
  // b keeps only its own: the static member's partitions are not reassigned while it is away.
  await beat(groupId, b);
  assert.equal(b.epoch, epochBefore);
  assert.equal(b.owned.length, 3);
  const back: Member = { memberId: `a2-${groupId}`, epoch: 0, owned: [] };
  await beat(groupId, back, { instanceId: 'inst-a' });
  assert.deepEqual(back.owned, aOwned);
  assert.equal(back.epoch, epochBefore);
  assertDisjoint(back, b);
});

test('consumer group state survives a broker restart (stored in the metadata store)', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId, 'a');
  await broker.restart();
  wire.close();
  wire = await WireClient.connect(broker.host, broker.port);
  const r = await beat(groupId, a);
  assert.equal(r.memberEpoch, 1);
  const described = await wire.send(DESCRIBE, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.members[0]?.memberId, a.memberId);
});
