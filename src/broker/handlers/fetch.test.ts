import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/messages/index.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/index.ts';
import { LogService } from '../../services/log/log-service.ts';
import { ALLOW_ALL } from '../../services/security/acl-authorizer.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import type { ByteRange, ObjectStore } from '../../storage/object/object-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import type { RequestContext } from '../broker-services.ts';
import { FetchSessionCache } from '../fetch-session-cache.ts';
import { FETCH_READ_CONCURRENCY, fetchApi } from './fetch.ts';
import { listOffsetsApi } from './list-offsets.ts';

const log = pino({ level: 'silent' });
const ZERO = '00000000-0000-0000-0000-000000000000';

/** The reader broker's view of the shared object store: GETs can be slowed and one object made to fail. */
class ReaderObjects {
  readonly failing = new Set<string>();
  delayMs = 0;
  inflight = 0;
  maxInflight = 0;
  gets = 0;
  /** Object keys GET, in order. */
  readonly keys: string[] = [];
  readonly store: ObjectStore;

  constructor(base: ObjectStore) {
    this.store = {
      put: (key, body, options) => base.put(key, body, options),
      head: (key) => base.head(key),
      list: (prefix) => base.list(prefix),
      delete: (keys) => base.delete(keys),
      close: async () => {},
      get: async (key: string, options?: { readonly range?: ByteRange; readonly signal?: AbortSignal }) => {
        this.gets++;
        this.keys.push(key);
        this.inflight++;
        this.maxInflight = Math.max(this.maxInflight, this.inflight);
        try {
          if (this.delayMs > 0) await sleep(this.delayMs);
          if (this.failing.has(key)) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', `injected: GET ${key} fails`, { retriable: true });
          return await base.get(key, options);
        } finally {
          this.inflight--;
        }
      },
    };
  }
}

interface Cluster {
  topicId: string;
  /** The WAL object holding each partition's one batch (one flush per partition). */
  objectOf: string[];
  objects: ReaderObjects;
  context: RequestContext;
  /** The owner broker: appends become visible to the reader through the metadata store. */
  writer: LogService;
  sessions: FetchSessionCache;
}

/**
 * A writer broker fills `partitions` partitions (one WAL object each); a second LogService on the same
 * metadata and object stores reads them the way a non-owner broker does: from the object store, cold.
 */
async function cluster(t: TestContext, partitions: number): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-fetch-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const puts: string[] = [];
  const base = new MemoryObjectStore({ beforeOperation: (operation, key) => void (operation === 'put' ? puts.push(key) : undefined) });
  const writer = await LogService.open({ store, objects: base, log, brokerId: 1, lease: await store.grantLease(10_000), namespace: 'ns', flush: { lingerMs: 0 }, merge: false });
  t.after(() => writer.close());
  const topicId = randomUUID();
  const objectOf: string[] = [];
  for (let p = 0; p < partitions; p++) {
    assert.equal((await writer.acquire(topicId, p)).errorCode, ErrorCode.NONE);
    const before = puts.length;
    const appended = await writer.append({ id: topicId, configs: {} }, p, [encodeRecordBatch({ records: [{ value: `p${p}`, timestamp: 1_000n }] })]);
    assert.equal(appended.errorCode, ErrorCode.NONE);
    assert.equal(puts.length, before + 1, 'one WAL object per partition');
    objectOf.push(puts.at(-1) as string);
  }
  const objects = new ReaderObjects(base);
  const reader = await LogService.open({ store, objects: objects.store, log, brokerId: 2, lease: await store.grantLease(10_000), namespace: 'ns', merge: false });
  t.after(() => reader.close());
  const topic = { name: 'orders', id: topicId, partitions, configs: {}, createdMs: 0 };
  const sessions = new FetchSessionCache({ maxSlots: 10 });
  const context = {
    apiKey: 1,
    apiVersion: 12,
    correlationId: 1,
    clientId: null,
    log,
    signal: new AbortController().signal,
    services: {
      topics: { get: (name: string) => (name === topic.name ? topic : undefined), getById: (id: string) => (id === topic.id ? topic : undefined) },
      logs: reader,
      authorizer: ALLOW_ALL,
      fetchSessions: sessions,
    },
    principal: 'User:ANONYMOUS',
    listenerName: 'PLAINTEXT',
  } as unknown as RequestContext;
  return { topicId, objectOf, objects, context, writer, sessions };
}

function fetchRequest(partitions: number, overrides: Partial<FetchRequest> = {}): FetchRequest {
  return {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: 'orders',
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: Array.from({ length: partitions }, (_, p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '' })),
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
    ...overrides,
  } as unknown as FetchRequest;
}

function valuesOf(records: unknown): string[] {
  return (records as Buffer[]).flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString() ?? ''));
}

describe('Fetch', () => {
  test('one partition whose object cannot be read gets its own error code; the others still return their data', async (t) => {
    const c = await cluster(t, 4);
    c.objects.failing.add(c.objectOf[2] as string);
    const response = (await fetchApi.handle(fetchRequest(4), c.context)) as FetchResponse;
    assert.equal(response.errorCode, ErrorCode.NONE, 'no top-level error');
    const partitions = response.responses[0]?.partitions ?? [];
    assert.deepEqual(partitions.map((p) => [p.partitionIndex, p.errorCode]), [[0, 0], [1, 0], [2, ErrorCode.KAFKA_STORAGE_ERROR], [3, 0]]);
    assert.deepEqual(partitions.map((p) => valuesOf(p.records)), [['p0'], ['p1'], [], ['p3']]);
    assert.deepEqual(partitions.map((p) => p.highWatermark), [1n, 1n, -1n, 1n]);

    // The fault clears: the same partition reads again.
    c.objects.failing.clear();
    const again = (await fetchApi.handle(fetchRequest(4), c.context)) as FetchResponse;
    assert.deepEqual(again.responses[0]?.partitions.map((p) => valuesOf(p.records)), [['p0'], ['p1'], ['p2'], ['p3']]);
  });

  test(`a cold fetch of many partitions issues its GETs concurrently, at most ${FETCH_READ_CONCURRENCY} at a time`, async (t) => {
    const partitions = 2 * FETCH_READ_CONCURRENCY;
    const c = await cluster(t, partitions);
    c.objects.delayMs = 40;
    const started = performance.now();
    const response = (await fetchApi.handle(fetchRequest(partitions), c.context)) as FetchResponse;
    const elapsedMs = performance.now() - started;
    assert.deepEqual(response.responses[0]?.partitions.map((p) => valuesOf(p.records)[0]), Array.from({ length: partitions }, (_, p) => `p${p}`));
    assert.equal(c.objects.gets, partitions, 'one GET per partition');
    assert.equal(c.objects.maxInflight, FETCH_READ_CONCURRENCY);
    // One after another this would take partitions × 40 ms = 640 ms.
    assert.ok(elapsedMs < (partitions * 40) / 2, `took ${elapsedMs.toFixed(0)} ms`);
  });

  test('the response MaxBytes still applies in request order, and its first batch is returned whole (KIP-74)', async (t) => {
    const c = await cluster(t, 3);
    const one = (await fetchApi.handle(fetchRequest(3, { maxBytes: 1 }), c.context)) as FetchResponse;
    assert.deepEqual(one.responses[0]?.partitions.map((p) => valuesOf(p.records)), [['p0'], [], []]);
    assert.deepEqual(one.responses[0]?.partitions.map((p) => p.highWatermark), [1n, 1n, 1n], 'partitions past the budget still report their offsets');
  });
});

/** The partitions of a Fetch answer: [index, values, high watermark]. */
function answered(response: FetchResponse): [number, string[], bigint][] {
  return response.responses.flatMap((t) => t.partitions.map((p): [number, string[], bigint] => [p.partitionIndex, valuesOf(p.records), p.highWatermark]));
}

function partitionAt(partition: number, fetchOffset: bigint): FetchRequest['topics'][number]['partitions'][number] {
  return { partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '' } as FetchRequest['topics'][number]['partitions'][number];
}

describe('Fetch long polls', () => {
  test('a long poll ends at its wait time, on new data, or when the connection closes, and leaves no listener on the connection', async (t) => {
    const c = await cluster(t, 1);
    const connection = new AbortController();
    const context = { ...c.context, signal: connection.signal } as RequestContext;
    const caughtUpAt = (offset: bigint, maxWaitMs: number) => fetchRequest(0, { maxWaitMs, topics: [{ topic: 'orders', topicId: ZERO, partitions: [partitionAt(0, offset)] }] } as Partial<FetchRequest>);
    const listeners = () => getEventListeners(connection.signal, 'abort').length;

    let started = performance.now();
    assert.deepEqual(answered((await fetchApi.handle(caughtUpAt(1n, 150), context)) as FetchResponse), [[0, [], 1n]]);
    assert.ok(performance.now() - started >= 140, 'answered at its wait time');
    assert.equal(listeners(), 0);

    const poll = fetchApi.handle(caughtUpAt(1n, 10_000), context) as Promise<FetchResponse>;
    await sleep(50);
    assert.equal(listeners(), 1, 'the waiting poll listens to the connection');
    assert.equal((await c.writer.append({ id: c.topicId, configs: {} }, 0, [encodeRecordBatch({ records: [{ value: 'late', timestamp: 2_000n }] })])).errorCode, ErrorCode.NONE);
    assert.deepEqual(answered(await poll), [[0, ['late'], 2n]]);
    assert.equal(listeners(), 0);

    const closing = Promise.resolve(fetchApi.handle(caughtUpAt(2n, 10_000), context)).catch(() => null);
    await sleep(50);
    started = performance.now();
    connection.abort();
    await closing;
    assert.ok(performance.now() - started < 1_000, 'the wait ends with the connection');
    assert.equal(listeners(), 0);
  });
});

describe('Fetch sessions (KIP-227)', () => {
  test('a full fetch with epoch 0 creates a session; incremental fetches answer only partitions with something new', async (t) => {
    const c = await cluster(t, 4);
    const full = (await fetchApi.handle(fetchRequest(4, { sessionEpoch: 0 }), c.context)) as FetchResponse;
    assert.notEqual(full.sessionId, 0, 'a session was created');
    assert.deepEqual(answered(full), [[0, ['p0'], 1n], [1, ['p1'], 1n], [2, ['p2'], 1n], [3, ['p3'], 1n]]);
    const session = full.sessionId;

    // Epoch 1, nothing sent: the session still fetches offset 0 everywhere, so every partition has records again.
    const same = (await fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 1, topics: [] }), c.context)) as FetchResponse;
    assert.equal(same.sessionId, session);
    assert.deepEqual(answered(same).map(([p]) => p).sort(), [0, 1, 2, 3]);

    // Epoch 2: the client moved every partition to offset 1 (caught up): nothing to say.
    const caughtUp = fetchRequest(0, { sessionId: session, sessionEpoch: 2, topics: [{ topic: 'orders', topicId: ZERO, partitions: [0, 1, 2, 3].map((p) => partitionAt(p, 1n)) }] } as Partial<FetchRequest>);
    const quiet = (await fetchApi.handle(caughtUp, c.context)) as FetchResponse;
    assert.equal(quiet.errorCode, ErrorCode.NONE);
    assert.deepEqual(answered(quiet), [], 'no partition has anything new');

    // Epoch 3, a long poll with no partitions sent: new data on partition 2 ends it, and only partition 2 is answered.
    const poll = fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 3, topics: [], maxWaitMs: 5_000 }), c.context) as Promise<FetchResponse>;
    await sleep(50);
    assert.equal((await c.writer.append({ id: c.topicId, configs: {} }, 2, [encodeRecordBatch({ records: [{ value: 'late', timestamp: 2_000n }] })])).errorCode, ErrorCode.NONE);
    const polled = await poll;
    assert.deepEqual(answered(polled), [[2, ['late'], 2n]]);

    // Epoch 4: partition 2 moves on; the others stay quiet.
    const after = fetchRequest(0, { sessionId: session, sessionEpoch: 4, topics: [{ topic: 'orders', topicId: ZERO, partitions: [partitionAt(2, 2n)] }] } as Partial<FetchRequest>);
    assert.deepEqual(answered((await fetchApi.handle(after, c.context)) as FetchResponse), []);
  });

  test('an unknown session, a wrong epoch and a topic-id mismatch are refused; epoch -1 closes the session', async (t) => {
    const c = await cluster(t, 2);
    const unknown = (await fetchApi.handle(fetchRequest(0, { sessionId: 12345, sessionEpoch: 1, topics: [] }), c.context)) as FetchResponse;
    assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

    const session = ((await fetchApi.handle(fetchRequest(2, { sessionEpoch: 0 }), c.context)) as FetchResponse).sessionId;
    const stale = (await fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 5, topics: [] }), c.context)) as FetchResponse;
    assert.equal(stale.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    assert.equal(stale.sessionId, 0);
    const byIds = (await fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 1, topics: [] }), { ...c.context, apiVersion: 13 })) as FetchResponse;
    assert.equal(byIds.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 'a session made by names cannot be used by topic id');
    const ok = (await fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 1, topics: [] }), c.context)) as FetchResponse;
    assert.equal(ok.errorCode, ErrorCode.NONE, 'refused requests did not advance the epoch');

    const closing = (await fetchApi.handle(fetchRequest(2, { sessionId: session, sessionEpoch: -1 }), c.context)) as FetchResponse;
    assert.equal(closing.sessionId, 0, 'a sessionless answer');
    assert.equal(answered(closing).length, 2, 'answered as a full fetch');
    assert.equal(c.sessions.get(session), undefined);
    const gone = (await fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: 2, topics: [] }), c.context)) as FetchResponse;
    assert.equal(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  test('a full fetch with epoch 0 naming a session replaces it with a new one', async (t) => {
    const c = await cluster(t, 2);
    const first = ((await fetchApi.handle(fetchRequest(2, { sessionEpoch: 0 }), c.context)) as FetchResponse).sessionId;
    const second = (await fetchApi.handle(fetchRequest(2, { sessionId: first, sessionEpoch: 0 }), c.context)) as FetchResponse;
    assert.notEqual(second.sessionId, 0);
    assert.notEqual(second.sessionId, first);
    assert.equal(c.sessions.get(first), undefined, 'the old session is gone');
    assert.equal(c.sessions.size, 1);
    assert.equal(c.sessions.get(second.sessionId)?.epoch, 1, 'the new session expects epoch 1');
  });

  test('an incremental fetch answers a partition in error every time, and once more when the error clears', async (t) => {
    const c = await cluster(t, 3);
    const session = ((await fetchApi.handle(fetchRequest(3, { sessionEpoch: 0 }), c.context)) as FetchResponse).sessionId;
    const incremental = (epoch: number, partitions: ReturnType<typeof partitionAt>[]) =>
      fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: epoch, topics: partitions.length === 0 ? [] : [{ topic: 'orders', topicId: ZERO, partitions }] } as Partial<FetchRequest>), c.context) as Promise<FetchResponse>;
    const codes = (response: FetchResponse) => response.responses.flatMap((r) => r.partitions.map((p) => [p.partitionIndex, p.errorCode]));
    assert.deepEqual(answered(await incremental(1, [0, 1, 2].map((p) => partitionAt(p, 1n)))), []);
    // Partition 1 asks past its end: OFFSET_OUT_OF_RANGE, in every answer while it lasts.
    assert.deepEqual(codes(await incremental(2, [partitionAt(1, 5n)])), [[1, ErrorCode.OFFSET_OUT_OF_RANGE]]);
    assert.deepEqual(codes(await incremental(3, [])), [[1, ErrorCode.OFFSET_OUT_OF_RANGE]]);
    // Back in range: answered once more (its high watermark was forgotten on the error), then quiet.
    assert.deepEqual(answered(await incremental(4, [partitionAt(1, 1n)])), [[1, [], 1n]]);
    assert.deepEqual(answered(await incremental(5, [])), []);
  });

  test('a sessionless full fetch (epoch -1) creates no session', async (t) => {
    const c = await cluster(t, 2);
    const response = (await fetchApi.handle(fetchRequest(2), c.context)) as FetchResponse;
    assert.equal(response.sessionId, 0);
    assert.equal(c.sessions.size, 0);
  });

  test('forgotten partitions leave the session; a session left empty is closed', async (t) => {
    const c = await cluster(t, 3);
    const session = ((await fetchApi.handle(fetchRequest(3, { sessionEpoch: 0 }), c.context)) as FetchResponse).sessionId;
    const forget = (epoch: number, partitions: number[]) =>
      fetchApi.handle(fetchRequest(0, { sessionId: session, sessionEpoch: epoch, topics: [], forgottenTopicsData: [{ topic: 'orders', topicId: ZERO, partitions }] } as Partial<FetchRequest>), c.context) as Promise<FetchResponse>;
    const one = await forget(1, [0, 2]);
    assert.equal(one.sessionId, session);
    assert.deepEqual(answered(one), [[1, ['p1'], 1n]], 'only partition 1 is left (still at offset 0)');
    const none = await forget(2, [1]);
    assert.equal(none.sessionId, 0, 'the empty session was closed');
    assert.equal(c.sessions.size, 0);
  });

  test('Fetch v13+: sessions key partitions by topic id', async (t) => {
    const c = await cluster(t, 2);
    const v13 = { ...c.context, apiVersion: 13 };
    const topics = [{ topic: '', topicId: c.topicId, partitions: [partitionAt(0, 1n), partitionAt(1, 0n)] }];
    const full = (await fetchApi.handle(fetchRequest(0, { sessionEpoch: 0, topics } as Partial<FetchRequest>), v13)) as FetchResponse;
    assert.notEqual(full.sessionId, 0);
    assert.equal(full.responses[0]?.topicId, c.topicId);
    const next = fetchRequest(0, { sessionId: full.sessionId, sessionEpoch: 1, topics: [{ topic: '', topicId: c.topicId, partitions: [partitionAt(1, 1n)] }] } as Partial<FetchRequest>);
    assert.deepEqual(answered((await fetchApi.handle(next, v13)) as FetchResponse), [], 'both partitions caught up, nothing changed');
    const forget = fetchRequest(0, { sessionId: full.sessionId, sessionEpoch: 2, topics: [], forgottenTopicsData: [{ topic: '', topicId: c.topicId, partitions: [0, 1] }] } as Partial<FetchRequest>);
    assert.equal(((await fetchApi.handle(forget, v13)) as FetchResponse).sessionId, 0);
  });

  test('a full cache answers sessionless', async (t) => {
    const c = await cluster(t, 1);
    const small = { ...c.context, services: { ...c.context.services, fetchSessions: new FetchSessionCache({ maxSlots: 1 }) } };
    assert.notEqual(((await fetchApi.handle(fetchRequest(1, { sessionEpoch: 0 }), small)) as FetchResponse).sessionId, 0);
    const second = (await fetchApi.handle(fetchRequest(1, { sessionEpoch: 0 }), small)) as FetchResponse;
    assert.equal(second.sessionId, 0);
    assert.deepEqual(answered(second), [[0, ['p0'], 1n]], 'still a full answer');
  });
});

describe('ListOffsets', () => {
  test("earliest answers are read hints: the connection's next Fetch reads every hinted partition at once, a monitor's hints cause no GET", async (t) => {
    const c = await cluster(t, 3);
    const earliest = (partitions: number[]): ListOffsetsRequest =>
      ({
        replicaId: -1,
        isolationLevel: 0,
        timeoutMs: 1000,
        topics: [{ name: 'orders', partitions: partitions.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 })) }],
      }) as unknown as ListOffsetsRequest;
    const consumer = { ...c.context, connection: { id: 1 } } as unknown as RequestContext;
    const monitor = { ...c.context, connection: { id: 2 } } as unknown as RequestContext;
    await listOffsetsApi.handle(earliest([0, 1]), { ...consumer, apiKey: 2, apiVersion: 7 });
    await listOffsetsApi.handle(earliest([2]), { ...monitor, apiKey: 2, apiVersion: 7 });
    assert.deepEqual(c.objects.keys, [], 'listing offsets reads nothing');
    const onlyFirst = fetchRequest(0, { topics: [{ topic: 'orders', topicId: ZERO, partitions: [partitionAt(0, 0n)] }] } as Partial<FetchRequest>);
    assert.deepEqual(answered((await fetchApi.handle(onlyFirst, consumer)) as FetchResponse), [[0, ['p0'], 1n]]);
    for (let i = 0; i < 100 && c.objects.keys.length < 2; i++) await sleep(5);
    assert.deepEqual([...c.objects.keys].sort(), [c.objectOf[0], c.objectOf[1]].sort(), 'partition 1 was read with partition 0; the monitored partition 2 not at all');
    const second = fetchRequest(0, { topics: [{ topic: 'orders', topicId: ZERO, partitions: [partitionAt(1, 0n)] }] } as Partial<FetchRequest>);
    assert.deepEqual(answered((await fetchApi.handle(second, consumer)) as FetchResponse), [[1, ['p1'], 1n]]);
    assert.equal(c.objects.keys.length, 2, 'partition 1 came from the hinted read-ahead: no GET of its own');
  });

  test('a by-timestamp lookup whose object cannot be read fails only that partition', async (t) => {
    const c = await cluster(t, 3);
    c.objects.failing.add(c.objectOf[1] as string);
    const request = {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 1000,
      topics: [{ name: 'orders', partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: 0n, maxNumOffsets: 1 })) }],
    } as unknown as ListOffsetsRequest;
    const response = (await listOffsetsApi.handle(request, { ...c.context, apiKey: 2, apiVersion: 7 })) as ListOffsetsResponse;
    assert.deepEqual(response.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset]), [[0, 0, 0n], [1, ErrorCode.KAFKA_STORAGE_ERROR, -1n], [2, 0, 0n]]);
  });
});
