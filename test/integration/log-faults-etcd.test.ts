/**
 * Issue 10 items 2 and 5 end to end on a real etcd: the fault is injected at the exact step by a
 * metadata-store wrapper (a txn that applies and then times out, or applies later), and the outage
 * around it is a real one (the etcd process is stopped and started again).
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { LogService, type TopicRef } from '../../src/services/log/log-service.ts';
import { EtcdMetadataStore } from '../../src/storage/meta/etcd-metadata-store.ts';
import type { MetadataStore } from '../../src/storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../src/storage/object/memory-object-store.ts';
import { startEtcdServer, type EtcdServer } from '../helpers/etcd-server.ts';
import { FaultyMetadataStore, InvariantRecorder, batchOf, isAcquire, onFirstLogCommit, recordsOf, silentLog } from '../helpers/log-faults.ts';

let server: EtcdServer;
before(async () => {
  server = await startEtcdServer();
});
after(() => server.close());

async function connect(t: TestContext): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace: `/log-faults-${randomUUID()}/`, requestTimeoutMs: 1_000 });
  t.after(() => store.close());
  return store;
}

async function open(t: TestContext, store: MetadataStore, objects: MemoryObjectStore, brokerId: number, invariants?: InvariantRecorder, merge = false): Promise<LogService> {
  const service = await LogService.open({
    store, objects, log: silentLog, brokerId, lease: await store.grantLease(30_000), namespace: 'ns', flush: { lingerMs: 0 },
    merge: merge ? { policy: { maxWalEntries: 1 }, intervalMs: 3_600_000 } : false,
    ...(invariants === undefined ? {} : { invariantHook: invariants.hook }),
  });
  t.after(() => service.close());
  return service;
}

test('etcd: an acquire that applied but timed out, then an etcd outage: writable again within a second of etcd answering', async (t) => {
  const faulty = new FaultyMetadataStore(await connect(t));
  const invariants = new InvariantRecorder();
  const service = await open(t, faulty.store, new MemoryObjectStore(), 1, invariants);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  let fired = false;
  faulty.rule = (txn) => {
    if (fired || !isAcquire(txn)) return null;
    fired = true;
    return 'applied-then-timeout';
  };
  await assert.rejects(service.acquire(tp.id, 0), /timeout/);
  await server.stop(); // the owner key (under our live lease) stays; etcd is gone for a while
  await assert.rejects(service.acquire(tp.id, 0));
  await server.restart();
  const answeringAt = Date.now();
  let writableMs = -1;
  // Produce's ensureOwned + a client's retry backoff of 100 ms.
  while (Date.now() - answeringAt < 10_000) {
    const outcome = await service.acquire(tp.id, 0).catch(() => null);
    if (outcome?.errorCode === ErrorCode.NONE && (await service.append(tp, 0, [batchOf('x', 1)])).errorCode === ErrorCode.NONE) {
      writableMs = Date.now() - answeringAt;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.diagnostic(`writable ${writableMs} ms after etcd answered again`);
  assert.ok(writableMs >= 0 && writableMs < 1_000, `writable ${writableMs} ms after the fault cleared`);
  assert.equal(service.owned(tp.id, 0)!.epoch, 2, 'the own key was taken over with the next epoch');
  assert.deepEqual(invariants.violations, []);
});

test('etcd: a commit that times out and applies after its offsets were reassigned and merged is fenced', async (t) => {
  const faulty = new FaultyMetadataStore(await connect(t));
  const objects = new MemoryObjectStore();
  const invariants = new InvariantRecorder();
  const service = await open(t, faulty.store, objects, 1, invariants, true);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [batchOf('p', 1)])).baseOffset, 0);
  faulty.rule = onFirstLogCommit('timeout-then-apply-later');
  assert.equal((await service.append(tp, 0, [batchOf('a', 2)])).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal((await service.append(tp, 0, [batchOf('b', 3)])).baseOffset, 1);
  assert.equal((await service.append(tp, 0, [batchOf('c', 1)])).baseOffset, 4);
  const log = service.owned(tp.id, 0)!;
  assert.equal((await service.merger!.mergeOnce(log)).outcome, 'merged');
  const late = await faulty.late[0]!.apply();
  assert.equal(late.succeeded, false, 'fenced: the late commit cannot put offsets 1..2 a second time');
  assert.equal((await service.append(tp, 0, [batchOf('d', 1)])).baseOffset, 5);
  const reader = await open(t, faulty.store, objects, 2);
  const read = await reader.read(tp.id, 0, 0, 1 << 20);
  assert.deepEqual(recordsOf(read.records), [[0, 'p-0'], [1, 'b-0'], [2, 'b-1'], [3, 'b-2'], [4, 'c-0'], [5, 'd-0']]);
  assert.deepEqual(invariants.violations, []);
});
