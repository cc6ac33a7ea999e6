/**
 * The object collector at scale on a REAL etcd (test/helpers/etcd-server.ts): the mark reads every log
 * entry of thousands of partitions in pages at one revision, where a single range would pass grpc-js'
 * 4 MiB receive limit. And object ages come from the collector's own clock, not from object mtimes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { startEtcdServer, type EtcdServer } from '../../../test/helpers/etcd-server.ts';
import { EtcdMetadataStore } from '../../storage/meta/etcd-metadata-store.ts';
import { MAX_TXN_OPS, type TxnOp } from '../../storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import type { ObjectInfo, ObjectStore } from '../../storage/object/object-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { encodeLogEntry } from './log-entry.ts';
import { ObjectCollector } from './object-collector.ts';

const log = pino({ level: 'silent' });
const NS = 'gc-ns';
const PARTITIONS = 5_000;
const ENTRIES_PER_PARTITION = 4;
const REFERENCED_OBJECTS = 60;

let server: EtcdServer;
before(async () => {
  server = await startEtcdServer();
});
after(() => server.close());

function walKey(i: number): string {
  return `${NS}/wal/${(1_700_000_000_000 + i).toString()}-0000000001-${i.toString(16).padStart(8, '0')}-0000000001.wal`;
}

test(`the mark pages through ${PARTITIONS} partitions × ${ENTRIES_PER_PARTITION} entries (more than 4 MiB) at one revision`, async (t) => {
  const store = await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace: `/gc-${process.pid}/`, requestTimeoutMs: 10_000 });
  t.after(() => store.close());
  const objects = new MemoryObjectStore();
  for (let i = 0; i < REFERENCED_OBJECTS; i++) await objects.put(walKey(i), Buffer.from(`object ${i}`));
  const unreferenced = [walKey(1_000), walKey(1_001), `${NS}/segments/${randomUUID()}/0000000000/segment-00000000000000000000-0000000001-0badcafe.kfs`];
  for (const key of unreferenced) await objects.put(key, Buffer.from('orphan'));

  const topicId = randomUUID();
  let ops: TxnOp[] = [];
  let bytes = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    for (let e = 0; e < ENTRIES_PER_PARTITION; e++) {
      const value = encodeLogEntry({
        baseOffset: e * 1_000,
        lastOffset: e * 1_000 + 999,
        objectKey: walKey((p * ENTRIES_PER_PARTITION + e) % REFERENCED_OBJECTS),
        byteStart: p * 4_096,
        byteEnd: p * 4_096 + 4_000,
        maxTimestamp: 1_700_000_000_000 + p,
        batchCount: 10,
        epoch: 3,
        producers: [{ producerId: BigInt(p + 1), epoch: 0, firstSeq: e * 10, lastSeq: e * 10 + 9, firstOffset: e * 1_000, lastOffset: e * 1_000 + 999, timestampMs: 1_700_000_000_000 }],
      });
      const key = MetaKeys.partitionLogEntry(topicId, p, e * 1_000);
      bytes += value.length + key.length;
      ops.push({ type: 'put', key, value });
      if (ops.length === MAX_TXN_OPS) {
        await store.txn({ compare: [], success: ops });
        ops = [];
      }
    }
  }
  if (ops.length > 0) await store.txn({ compare: [], success: ops });
  assert.ok(bytes > 4 * 1024 * 1024, `${bytes} bytes of entries`);
  // What the collector used to do: one range over every entry. It fails at this size.
  await assert.rejects(store.range(MetaKeys.partitionsPrefix), /larger than max|RESOURCE_EXHAUSTED|too large/i);

  const lease = await store.grantLease(10_000);
  t.after(() => lease.revoke());
  const gc = new ObjectCollector({ store, objects, log, brokerId: 1, lease, namespace: NS, orphanGraceMs: 0, deleteDelayMs: 0 });
  const result = await gc.runOnce();
  assert.equal(result.ran, true);
  assert.equal(result.deletedObjects, unreferenced.length);
  const left: string[] = [];
  for await (const info of objects.list(`${NS}/`)) left.push(info.key);
  assert.deepEqual(left.sort(), Array.from({ length: REFERENCED_OBJECTS }, (_, i) => walKey(i)).sort());

  // DeleteTopics at the same scale: every partition key goes (paged too), then every object.
  await store.put(MetaKeys.deletedTopic(topicId), Buffer.from(JSON.stringify({ id: topicId, name: 'big', deletedMs: 1 })));
  const second = await gc.runOnce();
  assert.equal(second.deletedPartitionKeys, PARTITIONS * ENTRIES_PER_PARTITION);
  assert.equal(second.deletedObjects, REFERENCED_OBJECTS);
  assert.equal((await store.range(MetaKeys.partitionsPrefix, { limit: 1 })).kvs.length, 0);
});

/** An object store whose clock is far behind: every object it lists looks decades old. */
function skewed(inner: MemoryObjectStore): ObjectStore {
  return {
    put: (key, body, options) => inner.put(key, body, options),
    get: (key, options) => inner.get(key, options),
    head: (key) => inner.head(key),
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      for await (const info of inner.list(prefix)) yield { ...info, modifiedMs: 0 };
    },
    delete: (keys) => inner.delete(keys),
    close: () => inner.close(),
  };
}

test('a skewed clock cannot make a fresh upload look old: ages are the collector\'s own observations', async (t) => {
  const store = await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace: `/gc-skew-${process.pid}/`, requestTimeoutMs: 5_000 });
  t.after(() => store.close());
  const inner = new MemoryObjectStore();
  const uploading = walKey(7);
  await inner.put(uploading, Buffer.from('commit still running'));
  const lease = await store.grantLease(10_000);
  t.after(() => lease.revoke());
  let nowMs = 0;
  const gc = new ObjectCollector({ store, objects: skewed(inner), log, brokerId: 1, lease, namespace: NS, orphanGraceMs: 600_000, deleteDelayMs: 60_000, now: () => nowMs });
  assert.equal((await gc.runOnce()).deletedObjects, 0);
  nowMs += 599_000;
  assert.equal((await gc.runOnce()).deletedObjects, 0, 'still inside the grace period on the collector\'s clock');
  // The commit lands: the object is referenced, then dropped by retention.
  const topicId = randomUUID();
  const entryKey = MetaKeys.partitionLogEntry(topicId, 0, 0);
  await store.put(entryKey, encodeLogEntry({ baseOffset: 0, lastOffset: 0, objectKey: uploading, byteStart: 0, byteEnd: 20, maxTimestamp: 1, batchCount: 1, epoch: 1 }));
  nowMs += 10_000;
  assert.equal((await gc.runOnce()).deletedObjects, 0);
  await store.delete(entryKey);
  nowMs += 1_000;
  assert.equal((await gc.runOnce()).deletedObjects, 0, 'seen unreferenced just now');
  nowMs += 60_000;
  // Seen referenced before, so only file.delete.delay.ms applies, not the orphan grace period.
  assert.equal((await gc.runOnce()).deletedObjects, 1);
  await assert.rejects(inner.head(uploading), /does not exist/);
});
