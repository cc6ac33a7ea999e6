/**
 * Kafka's per-API authorization through the real dispatcher of a real broker (embedded store) with
 * KAFSCALE_AUTHORIZER=acl: each request is sent as a chosen principal (test/helpers/principal-client.ts)
 * and gets exactly the error Kafka gives. ACLs are created with CreateAcls by a super user.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BrokerApp } from '../../src/app/broker-app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/index.ts';
import { unwrapResponse, wrapRequest } from '../../src/protocol/envelope.ts';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { AclOperation as Op, AclPermission, PatternType, ResourceType } from '../../src/services/security/acl.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { PrincipalClient } from '../helpers/principal-client.ts';

const ALLOW = AclPermission.ALLOW;
const DENY = AclPermission.DENY;
const TOPIC = ResourceType.TOPIC;
const GROUP = ResourceType.GROUP;
const CLUSTER = ResourceType.CLUSTER;

interface Acl {
  type: number;
  name: string;
  pattern?: number;
  principal: string;
  host?: string;
  op: number;
  permission?: number;
}

const bits = (...ops: number[]): number => ops.reduce((b, op) => b | (1 << op), 0);

describe('ACL authorization per API (dispatcher, KAFSCALE_AUTHORIZER=acl)', { timeout: 60_000 }, () => {
  let dir: string;
  let app: BrokerApp;
  let admin: PrincipalClient;
  let alice: PrincipalClient;
  let bob: PrincipalClient;

  async function createAcls(acls: Acl[]): Promise<void> {
    const response = await admin.send(30, 3, {
      creations: acls.map((a) => ({
        resourceType: a.type,
        resourceName: a.name,
        resourcePatternType: a.pattern ?? PatternType.LITERAL,
        principal: a.principal,
        host: a.host ?? '*',
        operation: a.op,
        permissionType: a.permission ?? ALLOW,
      })),
    });
    assert.deepEqual(response.results.map((r) => r.errorCode), acls.map(() => ErrorCode.NONE), JSON.stringify(response.results));
  }

  function produceBody(topic: string) {
    const records = encodeRecordBatch({ records: [{ value: 'v', timestamp: BigInt(Date.now()) }] });
    return { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
  }

  function fetchBody(topic: string) {
    return {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' }] }],
      forgottenTopicsData: [], rackId: '',
    };
  }

  async function fetchError(client: PrincipalClient, topic: string): Promise<number | undefined> {
    const response = await client.send(1, 12, fetchBody(topic));
    return response.responses[0]?.partitions[0]?.errorCode;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-acl-'));
    const config = loadConfig({
      argv: [],
      env: {
        KAFSCALE_DATA_DIR: dir, KAFSCALE_BROKER_ADDR: '127.0.0.1:0', KAFSCALE_METRICS_ADDR: '127.0.0.1:0', KAFSCALE_BROKER_HOST: '127.0.0.1',
        KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_SUPER_USERS: 'User:admin', KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      },
      cwd: dir,
    });
    app = new BrokerApp(config, silentLogger());
    await app.start();
    admin = new PrincipalClient(app.dispatcher, 'User:admin');
    alice = new PrincipalClient(app.dispatcher, 'User:alice');
    bob = new PrincipalClient(app.dispatcher, 'User:bob');
    const created = await admin.send(19, 7, {
      topics: ['orders', 'payments', 'app-logs'].map((name) => ({ name, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] })),
      timeoutMs: 5_000, validateOnly: false,
    });
    assert.deepEqual(created.topics.map((t) => t.errorCode), [0, 0, 0]);
    await createAcls([
      { type: TOPIC, name: 'orders', principal: 'User:alice', op: Op.READ },
      { type: TOPIC, name: 'app-', pattern: PatternType.PREFIXED, principal: 'User:alice', op: Op.WRITE },
      { type: GROUP, name: 'g-alice', principal: 'User:alice', op: Op.READ },
    ]);
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('Metadata lists only topics the principal may DESCRIBE; named ones get TOPIC_AUTHORIZATION_FAILED; authorized operations on request', async () => {
    const all = await alice.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true });
    assert.deepEqual(all.topics.map((t) => t.name).sort(), ['app-logs', 'orders'], 'READ and WRITE imply DESCRIBE; payments is hidden');
    const orders = all.topics.find((t) => t.name === 'orders');
    assert.equal(orders?.topicAuthorizedOperations, bits(Op.READ, Op.DESCRIBE));
    const named = await alice.send(3, 12, { topics: [{ name: 'payments', topicId: '00000000-0000-0000-0000-000000000000' }, { name: 'nope', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: false });
    assert.deepEqual(named.topics.map((t) => [t.name, t.errorCode, t.partitions.length]), [['payments', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0], ['nope', ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0]]);
    const none = await bob.send(3, 12, { topics: null, allowAutoTopicCreation: false });
    assert.deepEqual(none.topics, [], 'no ACLs, allow.everyone.if.no.acl.found off: nothing visible');
    const cluster = await alice.send(3, 10, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true });
    assert.equal(cluster.clusterAuthorizedOperations, 0, 'no DESCRIBE on the cluster: 0, as Kafka');
    const adminCluster = await admin.send(3, 10, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true });
    assert.equal(adminCluster.clusterAuthorizedOperations, bits(Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE, Op.ALTER, Op.DESCRIBE));
  });

  test('auto-creation through Metadata needs CREATE on the topic or the cluster', async () => {
    const wanted = { topics: [{ name: 'app-new', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: true };
    const denied = await alice.send(3, 12, wanted);
    assert.equal(denied.topics[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    await createAcls([{ type: TOPIC, name: 'app-', pattern: PatternType.PREFIXED, principal: 'User:alice', op: Op.CREATE }]);
    const created = await alice.send(3, 12, wanted);
    assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
    assert.equal(created.topics[0]?.partitions.length, 1);
  });

  test('Produce needs WRITE, Fetch READ, ListOffsets and OffsetForLeaderEpoch DESCRIBE', async () => {
    const refused = await alice.send(0, 9, produceBody('orders'));
    assert.equal(refused.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const written = await alice.send(0, 9, produceBody('app-logs'));
    assert.equal(written.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
    assert.equal(await fetchError(alice, 'orders'), ErrorCode.NONE);
    assert.equal(await fetchError(alice, 'app-logs'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'WRITE does not grant READ');
    const offsets = await alice.send(2, 7, {
      replicaId: -1, isolationLevel: 0,
      topics: ['payments', 'app-logs'].map((name) => ({ name, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] })),
    });
    assert.deepEqual(offsets.topics.map((t) => t.partitions[0]?.errorCode), [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.NONE]);
    assert.equal(offsets.topics[1]?.partitions[0]?.offset, 1n);
    const epochs = await alice.send(23, 4, {
      replicaId: -1,
      topics: ['payments', 'orders'].map((topic) => ({ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] })),
    });
    assert.deepEqual(epochs.topics.map((t) => t.partitions[0]?.errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED), [true, false]);
  });

  test('group APIs: READ on the group to join or commit, DESCRIBE to find or fetch offsets; topics checked too', async () => {
    const found = await alice.send(10, 4, { keyType: 0, coordinatorKeys: ['g-alice', 'g-other'] });
    assert.deepEqual(found.coordinators.map((c) => c.errorCode), [ErrorCode.NONE, ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    const joined = await alice.send(11, 9, { groupId: 'g-other', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
    assert.equal(joined.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const heartbeat = await alice.send(12, 4, { groupId: 'g-other', generationId: 1, memberId: 'm', groupInstanceId: null });
    assert.equal(heartbeat.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);

    const commit = (groupId: string) =>
      alice.send(8, 8, {
        groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
        topics: ['orders', 'app-logs'].map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] })),
      });
    const committed = await commit('g-alice');
    assert.deepEqual(committed.topics.map((t) => t.partitions[0]?.errorCode), [ErrorCode.NONE, ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    const otherGroup = await commit('g-other');
    assert.deepEqual(otherGroup.topics.map((t) => t.partitions[0]?.errorCode), [ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    // Offsets the admin commits for payments must not be shown to alice when she asks for "all topics".
    const adminCommit = await admin.send(8, 8, { groupId: 'g-alice', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'payments', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }] });
    assert.equal(adminCommit.topics[0]?.partitions[0]?.errorCode, ErrorCode.NONE);
    const fetched = await alice.send(9, 8, {
      groups: [
        { groupId: 'g-alice', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'g-alice', memberId: null, memberEpoch: -1, topics: [{ name: 'payments', partitionIndexes: [0] }] },
        { groupId: 'g-other', memberId: null, memberEpoch: -1, topics: null },
      ],
      requireStable: false,
    });
    const [all, named, other] = fetched.groups;
    assert.deepEqual(all?.topics.map((t) => [t.name, t.partitions[0]?.committedOffset]), [['orders', 1n]]);
    assert.equal(named?.topics[0]?.partitions[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(other?.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);

    const described = await alice.send(15, 5, { groups: ['g-alice', 'g-other'], includeAuthorizedOperations: true });
    assert.deepEqual(described.groups.map((g) => g.errorCode), [ErrorCode.NONE, ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    assert.equal(described.groups[0]?.authorizedOperations, bits(Op.READ, Op.DESCRIBE));
    const listed = await alice.send(16, 4, { statesFilter: [] });
    assert.deepEqual(listed.groups.map((g) => g.groupId), ['g-alice']);
    const deleted = await alice.send(42, 2, { groupsNames: ['g-alice'] });
    assert.equal(deleted.results[0]?.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED, 'READ does not grant DELETE');
    const offsetDelete = await alice.send(47, 0, { groupId: 'g-alice', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] });
    assert.equal(offsetDelete.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  test('admin APIs need the topic or cluster rights Kafka names', async () => {
    const create = await alice.send(19, 7, { topics: [{ name: 'x', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false });
    assert.equal(create.topics[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const del = await alice.send(20, 5, { topicNames: ['orders'], timeoutMs: 5_000 });
    assert.equal(del.responses[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const partitions = await alice.send(37, 3, { topics: [{ name: 'orders', count: 2, assignments: null }], timeoutMs: 5_000, validateOnly: false });
    assert.equal(partitions.results[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const records = await alice.send(21, 2, { topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 5_000 });
    assert.equal(records.topics[0]?.partitions[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const configs = await alice.send(32, 4, { resources: [{ resourceType: 2, resourceName: 'payments', configurationKeys: null }, { resourceType: 2, resourceName: 'orders', configurationKeys: null }, { resourceType: 4, resourceName: '', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
    assert.deepEqual(configs.results.map((r) => r.errorCode), [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED]);
    const alter = await alice.send(44, 1, { resources: [{ resourceType: 2, resourceName: 'orders', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: true });
    assert.equal(alter.responses[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const cluster = await alice.send(60, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    assert.equal(cluster.errorCode, ErrorCode.NONE);
    assert.equal(cluster.clusterAuthorizedOperations, 0);
    const aliceDescribes = await alice.send(29, 3, { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 });
    assert.equal(aliceDescribes.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const aliceCreates = await alice.send(30, 3, { creations: [{ resourceType: TOPIC, resourceName: 'payments', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: Op.ALL, permissionType: ALLOW }] });
    assert.equal(aliceCreates.results[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const aliceDeletes = await alice.send(31, 3, { filters: [{ resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }] });
    assert.equal(aliceDeletes.filterResults[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // InitProducerId: WRITE on some topic (alice: app-*) or IDEMPOTENT_WRITE on the cluster.
    const pidAlice = await alice.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(pidAlice.errorCode, ErrorCode.NONE);
    const pidBob = await bob.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(pidBob.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // Cluster ALTER lets a principal manage ACLs; DESCRIBE only lists them.
    await createAcls([{ type: CLUSTER, name: 'kafka-cluster', principal: 'User:bob', op: Op.DESCRIBE }]);
    const bobDescribes = await bob.send(29, 3, { resourceTypeFilter: TOPIC, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: 'User:alice', hostFilter: null, operation: 1, permissionType: 1 });
    assert.equal(bobDescribes.errorCode, ErrorCode.NONE);
    assert.ok(bobDescribes.resources.some((r) => r.resourceName === 'orders' && r.acls.some((a) => a.operation === Op.READ)));
    const bobCreates = await bob.send(30, 3, { creations: [{ resourceType: TOPIC, resourceName: 'payments', resourcePatternType: 3, principal: 'User:bob', host: '*', operation: Op.ALL, permissionType: ALLOW }] });
    assert.equal(bobCreates.results[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // SCRAM users: DESCRIBE on the cluster to list them (bob has it now), ALTER to change them.
    const upsertion = { name: 'mallory', mechanism: 2, iterations: 8192, salt: Buffer.from('salt'), saltedPassword: Buffer.alloc(64, 1) };
    const aliceAltersUsers = await alice.send(51, 0, { deletions: [], upsertions: [upsertion] });
    assert.equal(aliceAltersUsers.results[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const bobAltersUsers = await bob.send(51, 0, { deletions: [], upsertions: [upsertion] });
    assert.equal(bobAltersUsers.results[0]?.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const aliceListsUsers = await alice.send(50, 0, { users: null });
    assert.equal(aliceListsUsers.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const bobListsUsers = await bob.send(50, 0, { users: null });
    assert.equal(bobListsUsers.errorCode, ErrorCode.NONE);
    assert.ok(!bobListsUsers.results.some((r) => r.user === 'mallory'), 'no user was created by an unauthorized AlterUserScramCredentials');
    const adminAltersUsers = await admin.send(51, 0, { deletions: [], upsertions: [upsertion] });
    assert.equal(adminAltersUsers.results[0]?.errorCode, ErrorCode.NONE);
  });

  test('CreateAcls validates each binding; DescribeAcls groups by resource; DeleteAcls reports what it removed', async () => {
    const response = await admin.send(30, 3, {
      creations: [
        { resourceType: TOPIC, resourceName: 'audit', resourcePatternType: 3, principal: 'User:carol', host: '*', operation: Op.READ, permissionType: ALLOW },
        { resourceType: TOPIC, resourceName: 'audit', resourcePatternType: 3, principal: 'carol', host: '*', operation: Op.READ, permissionType: ALLOW },
        { resourceType: CLUSTER, resourceName: 'other', resourcePatternType: 3, principal: 'User:carol', host: '*', operation: Op.ALTER, permissionType: ALLOW },
        { resourceType: TOPIC, resourceName: 'audit', resourcePatternType: 3, principal: 'User:carol', host: '*', operation: Op.WRITE, permissionType: DENY },
      ],
    });
    assert.deepEqual(response.results.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.NONE]);
    const described = await admin.send(29, 3, { resourceTypeFilter: TOPIC, resourceNameFilter: 'audit', patternTypeFilter: PatternType.LITERAL, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY });
    assert.equal(described.resources.length, 1);
    assert.deepEqual(described.resources[0]?.acls.map((a) => [a.principal, a.operation, a.permissionType]).sort(), [['User:carol', Op.READ, ALLOW], ['User:carol', Op.WRITE, DENY]]);
    const deleted = await admin.send(31, 3, { filters: [{ resourceTypeFilter: TOPIC, resourceNameFilter: 'audit', patternTypeFilter: PatternType.ANY, principalFilter: 'User:carol', hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY }] });
    assert.equal(deleted.filterResults[0]?.matchingAcls.length, 2);
    const after = await admin.send(29, 3, { resourceTypeFilter: TOPIC, resourceNameFilter: 'audit', patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY });
    assert.deepEqual(after.resources, []);
  });

  test('a change applies to an open connection at once; DENY for one host wins over ALLOW for all', async () => {
    const fromElsewhere = new PrincipalClient(app.dispatcher, 'User:alice', '10.9.9.9');
    assert.equal(await fetchError(fromElsewhere, 'orders'), ErrorCode.NONE);
    await createAcls([{ type: TOPIC, name: 'orders', principal: 'User:*', host: '10.9.9.9', op: Op.READ, permission: DENY }]);
    assert.equal(await fetchError(fromElsewhere, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await fetchError(alice, 'orders'), ErrorCode.NONE, 'the DENY names another host');
    const removed = await admin.send(31, 3, { filters: [{ resourceTypeFilter: TOPIC, resourceNameFilter: 'orders', patternTypeFilter: PatternType.LITERAL, principalFilter: 'User:alice', hostFilter: '*', operation: Op.READ, permissionType: ALLOW }] });
    assert.equal(removed.filterResults[0]?.matchingAcls.length, 1);
    assert.equal(await fetchError(alice, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'the same open connection loses READ at once');
  });

  test('super users are allowed everything; User:ANONYMOUS without ACLs nothing', async () => {
    assert.equal(await fetchError(admin, 'payments'), ErrorCode.NONE);
    const anonymous = new PrincipalClient(app.dispatcher, 'User:ANONYMOUS');
    assert.equal(await fetchError(anonymous, 'payments'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  /** An Envelope (KIP-590) sent by `sender`, carrying `inner` on behalf of `principal`. */
  async function viaEnvelope(sender: PrincipalClient, principal: string | null, inner: Buffer[]): Promise<{ errorCode: number; inner: Buffer | null }> {
    const frame = Buffer.concat(wrapRequest(inner, 4242, 'kafscale-proxy', { principal: principal ?? '', clientHost: '10.0.0.7' }));
    const response = await sender.sendFrame(frame);
    assert.ok(response !== null);
    assert.equal(response.readInt32BE(0), 4242, 'the Envelope answer carries the Envelope correlation id');
    return unwrapResponse(response);
  }

  test('Envelope: a super user forwards requests authorized as the carried principal; others get CLUSTER_AUTHORIZATION_FAILED', async () => {
    const metadata = encodeRequest(3, 12, 7, 'client', { topics: null, allowAutoTopicCreation: false });
    const asAlice = await viaEnvelope(admin, 'User:alice', metadata);
    assert.equal(asAlice.errorCode, ErrorCode.NONE);
    assert.ok(asAlice.inner !== null);
    const seen = decodeResponse(3, 12, asAlice.inner);
    assert.equal(seen.correlationId, 7, 'the inner answer keeps the inner correlation id');
    assert.ok(seen.body.topics.some((t) => t.name === 'app-logs'), 'alice may write (so describe) app-logs');
    assert.ok(!seen.body.topics.some((t) => t.name === 'payments'), 'filtered for alice, not for the admin who sent the envelope');
    const produce = encodeRequest(0, 9, 8, 'client', produceBody('payments'));
    const asBob = await viaEnvelope(admin, 'User:bob', produce);
    assert.equal(decodeResponse(0, 9, asBob.inner as Buffer).body.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const fromAlice = await viaEnvelope(alice, 'User:admin', metadata);
    assert.deepEqual(fromAlice, { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, inner: null }, 'alice may not act for others');
  });

  test('Envelope: no principal, SASL or a nested Envelope inside, or an inner version the broker lacks are refused in the answer', async () => {
    const metadata = encodeRequest(3, 12, 7, 'client', { topics: null, allowAutoTopicCreation: false });
    assert.equal((await viaEnvelope(admin, null, metadata)).errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await viaEnvelope(admin, 'alice', metadata)).errorCode, ErrorCode.INVALID_REQUEST, 'not Type:name');
    const handshake = encodeRequest(17, 1, 9, 'client', { mechanism: 'PLAIN' });
    assert.equal((await viaEnvelope(admin, 'User:alice', handshake)).errorCode, ErrorCode.INVALID_REQUEST);
    const nested = wrapRequest(metadata, 10, null, { principal: 'User:admin', clientHost: '10.0.0.7' });
    assert.equal((await viaEnvelope(admin, 'User:alice', nested)).errorCode, ErrorCode.INVALID_REQUEST);
    const tooNew = Buffer.concat(metadata);
    tooNew.writeInt16BE(99, 2);
    assert.equal((await viaEnvelope(admin, 'User:alice', [tooNew])).errorCode, ErrorCode.UNSUPPORTED_VERSION);
    // The connection that sent them still works.
    assert.equal((await viaEnvelope(admin, 'User:alice', metadata)).errorCode, ErrorCode.NONE);
  });
});
