/**
 * Fetch sessions (KIP-227) on the wire against a real broker process: a full fetch gets a session, and
 * incremental fetches answer only the partitions that changed; a session outlives its connection (as in
 * Kafka); refusals (unknown session, wrong epoch); the cache bound from
 * KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS, also reported by DescribeConfigs and /metrics.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import type { FetchRequest, FetchResponse } from '../../src/protocol/messages/index.ts';
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from '../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';

const TOPIC = 'sessions';
const PARTITIONS = 6;
const SLOTS = 2;

let broker: BrokerProcess;
let client: WireClient;
let topicId: string;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS: String(SLOTS) } });
  client = await WireClient.connect(broker.host, broker.port);
  const created = await client.send(19, 7, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
  topicId = created.topics[0]?.topicId as string;
  for (let p = 0; p < PARTITIONS; p++) await produce(p, `first-${p}`);
});

after(async () => {
  client?.close();
  await broker?.stop();
});

async function produce(partition: number, value: string): Promise<void> {
  const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: encodeRecordBatch({ records: [{ value }] }) }] }] });
  assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
}

type Partition = FetchRequest['topics'][number]['partitions'][number];

function at(partition: number, fetchOffset: bigint): Partition {
  return { partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' };
}

/** Fetch v13 (topics by id); `partitions` are the ones this request names. */
function fetch(via: WireClient, sessionId: number, sessionEpoch: number, partitions: Partition[], options: { maxWaitMs?: number; forget?: number[] } = {}): Promise<FetchResponse> {
  return via.send(1, 13, {
    replicaId: -1, maxWaitMs: options.maxWaitMs ?? 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: partitions.length === 0 ? [] : [{ topic: '', topicId, partitions }],
    forgottenTopicsData: options.forget === undefined ? [] : [{ topic: '', topicId, partitions: options.forget }],
    rackId: '',
  }) as Promise<FetchResponse>;
}

/** [partition, values] of every partition in the answer, by partition. */
function answered(response: FetchResponse): [number, string[]][] {
  return response.responses
    .flatMap((t) => t.partitions.map((p): [number, string[]] => [p.partitionIndex, valuesOf(p.records)]))
    .sort((a, b) => a[0] - b[0]);
}

function valuesOf(records: unknown): string[] {
  if (!(records instanceof Buffer) || records.length === 0) return [];
  return splitBatches(records).batches.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

const all = (offset: bigint): Partition[] => Array.from({ length: PARTITIONS }, (_, p) => at(p, offset));

test('a full fetch gets a session; incremental fetches carry only what changed', async () => {
  const full = await fetch(client, 0, 0, all(0n));
  assert.equal(full.errorCode, ErrorCode.NONE);
  assert.notEqual(full.sessionId, 0, 'the broker handed out a session');
  assert.equal(answered(full).length, PARTITIONS);
  const session = full.sessionId;

  // The consumer moves every partition past its record: nothing changed since, so nothing comes back.
  const moved = await fetch(client, session, 1, all(1n));
  assert.equal(moved.sessionId, session);
  assert.deepEqual(answered(moved), []);
  const idle = await fetch(client, session, 2, []);
  assert.deepEqual(answered(idle), [], 'an empty incremental fetch of a quiet session is an empty answer');

  // New data on partitions 1 and 4: a long poll returns exactly those two.
  const poll = fetch(client, session, 3, [], { maxWaitMs: 5_000 });
  const other = await WireClient.connect(broker.host, broker.port);
  try {
    // Produced over another connection: the long poll holds the first one.
    const produced = await other.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [1, 4].map((index) => ({ index, records: encodeRecordBatch({ records: [{ value: `second-${index}` }] }) })) }] });
    assert.deepEqual(produced.responses[0]?.partitionResponses.map((p) => p.errorCode), [0, 0]);
    let got = answered(await poll);
    if (got.length < 2) got = [...got, ...answered(await fetch(client, session, 4, []))].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(got.map(([p]) => p), [1, 4]);
    assert.deepEqual(got.flatMap(([, values]) => values), ['second-1', 'second-4']);

  } finally {
    other.close();
  }
});

test('refusals: an unknown session gets FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_FETCH_SESSION_EPOCH; epoch -1 closes', async () => {
  const unknown = await fetch(client, 987_654, 1, []);
  assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  const session = (await fetch(client, 0, 0, all(1n))).sessionId;
  assert.notEqual(session, 0);
  assert.equal((await fetch(client, session, 2, [])).errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
  const other = await WireClient.connect(broker.host, broker.port);
  try {
    assert.equal((await fetch(other, session, 1, [])).errorCode, ErrorCode.NONE, 'another connection uses the same session');
  } finally {
    other.close();
  }
  const closed = await fetch(client, session, -1, all(1n));
  assert.equal(closed.sessionId, 0);
  assert.equal(answered(closed).length, PARTITIONS, 'a sessionless full answer');
  assert.equal((await fetch(client, session, 2, [])).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
});

test(`the cache holds ${SLOTS} sessions (KAFSCALE_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS); DescribeConfigs reports the bound`, async () => {
  // Earlier tests may hold sessions; fill the cache with young ones, then one more finds no slot.
  const ids: number[] = [];
  for (let i = 0; i < SLOTS + 1; i++) ids.push((await fetch(client, 0, 0, all(1n))).sessionId);
  assert.equal(ids.at(-1), 0, 'no slot: sessionless answer (young sessions are never evicted)');
  assert.ok(ids.slice(0, SLOTS).some((id) => id !== 0));
  const configs = await client.send(32, 4, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: ['max.incremental.fetch.session.cache.slots'] }], includeSynonyms: false, includeDocumentation: false });
  assert.equal(configs.results[0]?.configs.find((c) => c.name === 'max.incremental.fetch.session.cache.slots')?.value, String(SLOTS));
  const metrics = await (await globalThis.fetch(`http://127.0.0.1:${broker.opsPort}/metrics`)).text();
  assert.match(metrics, new RegExp(`^kafscale_fetch_sessions(\\{[^}]*\\})? ${SLOTS}$`, 'm'), 'the cache is full');
  assert.match(metrics, new RegExp(`^kafscale_fetch_session_partitions(\\{[^}]*\\})? ${SLOTS * PARTITIONS}$`, 'm'));
  assert.match(metrics, /^kafscale_fetch_session_evictions_total(\{[^}]*\})? 0$/m);
});
