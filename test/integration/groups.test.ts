/**
 * The group APIs on the wire (codec-typed WireClient against a broker process): the JoinGroup /
 * SyncGroup / Heartbeat / LeaveGroup protocol with MEMBER_ID_REQUIRED, protocol selection, session
 * expiry, static membership fencing, offsets, admin APIs, and every bad input with Kafka's error code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const FIND_COORDINATOR = 10;
const JOIN = 11;
const HEARTBEAT = 12;
const LEAVE = 13;
const SYNC = 14;
const COMMIT = 8;
const FETCH = 9;
const DESCRIBE = 15;
const LIST = 16;
const DELETE_GROUPS = 42;
const OFFSET_DELETE = 47;

let broker: BrokerProcess;
let wire: WireClient;
let groupCounter = 0;
const TOPIC = 'groups-wire';

before(async () => {
  broker = await startBroker({
    env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '500' },
    logLevel: 'warn',
  });
  wire = await WireClient.connect(broker.host, broker.port);
  const created = await wire.send(19, 5, { topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

const newGroup = (): string => `wire-group-${++groupCounter}`;
const meta = (s: string): Buffer => Buffer.from(s);

function join(groupId: string, memberId: string, protocols: { name: string; metadata: Buffer }[] = [{ name: 'range', metadata: meta('m') }], extra: Record<string, unknown> = {}, client = wire) {
  return client.send(JOIN, 9, { groupId, memberId, sessionTimeoutMs: 1000, rebalanceTimeoutMs: 3000, groupInstanceId: null, protocolType: 'consumer', protocols, reason: null, ...extra });
}

/** Joins with the v4+ round trip and returns the member id and the join response. */
async function joinNew(groupId: string, protocols?: { name: string; metadata: Buffer }[], client = wire) {
  const first = await join(groupId, '', protocols, {}, client);
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.length > 0);
  return join(groupId, first.memberId, protocols, {}, client);
}

test('FindCoordinator names this broker (single and batched keys) and refuses transaction keys', async () => {
  const v3 = await wire.send(FIND_COORDINATOR, 3, { key: 'g', keyType: 0 });
  assert.equal(v3.errorCode, ErrorCode.NONE);
  assert.equal(v3.port, broker.port);
  const v6 = await wire.send(FIND_COORDINATOR, 6, { keyType: 0, coordinatorKeys: ['a', 'b'] });
  assert.deepEqual(v6.coordinators.map((c) => [c.key, c.errorCode, c.port]), [['a', 0, broker.port], ['b', 0, broker.port]]);
  const txn = await wire.send(FIND_COORDINATOR, 6, { keyType: 1, coordinatorKeys: ['tx'] });
  assert.equal(txn.coordinators[0]?.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.match(txn.coordinators[0]?.errorMessage ?? '', /transactions/);
});

test('join, protocol selection, leader gets metadata, sync, heartbeat, describe, leave', async () => {
  const groupId = newGroup();
  const c2 = await WireClient.connect(broker.host, broker.port, 'second');
  try {
    const a = await joinNew(groupId, [{ name: 'range', metadata: meta('a-range') }, { name: 'roundrobin', metadata: meta('a-rr') }]);
    assert.equal(a.errorCode, ErrorCode.NONE);
    assert.equal(a.generationId, 1);
    assert.equal(a.leader, a.memberId);
    // The second member supports only roundrobin: a rebalance selects the protocol both support.
    const bJoin = joinNew(groupId, [{ name: 'roundrobin', metadata: meta('b-rr') }], c2);
    await sleep(200);
    const aAgain = await join(groupId, a.memberId, [{ name: 'range', metadata: meta('a-range') }, { name: 'roundrobin', metadata: meta('a-rr') }]);
    const b = await bJoin;
    assert.equal(aAgain.generationId, 2);
    assert.equal(aAgain.protocolName, 'roundrobin');
    assert.equal(b.protocolName, 'roundrobin');
    assert.deepEqual(aAgain.members.map((m) => m.metadata.toString()).sort(), ['a-rr', 'b-rr']);
    assert.deepEqual(b.members, [], 'followers get no member list');

    const bSync = c2.send(SYNC, 5, { groupId, generationId: 2, memberId: b.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] });
    const aSync = await wire.send(SYNC, 5, {
      groupId, generationId: 2, memberId: a.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin',
      assignments: [{ memberId: a.memberId, assignment: meta('for-a') }, { memberId: b.memberId, assignment: meta('for-b') }],
    });
    assert.equal(aSync.assignment.toString(), 'for-a');
    assert.equal((await bSync).assignment.toString(), 'for-b', 'the leader assignment is handed out as sent');

    assert.equal((await wire.send(HEARTBEAT, 4, { groupId, generationId: 2, memberId: a.memberId, groupInstanceId: null })).errorCode, ErrorCode.NONE);
    assert.equal((await wire.send(HEARTBEAT, 4, { groupId, generationId: 1, memberId: a.memberId, groupInstanceId: null })).errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await wire.send(HEARTBEAT, 4, { groupId, generationId: 2, memberId: 'nobody', groupInstanceId: null })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

    const described = await wire.send(DESCRIBE, 5, { groups: [groupId], includeAuthorizedOperations: false });
    const g = described.groups[0];
    assert.equal(g?.groupState, 'Stable');
    assert.equal(g?.protocolData, 'roundrobin');
    assert.deepEqual(g?.members.map((m) => [m.clientId, m.memberAssignment.toString()]).sort(), [['kafscale-wire-test', 'for-a'], ['second', 'for-b']]);

    const listed = await wire.send(LIST, 5, { statesFilter: ['stable'], typesFilter: [] });
    assert.ok(listed.groups.some((l) => l.groupId === groupId && l.groupState === 'Stable' && l.protocolType === 'consumer'));

    // Batch leave (v3+): both members go, the group ends Empty.
    const left = await wire.send(LEAVE, 5, { groupId, members: [{ memberId: a.memberId, groupInstanceId: null, reason: null }, { memberId: b.memberId, groupInstanceId: null, reason: null }, { memberId: 'ghost', groupInstanceId: null, reason: null }] });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.deepEqual(left.members.map((m) => m.errorCode), [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    const after = await wire.send(DESCRIBE, 5, { groups: [groupId], includeAuthorizedOperations: false });
    assert.equal(after.groups[0]?.groupState, 'Empty');
  } finally {
    c2.close();
  }
});

test('a member that stops heartbeating is removed after its session timeout', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId);
  assert.equal(a.errorCode, ErrorCode.NONE);
  await wire.send(SYNC, 5, { groupId, generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  // DescribeGroups does not keep the member alive the way a heartbeat would.
  await waitFor('the silent member removed after its 1 s session timeout', async () => {
    const described = await wire.send(DESCRIBE, 5, { groups: [groupId], includeAuthorizedOperations: false });
    return described.groups[0]?.groupState === 'Empty';
  }, 10_000);
  const hb = await wire.send(HEARTBEAT, 4, { groupId, generationId: a.generationId, memberId: a.memberId, groupInstanceId: null });
  assert.equal(hb.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const described = await wire.send(DESCRIBE, 5, { groups: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.groupState, 'Empty');
});

test('static membership: a restarted instance takes over without a rebalance and fences the old one', async () => {
  const groupId = newGroup();
  const first = await join(groupId, '', undefined, { groupInstanceId: 'instance-1' });
  assert.equal(first.errorCode, ErrorCode.NONE, 'static members skip MEMBER_ID_REQUIRED');
  await wire.send(SYNC, 5, { groupId, generationId: first.generationId, memberId: first.memberId, groupInstanceId: 'instance-1', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: first.memberId, assignment: meta('p0') }] });
  const again = await join(groupId, '', undefined, { groupInstanceId: 'instance-1' });
  assert.equal(again.errorCode, ErrorCode.NONE);
  assert.notEqual(again.memberId, first.memberId);
  assert.equal(again.generationId, first.generationId, 'no rebalance');
  assert.equal(again.skipAssignment, true, 'v9: the static leader skips the assignment');
  const sync = await wire.send(SYNC, 5, { groupId, generationId: again.generationId, memberId: again.memberId, groupInstanceId: 'instance-1', protocolType: 'consumer', protocolName: 'range', assignments: [] });
  assert.equal(sync.assignment.toString(), 'p0', 'the stable assignment is kept');
  const old = await wire.send(HEARTBEAT, 4, { groupId, generationId: first.generationId, memberId: first.memberId, groupInstanceId: 'instance-1' });
  assert.equal(old.errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const leave = await wire.send(LEAVE, 5, { groupId, members: [{ memberId: '', groupInstanceId: 'instance-1', reason: null }] });
  assert.equal(leave.members[0]?.errorCode, ErrorCode.NONE);
});

test('offsets: member commits, admin commits with generation -1, fetch all and missing, delete offsets and groups', async () => {
  const groupId = newGroup();
  const standalone = await wire.send(COMMIT, 9, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'meta' }, { partitionIndex: 1, committedOffset: 7n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.deepEqual(standalone.topics[0]?.partitions.map((p) => p.errorCode), [0, 0]);
  const all = await wire.send(FETCH, 9, { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }, { groupId: 'never-used', memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  assert.deepEqual(all.groups[0]?.topics[0]?.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]), [[0, 5n, 'meta'], [1, 7n, '']]);
  assert.deepEqual(all.groups[1]?.topics, []);
  const some = await wire.send(FETCH, 7, { groupId, topics: [{ name: TOPIC, partitionIndexes: [1, 2] }], requireStable: true });
  assert.deepEqual(some.topics[0]?.partitions.map((p) => [p.partitionIndex, p.committedOffset]), [[1, 7n], [2, -1n]]);
  const v1 = await wire.send(FETCH, 1, { groupId, topics: [{ name: TOPIC, partitionIndexes: [0] }] });
  assert.equal(v1.topics[0]?.partitions[0]?.committedOffset, 5n);

  const listed = await wire.send(LIST, 4, { statesFilter: ['Empty'] });
  assert.ok(listed.groups.some((g) => g.groupId === groupId && g.groupState === 'Empty'), 'an empty group with offsets is listed');

  const deletedOffset = await wire.send(OFFSET_DELETE, 0, { groupId, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }, { name: 'no-such-topic', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(deletedOffset.errorCode, ErrorCode.NONE);
  assert.deepEqual(deletedOffset.topics.map((t) => t.partitions[0]?.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  const afterDelete = await wire.send(FETCH, 7, { groupId, topics: [{ name: TOPIC, partitionIndexes: [0, 1] }], requireStable: false });
  assert.deepEqual(afterDelete.topics[0]?.partitions.map((p) => p.committedOffset), [-1n, 7n]);

  const deleted = await wire.send(DELETE_GROUPS, 2, { groupsNames: [groupId, 'never-used'] });
  assert.deepEqual(deleted.results.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.GROUP_ID_NOT_FOUND]);
  const gone = await wire.send(FETCH, 7, { groupId, topics: null, requireStable: false });
  assert.deepEqual(gone.topics, []);
});

test('offset commit checks generation and member; an active group cannot be deleted', async () => {
  const groupId = newGroup();
  const a = await joinNew(groupId);
  await wire.send(SYNC, 5, { groupId, generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  const commit = (generation: number, memberId: string) =>
    wire.send(COMMIT, 8, { groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal((await commit(a.generationId, a.memberId)).topics[0]?.partitions[0]?.errorCode, ErrorCode.NONE);
  assert.equal((await commit(a.generationId + 5, a.memberId)).topics[0]?.partitions[0]?.errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal((await commit(a.generationId, 'unknown')).topics[0]?.partitions[0]?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const unknownTopic = await wire.send(COMMIT, 8, { groupId, generationIdOrMemberEpoch: a.generationId, memberId: a.memberId, groupInstanceId: null, topics: [{ name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal(unknownTopic.topics[0]?.partitions[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const bigMetadata = await wire.send(COMMIT, 8, { groupId, generationIdOrMemberEpoch: a.generationId, memberId: a.memberId, groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'x'.repeat(5000) }] }] });
  assert.equal(bigMetadata.topics[0]?.partitions[0]?.errorCode, ErrorCode.OFFSET_METADATA_TOO_LARGE);
  const del = await wire.send(DELETE_GROUPS, 2, { groupsNames: [groupId] });
  assert.equal(del.results[0]?.errorCode, ErrorCode.NON_EMPTY_GROUP);
  await wire.send(LEAVE, 5, { groupId, members: [{ memberId: a.memberId, groupInstanceId: null, reason: null }] });
});

test('bad input gets Kafka error codes', async () => {
  const groupId = newGroup();
  assert.equal((await join('', '')).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await join(groupId, '', undefined, { sessionTimeoutMs: 10 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal((await join(groupId, '', [])).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await join(groupId, 'made-up-member')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const a = await joinNew(groupId);
  assert.equal((await join(groupId, '', undefined, { protocolType: 'connect' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, 'wrong protocol type');
  const syncWrongType = await wire.send(SYNC, 5, { groupId, generationId: a.generationId, memberId: a.memberId, groupInstanceId: null, protocolType: 'connect', protocolName: 'range', assignments: [] });
  assert.equal(syncWrongType.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const syncStale = await wire.send(SYNC, 5, { groupId, generationId: a.generationId - 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.equal(syncStale.errorCode, ErrorCode.ILLEGAL_GENERATION);
  const syncUnknown = await wire.send(SYNC, 5, { groupId, generationId: a.generationId, memberId: 'x', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.equal(syncUnknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // Oversized member metadata: the group state could not be stored (Kafka: record too large → UNKNOWN_SERVER_ERROR).
  const huge = await join(groupId, '', [{ name: 'range', metadata: Buffer.alloc(2_000_000) }], { groupInstanceId: 'big' });
  assert.equal(huge.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
  assert.equal((await wire.send(HEARTBEAT, 4, { groupId: '', generationId: 1, memberId: 'x', groupInstanceId: null })).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await wire.send(LEAVE, 0, { groupId, memberId: 'ghost' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const emptyCommit = await wire.send(COMMIT, 8, { groupId: '', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
  assert.equal(emptyCommit.topics[0]?.partitions[0]?.errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await wire.send(DESCRIBE, 5, { groups: [''], includeAuthorizedOperations: false })).groups[0]?.errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await wire.send(DELETE_GROUPS, 2, { groupsNames: [''] })).results[0]?.errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await wire.send(OFFSET_DELETE, 0, { groupId: 'never-existed', topics: [] })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  await wire.send(LEAVE, 5, { groupId, members: [{ memberId: a.memberId, groupInstanceId: null, reason: null }] });
});
