/**
 * The placement pass acquires a fresh topic's partitions in batches (PartitionAssigner →
 * LogService.acquireMany): a 100-partition topic is owned after a few claim txns, a Produce's
 * ensureOwned during the pass shares the batch instead of claiming again, and a store that refuses the
 * claims leaves nothing half-owned and is retried until every partition is owned.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { BrokerRegistry } from '../cluster/broker-registry.ts';
import { OwnerDirectory } from '../cluster/owner-directory.ts';
import { PartitionLeaders } from '../cluster/partition-leaders.ts';
import { TopicRegistry } from '../cluster/topic-registry.ts';
import { FaultyMetadataStore, embeddedStore, isAcquire, silentLog } from '../../../test/helpers/log-faults.ts';
import { waitFor } from '../../../test/helpers/wait-for.ts';
import { LogService } from './log-service.ts';
import { PartitionAssigner } from './partition-assigner.ts';

async function startBroker(t: TestContext): Promise<{ faulty: FaultyMetadataStore; topics: TopicRegistry; logs: LogService; assigner: PartitionAssigner }> {
  const faulty = new FaultyMetadataStore(await embeddedStore(t));
  const store = faulty.store;
  const lease = await store.grantLease(10_000);
  const topics = await TopicRegistry.open(store, silentLog);
  const brokers = await BrokerRegistry.register(store, { brokerId: 1, host: '127.0.0.1', port: 9001, rack: null, startedMs: Date.now() }, lease, silentLog);
  const directory = await OwnerDirectory.open(store, topics, silentLog);
  const leaders = new PartitionLeaders(brokers, directory);
  const logs = await LogService.open({ store, objects: new MemoryObjectStore(), log: silentLog, brokerId: 1, lease, namespace: 'ns', merge: false, flush: { lingerMs: 0 } });
  const assigner = new PartitionAssigner({ logs, topics, brokers, leaders, directory, log: silentLog });
  assigner.start();
  t.after(async () => {
    await assigner.close();
    await logs.close();
    await lease.revoke();
    await directory.close();
    await brokers.close();
    await topics.close();
  });
  return { faulty, topics, logs, assigner };
}

const ownedCount = (logs: LogService): number => logs.ownedLogs().filter((l) => l.status === 'active').length;

test('a fresh 100-partition topic is owned after a few packed claims; ensureOwned during the pass shares the batch', async (t) => {
  const { faulty, topics, logs, assigner } = await startBroker(t);
  const created = await topics.create('fresh', 100, {});
  assert.equal(created.errorCode, ErrorCode.NONE);
  const topicId = created.topic!.id;
  // What Produce does for a partition it does not own yet, right after CreateTopics answered.
  const produced = await Promise.all([57, 0, 99].map((p) => assigner.ensureOwned(topicId, p)));
  assert.ok(produced.every((log) => log !== null && log.status === 'active'));
  await waitFor('all 100 partitions owned', () => ownedCount(logs) === 100);
  await assigner.settle();
  // 32 never-owned claims (each with its read and epoch start) fit one 128-op txn: four for the batch,
  // at most one more for an ensureOwned that ran before the pass reached the topic — not one (or two,
  // with the epoch start) per partition.
  const claims = faulty.txns.filter(isAcquire).length;
  assert.ok(claims <= 5, `${claims} claim txns`);
  for (let p = 0; p < 100; p++) assert.equal(logs.owned(topicId, p)?.epoch, 1);
});

test('the store refuses the batch claims: nothing is owned meanwhile, and the retry owns every partition once it answers', async (t) => {
  const { faulty, topics, logs } = await startBroker(t);
  faulty.rule = (txn) => (isAcquire(txn) ? 'lost' : null);
  const created = await topics.create('unlucky', 40, {});
  assert.equal(created.errorCode, ErrorCode.NONE);
  await waitFor('a claim was tried', () => faulty.txns.some(isAcquire));
  assert.equal(ownedCount(logs), 0);
  faulty.rule = () => null;
  await waitFor('all 40 partitions owned after the fault clears', () => ownedCount(logs) === 40, 5_000);
  for (let p = 0; p < 40; p++) assert.equal(logs.owned(created.topic!.id, p)?.epoch, 1, 'a lost claim never applied: epoch 1');
});
