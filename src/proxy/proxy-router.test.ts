/**
 * The proxy's routing and retry decisions against scripted brokers: small TCP servers speaking the
 * project codec, whose answers each test chooses (a partition that moved, a coordinator that moved, a
 * connection that dies after the request was written, a long poll). The whole proxy stack runs in
 * process; clients talk to it over TCP. The real-broker and real-client proofs are in test/proxy/.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { ApiKey } from '../protocol/api-keys.ts';
import { codecVersionRange, decodeRequest, decodeRequestHeader, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { FrameDecoder, sizePrefix } from '../protocol/frame.ts';
import { encodeRecordBatch } from '../protocol/records/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import { BrokerLink } from './broker-link.ts';
import { ClusterView } from './cluster-view.ts';
import { PartitionedForwarder } from './partitioned-forwarder.ts';
import { WireClient } from '../../test/helpers/wire-client.ts';
import { ROUTED_API_KEYS, ProxyRouter } from './proxy-router.ts';
import { ProxyServer } from './proxy-server.ts';
import { ProxyIdentity, stableHash } from './proxy-identity.ts';
import { UpstreamPool } from './upstream-pool.ts';

type Struct = Record<string, unknown>;
type Answer = Struct | 'die' | Promise<Struct>;
type Handler = (apiKey: number, body: Struct, broker: FakeBroker) => Answer;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const TOPIC_ID = '22222222-2222-2222-2222-222222222222';

/** A group the fake brokers refuse in FindCoordinator, as a broker with ACLs would. */
const DENIED_GROUP = 'not-yours';

/** Which broker owns which partition of topic "t", shared by the fake brokers' Metadata answers. */
interface ClusterState {
  owners: number[];
  epochs: number[];
  coordinator: number;
  brokers: FakeBroker[];
}

class FakeBroker {
  readonly nodeId: number;
  readonly server: Server;
  port = 0;
  handler: Handler = () => ({});
  readonly seen: Array<{ apiKey: number; body: Struct }> = [];
  readonly #state: ClusterState;
  readonly #sockets = new Set<Socket>();

  constructor(nodeId: number, state: ClusterState) {
    this.nodeId = nodeId;
    this.#state = state;
    this.server = createServer((socket) => this.#accept(socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.server.close();
  }

  count(apiKey: number): number {
    return this.seen.filter((s) => s.apiKey === apiKey).length;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) void this.#answer(socket, frame);
    });
  }

  async #answer(socket: Socket, frame: Buffer): Promise<void> {
    const header = decodeRequestHeader(frame);
    const body = decodeRequest(header.apiKey as 0, header.apiVersion, frame, header.bodyOffset) as unknown as Struct;
    let answer: Struct;
    if (header.apiKey === ApiKey.ApiVersions) {
      answer = {
        errorCode: 0,
        apiKeys: ROUTED_API_KEYS.flatMap((apiKey) => {
          const range = codecVersionRange(apiKey);
          return range === null ? [] : [{ apiKey, minVersion: range.min, maxVersion: range.max }];
        }),
      };
    } else if (header.apiKey === ApiKey.Metadata) {
      answer = this.#metadata();
    } else if (header.apiKey === ApiKey.FindCoordinator) {
      const coordinator = this.#state.brokers[this.#state.coordinator];
      const found = (key: string): Struct => key === DENIED_GROUP
        ? { key, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: `not authorized to DESCRIBE group '${key}'`, nodeId: -1, host: '', port: -1 }
        : { key, errorCode: 0, errorMessage: null, nodeId: coordinator?.nodeId ?? -1, host: '127.0.0.1', port: coordinator?.port ?? -1 };
      const keys = header.apiVersion >= 4 ? (body['coordinatorKeys'] as string[]) : [body['key'] as string];
      answer = header.apiVersion >= 4 ? { errorCode: 0, coordinators: keys.map(found) } : found(keys[0] ?? '');
    } else {
      this.seen.push({ apiKey: header.apiKey, body });
      const result = this.handler(header.apiKey, body, this);
      if (result === 'die') {
        socket.destroy();
        return;
      }
      answer = await result;
    }
    const chunks = encodeResponse(header.apiKey as 0, header.apiVersion, header.correlationId, answer as never);
    socket.write(Buffer.concat([sizePrefix(chunks), ...chunks]));
  }

  #metadata(): Struct {
    const state = this.#state;
    return {
      brokers: state.brokers.map((b) => ({ nodeId: b.nodeId, host: '127.0.0.1', port: b.port, rack: null })),
      clusterId: 'fake',
      controllerId: 0,
      topics: [{
        errorCode: 0, name: 't', topicId: TOPIC_ID, isInternal: false,
        partitions: state.owners.map((owner, partitionIndex) => ({
          errorCode: 0, partitionIndex, leaderId: owner, leaderEpoch: state.epochs[partitionIndex] ?? 0, replicaNodes: [owner], isrNodes: [owner], offlineReplicas: [],
        })),
      }],
    };
  }
}

interface Harness {
  readonly state: ClusterState;
  readonly a: FakeBroker;
  readonly b: FakeBroker;
  readonly metrics: ProxyMetrics;
  readonly identity: ProxyIdentity;
  /** The proxy's listener ports (one per virtual broker). */
  readonly ports: readonly number[];
  /** Sends one request to the proxy (over its first listener); resolves with the decoded answer. */
  send(apiKey: number, version: number, body: Struct, timeoutMs?: number): Promise<Struct>;
}

const closers: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function harness(virtualBrokers = 1): Promise<Harness> {
  const state: ClusterState = { owners: [0, 1], epochs: [5, 7], coordinator: 0, brokers: [] };
  const a = new FakeBroker(0, state);
  const b = new FakeBroker(1, state);
  state.brokers.push(a, b);
  await a.start();
  await b.start();
  closers.push(() => a.close(), () => b.close());
  const log = silentLogger();
  const metrics = new ProxyMetrics();
  const pool = new UpstreamPool({ connectTimeoutMs: 1_000, maxIdleExclusive: 4, clientId: 'test-proxy', requestTimeoutMs: 5_000 });
  const view = new ClusterView(pool, { bootstrap: [{ host: '127.0.0.1', port: a.port }], refreshIntervalMs: 60_000, requestTimeoutMs: 5_000, clientId: 'test-proxy' }, log);
  const identity = new ProxyIdentity('proxy.example', virtualBrokers, 9092);
  const onRetry = (reason: string): void => metrics.retriesTotal.inc({ reason });
  const link = new BrokerLink(pool);
  const partitioned = new PartitionedForwarder(view, link, identity, { requestTimeoutMs: 5_000, onRetry });
  const router = new ProxyRouter(view, pool, link, partitioned, identity, { requestTimeoutMs: 5_000, clientId: 'test-proxy', onRetry });
  await view.start();
  const server = new ProxyServer(router, { host: '127.0.0.1', ports: Array.from({ length: virtualBrokers }, () => 0), maxFrameBytes: 1 << 26, maxInflightPerConnection: 16, readAheadMaxBytes: 1 << 26 }, log, metrics);
  const ports = await server.start();
  closers.push(async () => {
    await server.close(100);
    view.close();
    pool.close();
  });
  const client = await WireClient.connect('127.0.0.1', ports[0] ?? 0);
  closers.push(() => client.close());
  return {
    state, a, b, metrics, identity, ports,
    send: (apiKey, version, body, timeoutMs) => client.send(apiKey as 0, version, body as never, timeoutMs) as unknown as Promise<Struct>,
  };
}

function produceBody(producerId: bigint, partitions: number[]): Struct {
  return {
    transactionalId: null, acks: -1, timeoutMs: 5_000,
    topicData: [{ name: 't', partitionData: partitions.map((index) => ({ index, records: encodeRecordBatch({ producerId, producerEpoch: producerId < 0n ? -1 : 0, baseSequence: producerId < 0n ? -1 : 0, records: [{ value: Buffer.from(`v${index}`) }] }) })) }],
  };
}

/** A broker's Produce answer: every partition it was sent gets `errorCodeOf(partition)`, offset 100 + nodeId. */
function produceAnswer(body: Struct, broker: FakeBroker, errorCodeOf: (partition: number) => number = () => 0): Struct {
  const topics = body['topicData'] as Array<{ name: string; partitionData: Array<{ index: number }> }>;
  return {
    responses: topics.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: errorCodeOf(p.index), baseOffset: errorCodeOf(p.index) === 0 ? BigInt(100 + broker.nodeId) : -1n, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [], errorMessage: null, currentLeader: { leaderId: -1, leaderEpoch: -1 } })),
    })),
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
}

const partitionsOf = (answer: Struct): Array<[number, number, bigint]> =>
  (answer['responses'] as Array<{ partitionResponses: Array<{ index: number; errorCode: number; baseOffset: bigint }> }>)
    .flatMap((t) => t.partitionResponses.map((p): [number, number, bigint] => [p.index, p.errorCode, p.baseOffset]))
    .sort((x, y) => x[0] - y[0]);

const retries = async (metrics: ProxyMetrics, reason: string): Promise<number> =>
  (await metrics.retriesTotal.get()).values.find((v) => v.labels['reason'] === reason)?.value ?? 0;

test('a Produce over two owners is split, each broker sees only its partition, the answers merge', async () => {
  const h = await harness();
  h.a.handler = h.b.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
  const answer = await h.send(0, 9, produceBody(-1n, [0, 1]));
  assert.deepEqual(partitionsOf(answer), [[0, 0, 100n], [1, 0, 101n]]);
  const sentTo = (broker: FakeBroker): number[] =>
    broker.seen.flatMap((s) => (s.body['topicData'] as Array<{ partitionData: Array<{ index: number }> }>).flatMap((t) => t.partitionData.map((p) => p.index)));
  assert.deepEqual(sentTo(h.a), [0]);
  assert.deepEqual(sentTo(h.b), [1]);
});

test('NOT_LEADER_OR_FOLLOWER: the proxy refreshes metadata and sends the partition to its new owner; the client sees success', async () => {
  const h = await harness();
  h.a.handler = (_apiKey, body, broker) => {
    // Partition 0 moved to b just now; a refuses it (and did nothing).
    h.state.owners[0] = 1;
    h.state.epochs[0] = 6;
    return produceAnswer(body, broker, () => ErrorCode.NOT_LEADER_OR_FOLLOWER);
  };
  h.b.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
  const answer = await h.send(0, 9, produceBody(-1n, [0]));
  assert.deepEqual(partitionsOf(answer), [[0, 0, 101n]]);
  assert.equal(await retries(h.metrics, 'moved'), 1);
  // The client's next Metadata shows the proxy as leader with the new epoch.
  const metadata = await h.send(3, 12, { topics: [{ topicId: ZERO_UUID, name: 't' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  const partitions = (metadata['topics'] as Array<{ partitions: Array<{ leaderId: number; leaderEpoch: number }> }>)[0]?.partitions ?? [];
  assert.deepEqual(partitions.map((p) => [p.leaderId, p.leaderEpoch]), [[0, 6], [0, 7]]);
  assert.deepEqual((metadata['brokers'] as Array<{ host: string; port: number }>).map((x) => `${x.host}:${x.port}`), ['proxy.example:9092']);
});

test('a sequence gap answered right after the client was told a batch was not written reaches it as a refusal (resend in order), not OUT_OF_ORDER_SEQUENCE_NUMBER', async () => {
  const h = await harness();
  let round = 0;
  // Round 1: partition 0's batch is refused by both owners (a handover in progress). Round 2: the next
  // batch reaches an owner that never saw the first: a sequence gap, nothing written.
  h.a.handler = h.b.handler = (_apiKey, body, broker) =>
    produceAnswer(body, broker, () => (round === 1 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER));
  round = 1;
  const refused = await h.send(0, 9, produceBody(77n, [0]));
  assert.deepEqual(partitionsOf(refused), [[0, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1n]]);
  round = 2;
  const gap = await h.send(0, 9, produceBody(77n, [0]));
  assert.deepEqual(partitionsOf(gap), [[0, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1n]]);
  // A gap on a partition with no refusal is passed on as the broker said it.
  const other = await h.send(0, 9, produceBody(77n, [1]));
  assert.deepEqual(partitionsOf(other), [[1, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, -1n]]);
});

test('a connection dying after a plain Produce was written: REQUEST_TIMED_OUT, never resent (it may have been stored)', async () => {
  const h = await harness();
  h.a.handler = () => 'die';
  h.b.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
  const answer = await h.send(0, 9, produceBody(-1n, [0, 1]));
  assert.deepEqual(partitionsOf(answer), [[0, ErrorCode.REQUEST_TIMED_OUT, -1n], [1, 0, 101n]]);
  assert.equal(h.a.count(0), 1, 'the plain batch went out once');
});

test('a connection dying after an idempotent Produce was written: refreshed and resent to the new owner', async () => {
  const h = await harness();
  h.a.handler = () => {
    h.state.owners[0] = 1;
    return 'die';
  };
  h.b.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
  const answer = await h.send(0, 9, produceBody(77n, [0]));
  assert.deepEqual(partitionsOf(answer), [[0, 0, 101n]]);
  assert.equal(await retries(h.metrics, 'connection'), 1);
});

test('NOT_COORDINATOR: the proxy finds the coordinator again and resends the group request once', async () => {
  const h = await harness();
  const commitAnswer = (errorCode: number): Struct => ({ throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode }] }] });
  h.a.handler = () => {
    h.state.coordinator = 1;
    return commitAnswer(ErrorCode.NOT_COORDINATOR);
  };
  h.b.handler = () => commitAnswer(0);
  const body = { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: 'm', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: '' }] }] };
  const answer = await h.send(8, 8, body);
  assert.equal((answer['topics'] as Array<{ partitions: Array<{ errorCode: number }> }>)[0]?.partitions[0]?.errorCode, 0);
  assert.equal(h.a.count(8), 1);
  assert.equal(h.b.count(8), 1);
  // FindCoordinator from a client names the proxy — after a broker has checked it as the client.
  const found = await h.send(10, 3, { key: 'g', keyType: 0 });
  assert.deepEqual([found['nodeId'], found['host'], found['port']], [0, 'proxy.example', 9092]);
  const denied = await h.send(10, 3, { key: DENIED_GROUP, keyType: 0 });
  assert.deepEqual([denied['errorCode'], denied['nodeId'], denied['port']], [ErrorCode.GROUP_AUTHORIZATION_FAILED, -1, -1]);
  const batch = await h.send(10, 4, { keyType: 0, coordinatorKeys: ['g', DENIED_GROUP] });
  assert.deepEqual((batch['coordinators'] as Array<{ key: string; errorCode: number; port: number }>).map((c) => [c.key, c.errorCode, c.port]), [['g', 0, 9092], [DENIED_GROUP, ErrorCode.GROUP_AUTHORIZATION_FAILED, -1]]);
});

test('a long-poll Fetch over two owners answers when one has data, without waiting for the idle one', async () => {
  const h = await harness();
  const fetchAnswer = (body: Struct, withData: boolean): Struct => {
    const topics = body['topics'] as Array<{ topicId: string; partitions: Array<{ partition: number }> }>;
    return {
      throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [],
      responses: topics.map((t) => ({
        topic: '', topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partition, errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1,
          records: withData ? encodeRecordBatch({ baseOffset: 9n, records: [{ value: Buffer.from('late') }] }) : null,
        })),
      })),
    };
  };
  // a stays idle for the whole wait; b gets data 200 ms into the long poll.
  h.a.handler = (_apiKey, body) => new Promise((resolve) => setTimeout(() => resolve(fetchAnswer(body, false)), body['maxWaitMs'] as number));
  h.b.handler = (_apiKey, body) => {
    const waitMs = body['maxWaitMs'] as number;
    return waitMs === 0 ? fetchAnswer(body, false) : new Promise((resolve) => setTimeout(() => resolve(fetchAnswer(body, true)), 200));
  };
  const request = {
    replicaId: -1, maxWaitMs: 5_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: '', topicId: TOPIC_ID, partitions: [0, 1].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 9n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID })) }],
    forgottenTopicsData: [], rackId: '',
  };
  const startedAt = Date.now();
  const answer = await h.send(1, 13, request, 10_000);
  const elapsedMs = Date.now() - startedAt;
  assert.ok(elapsedMs < 2_000, `answered after ${elapsedMs} ms of a 5000 ms long poll`);
  const partitions = (answer['responses'] as Array<{ topicId: string; partitions: Array<{ partitionIndex: number; highWatermark: bigint; records: Buffer | null }> }>)[0];
  assert.equal(partitions?.topicId, TOPIC_ID);
  assert.deepEqual(partitions?.partitions.map((p) => [p.partitionIndex, p.highWatermark, (p.records?.length ?? 0) > 0]).sort(), [[0, 10n, false], [1, 10n, true]]);
  // Each owner got its own partition with the wait split in two phases (0 ms, then the time left).
  const waits = (broker: FakeBroker): number[] => broker.seen.filter((s) => s.apiKey === 1).map((s) => s.body['maxWaitMs'] as number);
  assert.equal(waits(h.b)[0], 0);
  assert.ok((waits(h.b)[1] ?? 0) > 4_000);
  // The client's MaxBytes is shared by the two owners.
  assert.equal(h.a.seen.find((s) => s.apiKey === 1)?.body['maxBytes'], (1 << 20) / 2);
});

test('fetch sessions: the proxy fetches upstream sessionless (epoch -1) and answers an incremental fetch FETCH_SESSION_ID_NOT_FOUND', async () => {
  const h = await harness();
  const quiet = (body: Struct): Struct => ({
    throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [],
    responses: (body['topics'] as Array<{ topicId: string; partitions: Array<{ partition: number }> }>).map((t) => ({
      topic: '', topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: 0, highWatermark: 1n, lastStableOffset: 1n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records: null })),
    })),
  });
  h.a.handler = (_apiKey, body) => quiet(body);
  h.b.handler = (_apiKey, body) => quiet(body);
  const request = (partitions: number[], sessionId: number, sessionEpoch: number): Struct => ({
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: [{ topic: '', topicId: TOPIC_ID, partitions: partitions.map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 1n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID })) }],
    forgottenTopicsData: [], rackId: '',
  });
  const sessionFields = (broker: FakeBroker): number[][] => broker.seen.filter((s) => s.apiKey === 1).map((s) => [s.body['sessionId'] as number, s.body['sessionEpoch'] as number]);
  // One owner (the client's frame is forwarded as it is) and two owners (split): both go upstream sessionless.
  const one = await h.send(1, 13, request([0], 0, 0));
  assert.equal(one['sessionId'], 0);
  const two = await h.send(1, 13, request([0, 1], 555, 0));
  assert.equal(two['sessionId'], 0);
  assert.ok(sessionFields(h.a).length >= 2 && sessionFields(h.b).length >= 1);
  for (const fields of [...sessionFields(h.a), ...sessionFields(h.b)]) assert.deepEqual(fields, [0, -1]);
  // An incremental fetch names a session the proxy never handed out: no broker sees it.
  const before = h.a.count(1) + h.b.count(1);
  const incremental = await h.send(1, 13, request([0], 555, 1));
  assert.equal(incremental['errorCode'], ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal(h.a.count(1) + h.b.count(1), before);
});

test('ListGroups asks every broker and merges', async () => {
  const h = await harness();
  h.a.handler = () => ({ errorCode: 0, groups: [{ groupId: 'ga', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }] });
  h.b.handler = () => ({ errorCode: 0, groups: [{ groupId: 'gb', protocolType: 'consumer', groupState: 'Empty', groupType: 'classic' }] });
  const answer = await h.send(16, 4, { statesFilter: [] });
  assert.deepEqual((answer['groups'] as Array<{ groupId: string }>).map((g) => g.groupId).sort(), ['ga', 'gb']);
});

test('a slow owner does not hold a multi-owner Fetch; late and read-ahead answers are served on the next Fetch, nothing fetched twice', async () => {
  const h = await harness();
  const answerFor = (body: Struct, value: string): Struct => {
    const topics = body['topics'] as Array<{ topicId: string; partitions: Array<{ partition: number; fetchOffset: bigint }> }>;
    return {
      throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [],
      responses: topics.map((t) => ({
        topic: '', topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partition, errorCode: 0, highWatermark: 50n, lastStableOffset: 50n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1,
          records: encodeRecordBatch({ baseOffset: p.fetchOffset, records: [{ value: Buffer.from(`${value}@${p.fetchOffset}`) }] }),
        })),
      })),
    };
  };
  h.a.handler = (_apiKey, body) => answerFor(body, 'a');
  h.b.handler = (_apiKey, body) => new Promise((resolve) => setTimeout(() => resolve(answerFor(body, 'b')), 400));
  const fetch = (offsetA: bigint, offsetB: bigint) => h.send(1, 13, {
    replicaId: -1, maxWaitMs: 3_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: '', topicId: TOPIC_ID, partitions: [[0, offsetA], [1, offsetB]].map(([partition, fetchOffset]) => ({ partition: Number(partition), currentLeaderEpoch: -1, fetchOffset: BigInt(fetchOffset ?? 0n), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID })) }],
    forgottenTopicsData: [], rackId: '',
  }, 10_000);
  const withRecords = (answer: Struct): number[] =>
    (answer['responses'] as Array<{ partitions: Array<{ partitionIndex: number; records: Buffer | null }> }>).flatMap((t) => t.partitions).filter((p) => (p.records?.length ?? 0) > 0).map((p) => p.partitionIndex).sort();

  const fetchedAt = (broker: FakeBroker, offset: bigint): number =>
    broker.seen.filter((x) => x.apiKey === 1).flatMap((x) => (x.body['topics'] as Array<{ partitions: Array<{ fetchOffset: bigint }> }>).flatMap((t) => t.partitions)).filter((p) => p.fetchOffset === offset).length;

  let startedAt = Date.now();
  const first = await fetch(10n, 20n);
  assert.ok(Date.now() - startedAt < 300, `the first answer came after ${Date.now() - startedAt} ms, not after the slow owner's 400`);
  assert.deepEqual(withRecords(first), [0]);
  await new Promise((resolve) => setTimeout(resolve, 600));
  // Read-ahead: the offset after partition 0's answer was fetched before the client asked for it.
  assert.equal(fetchedAt(h.a, 11n), 1);
  startedAt = Date.now();
  const second = await fetch(11n, 20n);
  assert.ok(Date.now() - startedAt < 300, 'the kept answer of the slow owner is served at once');
  // Both kept answers: the slow owner's late one and partition 0's read-ahead.
  assert.deepEqual(withRecords(second), [0, 1]);
  assert.equal(fetchedAt(h.b, 20n), 1, 'partition 1 at offset 20 was fetched from its owner once');
  assert.equal(fetchedAt(h.a, 10n), 1);
  assert.equal(fetchedAt(h.a, 11n), 1, 'partition 0 at offset 11 was fetched once, ahead of the client');
});

test('virtual brokers: leaders go round-robin per topic from a name-hash start, coordinators by key hash; same answers from any proxy', () => {
  // FNV-1a 32-bit reference values: the mapping must not change between versions (proxies of two versions behind one Service).
  assert.equal(stableHash(''), 0x811c9dc5);
  assert.equal(stableHash('a'), 0xe40c292c);
  assert.equal(stableHash('foobar'), 0xbf9cf968);
  const one = new ProxyIdentity('p', 1, 9092);
  assert.deepEqual([0, 1, 2, 7].map((p) => one.leaderOf('orders', p)), [0, 0, 0, 0]);
  assert.equal(one.coordinatorOf('group'), 0);
  assert.deepEqual(one.brokers(), [{ nodeId: 0, host: 'p', port: 9092 }]);
  const three = new ProxyIdentity('p', 3, 9092);
  const again = new ProxyIdentity('p', 3, 9092);
  const leaders = [0, 1, 2, 3, 4, 5].map((p) => three.leaderOf('orders', p));
  assert.deepEqual(leaders, [0, 1, 2, 3, 4, 5].map((p) => again.leaderOf('orders', p)));
  for (let p = 1; p < 6; p++) assert.equal(leaders[p], ((leaders[0] ?? 0) + p) % 3, 'consecutive partitions on consecutive virtual brokers');
  assert.deepEqual([0, 1, 2].map((b) => leaders.filter((l) => l === b).length), [2, 2, 2]);
  // Many one-partition topics spread too.
  const counts = [0, 0, 0];
  for (let t = 0; t < 300; t++) counts[three.leaderOf(`topic-${t}`, 0)]! += 1;
  for (const count of counts) assert.ok(count > 60, `one-partition topics spread: ${counts.join(',')}`);
  assert.equal(three.coordinatorOf('group-a'), stableHash('group-a') % 3);
  assert.deepEqual(three.brokers().map((b) => `${b.nodeId}@${b.host}:${b.port}`), ['0@p:9092', '1@p:9093', '2@p:9094']);
  // Listen port 0 (tests): the bound ports are advertised.
  const bound = new ProxyIdentity('p', 2, 0);
  bound.listening([4000, 5000]);
  assert.deepEqual(bound.brokers().map((b) => b.port), [4000, 5000]);
  assert.throws(() => new ProxyIdentity('p', 0, 9092), RangeError);
});

test('virtual brokers: Metadata, DescribeCluster and FindCoordinator name N brokers; leaders do not follow real ownership; every listener answers', async () => {
  const h = await harness(3);
  assert.equal(h.ports.length, 3);
  const metadataOf = async (client: WireClient): Promise<Struct> =>
    (await client.send(3, 12, { topics: [{ topicId: ZERO_UUID, name: 't' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false } as never)) as unknown as Struct;
  const leadersOf = (metadata: Struct): Array<[number, number, number[]]> =>
    ((metadata['topics'] as Array<{ partitions: Array<{ partitionIndex: number; leaderId: number; replicaNodes: number[] }> }>)[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes]);
  const expected = [0, 1].map((p): [number, number, number[]] => [p, h.identity.leaderOf('t', p), [h.identity.leaderOf('t', p)]]);
  assert.notEqual(expected[0]?.[1], expected[1]?.[1], 'two partitions of one topic on two virtual brokers');
  for (const port of h.ports) {
    const client = await WireClient.connect('127.0.0.1', port);
    closers.push(() => client.close());
    const metadata = await metadataOf(client);
    assert.deepEqual((metadata['brokers'] as Array<{ nodeId: number; host: string; port: number }>).map((x) => `${x.nodeId}@${x.host}:${x.port}`), ['0@proxy.example:9092', '1@proxy.example:9093', '2@proxy.example:9094']);
    assert.equal(metadata['controllerId'], 0);
    assert.deepEqual(leadersOf(metadata), expected);
    // Any listener serves partitioned requests for any partition (routing is per partition).
    h.a.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
    h.b.handler = (_apiKey, body, broker) => produceAnswer(body, broker);
    const produced = (await client.send(0, 9, produceBody(-1n, [0, 1]) as never)) as unknown as Struct;
    assert.deepEqual(partitionsOf(produced), [[0, 0, 100n], [1, 0, 101n]]);
  }
  // A real ownership move changes nothing clients see.
  h.state.owners = [1, 0];
  h.state.epochs = [6, 8];
  const client = await WireClient.connect('127.0.0.1', h.ports[2] ?? 0);
  closers.push(() => client.close());
  assert.deepEqual(leadersOf(await metadataOf(client)), expected);

  h.a.handler = () => ({ throttleTimeMs: 0, errorCode: 0, errorMessage: null, clusterId: 'fake', controllerId: 0, brokers: [], clusterAuthorizedOperations: -2147483648 });
  h.b.handler = h.a.handler;
  const cluster = await h.send(60, 0, { includeClusterAuthorizedOperations: false });
  assert.deepEqual((cluster['brokers'] as Array<{ brokerId: number; port: number }>).map((x) => [x.brokerId, x.port]), [[0, 9092], [1, 9093], [2, 9094]]);
  for (const group of ['g', 'orders-consumers', 'x']) {
    const node = h.identity.coordinatorOf(group);
    const old = await h.send(10, 3, { key: group, keyType: 0 });
    assert.deepEqual([old['nodeId'], old['host'], old['port']], [node, 'proxy.example', 9092 + node]);
  }
  const batched = await h.send(10, 4, { keyType: 0, coordinatorKeys: ['g', 'orders-consumers', 'x'] });
  assert.deepEqual(
    (batched['coordinators'] as Array<{ key: string; nodeId: number; port: number }>).map((c) => [c.key, c.nodeId, c.port]),
    ['g', 'orders-consumers', 'x'].map((key) => [key, h.identity.coordinatorOf(key), 9092 + h.identity.coordinatorOf(key)]),
  );
});

test('virtual brokers: KIP-951 leader hints name the partition\'s virtual broker and its endpoint, never a real broker', async () => {
  const h = await harness(3);
  const refuse = (body: Struct, broker: FakeBroker): Struct => {
    const answer = produceAnswer(body, broker, () => ErrorCode.NOT_LEADER_OR_FOLLOWER);
    for (const topic of answer['responses'] as Array<{ partitionResponses: Struct[] }>) {
      for (const partition of topic.partitionResponses) partition['currentLeader'] = { leaderId: 1 - broker.nodeId, leaderEpoch: 9 };
    }
    const other = h.state.brokers[1 - broker.nodeId];
    answer['nodeEndpoints'] = [{ nodeId: 1 - broker.nodeId, host: '127.0.0.1', port: other?.port ?? 0, rack: null }];
    return answer;
  };
  h.a.handler = (_apiKey, body, broker) => refuse(body, broker);
  h.b.handler = (_apiKey, body, broker) => refuse(body, broker);
  const answer = await h.send(0, 10, produceBody(-1n, [0, 1]));
  const hints = (answer['responses'] as Array<{ partitionResponses: Array<{ index: number; errorCode: number; currentLeader: { leaderId: number; leaderEpoch: number } }> }>)
    .flatMap((t) => t.partitionResponses.map((p) => [p.index, p.errorCode, p.currentLeader.leaderId, p.currentLeader.leaderEpoch]))
    .sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0));
  const leaderOf = (p: number): number => h.identity.leaderOf('t', p);
  assert.deepEqual(hints, [[0, ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderOf(0), 9], [1, ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderOf(1), 9]]);
  const endpoints = (answer['nodeEndpoints'] as Array<{ nodeId: number; host: string; port: number }>).map((e) => [e.nodeId, e.host, e.port]);
  assert.deepEqual(endpoints, [...new Set([leaderOf(0), leaderOf(1)])].sort((x, y) => x - y).map((n) => [n, 'proxy.example', 9092 + n]));
});
