/**
 * Batched acquisition (LogService.acquireMany) on a real etcd: never-owned partitions are claimed, read
 * and given their epoch start in packed txns (a range op inside the claim txn), partitions owned before
 * are taken over from their committed end, and an etcd outage fails the batch cleanly until etcd answers.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { MetaKeys } from '../../src/services/cluster/meta-keys.ts';
import { decodeJson, type EpochStart } from '../../src/services/log/log-entry.ts';
import { LogService } from '../../src/services/log/log-service.ts';
import { EtcdMetadataStore } from '../../src/storage/meta/etcd-metadata-store.ts';
import type { MetadataStore } from '../../src/storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../src/storage/object/memory-object-store.ts';
import { startEtcdServer, type EtcdServer } from '../helpers/etcd-server.ts';
import { FaultyMetadataStore, batchOf, isAcquire, silentLog } from '../helpers/log-faults.ts';

let server: EtcdServer;
before(async () => {
  server = await startEtcdServer();
});
after(() => server.close());

const objects = new MemoryObjectStore();

async function connect(t: TestContext): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace: `/batch-acquire-${randomUUID()}/`, requestTimeoutMs: 1_000 });
  t.after(() => store.close());
  return store;
}

async function open(t: TestContext, store: MetadataStore, brokerId: number): Promise<LogService> {
  const service = await LogService.open({ store, objects, log: silentLog, brokerId, lease: await store.grantLease(30_000), namespace: 'ns', flush: { lingerMs: 0 }, merge: false });
  t.after(() => service.close());
  return service;
}

const refs = (topicId: string, count: number): Array<{ topicId: string; partition: number }> => Array.from({ length: count }, (_, partition) => ({ topicId, partition }));

async function history(store: MetadataStore, topicId: string, partition: number): Promise<EpochStart[]> {
  return decodeJson<EpochStart[]>((await store.get(MetaKeys.partitionEpochHistory(topicId, partition)))!.value);
}

test('etcd: 100 never-owned partitions in four packed txns, then taken over by a second broker from their committed ends', async (t) => {
  const etcd = await connect(t);
  const faulty = new FaultyMetadataStore(etcd);
  const first = await open(t, faulty.store, 1);
  const topicId = randomUUID();
  const results = await Promise.all(first.acquireMany(refs(topicId, 100)));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE));
  assert.equal(faulty.txns.filter(isAcquire).length, 4);
  assert.equal(faulty.txns.length, 4, 'claim, read and epoch start in the same txns');
  assert.deepEqual(await history(etcd, topicId, 99), [{ epoch: 1, startOffset: 0 }]);
  const appended = await first.append({ id: topicId, configs: {} }, 7, [batchOf('a', 4)]);
  assert.deepEqual([appended.errorCode, appended.baseOffset], [ErrorCode.NONE, 0]);
  await first.close();
  const second = await open(t, etcd, 2);
  const taken = await Promise.all(second.acquireMany(refs(topicId, 100)));
  assert.ok(taken.every((r) => r.errorCode === ErrorCode.NONE));
  assert.equal(second.owned(topicId, 7)?.epoch, 2);
  assert.deepEqual(await history(etcd, topicId, 7), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 4 }]);
  const next = await second.append({ id: topicId, configs: {} }, 7, [batchOf('b', 1)]);
  assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 4]);
});

test('etcd: an outage during a batch fails every partition cleanly; the batch acquires all once etcd answers', async (t) => {
  const etcd = await connect(t);
  const service = await open(t, etcd, 1);
  const topicId = randomUUID();
  await server.stop();
  try {
    const failed = await Promise.allSettled(service.acquireMany(refs(topicId, 20)));
    assert.ok(failed.every((r) => r.status === 'rejected'));
    assert.equal(service.ownedLogs().length, 0);
  } finally {
    await server.restart();
  }
  let results: Array<PromiseSettledResult<unknown>> = [];
  const deadline = Date.now() + 10_000;
  do {
    results = await Promise.allSettled(service.acquireMany(refs(topicId, 20)));
  } while (results.some((r) => r.status === 'rejected') && Date.now() < deadline);
  assert.equal(service.ownedLogs().filter((l) => l.status === 'active').length, 20);
  for (let p = 0; p < 20; p++) {
    // Epoch 1 unless a claim applied while its answer was lost (then our own key was taken over).
    const epoch = service.owned(topicId, p)!.epoch;
    assert.equal((await history(etcd, topicId, p)).at(-1)?.epoch, epoch);
  }
});
