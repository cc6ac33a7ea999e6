/**
 * Split brain (docs/design DESIGN §4 "Ownership", §6 "Fencing"): the owner of some partitions is frozen
 * with SIGSTOP until its session lease has expired; another broker takes its partitions and accepts
 * writes; produce requests are queued on connections to the frozen broker; then it is resumed with
 * SIGCONT. Its pending writes must not be acknowledged and must not reach the log, the log must hold
 * no conflicting or duplicate offsets (every broker serves the same bytes), and the new owner's epoch
 * is higher. Three brokers on loopback, real etcd, s3rver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch, decodeRecordBatch } from '../../src/protocol/records/index.ts';
import { acquireClusterLock, startCluster, type ClusterMetadata, type TestCluster } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { verifyAcknowledged } from '../fault/crash-produce-run.ts';
import { readPartition } from '../fault/partition-reader.ts';
import { ClusterProducer, outOfOrderAcks } from './cluster-producer.ts';

const SESSION_TTL_MS = 2_000;
const PARTITIONS = 6;
/** Lease expiry plus the new owner's acquisition, on a loaded 2-core machine. */
const TAKEOVER_BOUND_MS = SESSION_TTL_MS + 8_000;

let cluster: TestCluster;
let releaseLock: () => void = () => {};
/** Other cluster test files run first (acquireClusterLock); each takes well under a minute and a half. */
const LOCK_WAIT_MS = 240_000;
let producer: ClusterProducer | undefined;
const pendingClients: WireClient[] = [];
const topic = `split-${randomUUID().slice(0, 8)}`;
let victim = -1;
let victimPartitions: number[] = [];

before(async () => {
  releaseLock = await acquireClusterLock(LOCK_WAIT_MS);
  cluster = await startCluster({ brokers: 3, sessionTtlMs: SESSION_TTL_MS });
  await cluster.createTopic(topic, PARTITIONS);
  await cluster.waitForLeaders(topic, PARTITIONS, 15_000);
}, { timeout: LOCK_WAIT_MS + 60_000 });

after(async () => {
  try {
    await producer?.stop();
    for (const client of pendingClients) client.close();
    await cluster?.stop();
  } finally {
    releaseLock();
  }
});

test('a frozen owner whose lease expired cannot write after SIGCONT; the new owner\'s log has no conflicting offsets', { timeout: 80_000 }, async () => {
  producer = new ClusterProducer({ cluster, topic, partitions: PARTITIONS, recordsPerBatch: 3, valuePrefix: 'live', requestTimeoutMs: 2_000, pauseMs: 20 });
  producer.start();
  await sleep(1_500);
  for (let p = 0; p < PARTITIONS; p++) assert.ok(producer.firstAckAfter(p, 0) !== null, `partition ${p} accepted writes before the freeze`);

  // The victim: the broker leading partition 0 (with 3 brokers and 6 partitions it usually leads more).
  const leadership = await cluster.metadata(topic);
  victim = leadership.partitions[0]?.leaderId ?? -1;
  victimPartitions = leadership.partitions.filter((p) => p.leaderId === victim).map((p) => p.partition);
  const epochBefore = new Map(leadership.partitions.map((p) => [p.partition, p.leaderEpoch]));
  const victimBroker = cluster.brokers[victim];
  assert.ok(victimBroker, `partition 0 has a leader among the brokers (${JSON.stringify(leadership)})`);

  // Connections made before the freeze: requests written to them after SIGSTOP wait in the kernel's
  // socket buffer and are handled when the process runs again — "pending writes" of a stale owner.
  const pendingClient = await WireClient.connect(victimBroker.host, victimBroker.port, 'split-brain-stale');
  pendingClients.push(pendingClient);
  const freezeMs = Date.now();
  cluster.freeze(victim);
  const staleValues: string[] = [];
  const stale = victimPartitions.map((partition, i) => {
    const values = [0, 1, 2].map((r) => `stale-p${partition}-${i}-r${r}`);
    staleValues.push(...values);
    return pendingClient
      .send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: encodeRecordBatch({ records: values.map((value) => ({ value })) }) }] }] }, 30_000)
      .then((response) => ({ partition, errorCode: response.responses[0]?.partitionResponses[0]?.errorCode ?? -1 }))
      .catch((error: unknown) => ({ partition, errorCode: `no answer: ${(error as Error).message}` }));
  });

  // Another broker takes each of the victim's partitions and acknowledges writes there.
  const deadline = freezeMs + TAKEOVER_BOUND_MS;
  const takenOver = (): boolean =>
    victimPartitions.every((p) => producer?.attempts.some((a) => a.partition === p && a.ack !== null && a.brokerId !== victim && a.sentMs > freezeMs));
  while (Date.now() < deadline && !takenOver()) await sleep(100);
  assert.ok(takenOver(), `within ${TAKEOVER_BOUND_MS} ms of the freeze, other brokers acknowledged writes to every partition of broker ${victim} (${victimPartitions.join(',')})`);
  const takeoverMs = Date.now() - freezeMs;
  const after_ = await cluster.metadata(topic);
  for (const p of victimPartitions) {
    const now = after_.partitions[p];
    assert.ok(now, `metadata lists partition ${p}`);
    assert.notEqual(now.leaderId, victim, `partition ${p} is led by a live broker after the takeover`);
    assert.ok(now.leaderEpoch > (epochBefore.get(p) ?? -1), `partition ${p}: leader epoch rose (${epochBefore.get(p)} → ${now.leaderEpoch})`);
  }
  await sleep(1_000); // the new owners accept more writes while the old one is still frozen

  const thawMs = Date.now();
  cluster.thaw(victim);
  const outcomes = await Promise.all(stale);
  console.log(`split-brain: broker ${victim} frozen, partitions ${victimPartitions.join(',')} taken over in ${takeoverMs} ms; stale outcomes ${JSON.stringify(outcomes)}`);
  for (const outcome of outcomes) assert.notEqual(outcome.errorCode, 0, `a write queued at the frozen broker for partition ${outcome.partition} was acknowledged after SIGCONT`);

  await sleep(2_000); // let the resumed broker act on anything it still had; writes continue meanwhile
  await producer.stop();
  // The producer's own requests sent to the broker while it was frozen are stale writes too.
  const staleAttempts = producer.attempts.filter((a) => a.brokerId === victim && a.sentMs >= freezeMs && a.sentMs < thawMs);
  for (const a of staleAttempts) {
    assert.equal(a.ack, null, `a write sent to the frozen broker for partition ${a.partition} was acknowledged`);
    staleValues.push(...a.values);
  }
  assert.deepEqual(outOfOrderAcks(producer.attempts), []);

  const reader = cluster.brokers.find((_, id) => id !== victim);
  assert.ok(reader);
  const verified = await verifyAcknowledged(reader, topic, PARTITIONS, producer.acks());
  assert.ok(verified.acknowledgedRecords > 0);
  const staleSet = new Set(staleValues);
  for (let p = 0; p < PARTITIONS; p++) {
    const contents = await readPartition(reader.host, reader.port, topic, p);
    for (const batch of contents.batches) {
      for (const record of decodeRecordBatch(batch).records) {
        const value = record.value?.toString('utf8') ?? '';
        assert.ok(!staleSet.has(value), `a write sent to the frozen broker reached the log: ${value} at ${p}/${record.offset}`);
      }
    }
  }
  // Every non-frozen broker serves the same bytes for every partition (no conflicting views).
  for (let p = 0; p < PARTITIONS; p++) {
    const views = await Promise.all(
      cluster.brokers.filter((_, id) => id !== victim).map(async (b) => Buffer.concat((await readPartition(b.host, b.port, topic, p)).batches).toString('base64')),
    );
    assert.equal(new Set(views).size, 1, `partition ${p}: every broker serves the same log`);
  }
});

test('the resumed broker rejoins the cluster and serves the same log as the others', { timeout: 40_000 }, async () => {
  assert.ok(victim >= 0, 'the first test chose a victim');
  const resumed = cluster.brokers[victim];
  assert.ok(resumed);
  const deadline = Date.now() + SESSION_TTL_MS + 10_000;
  let seen: ClusterMetadata | string = 'no answer';
  while (Date.now() < deadline) {
    try {
      seen = await cluster.metadata(topic, victim);
      if (seen.brokerIds.length === 3) break;
    } catch (error) {
      seen = (error as Error).message;
    }
    await sleep(200);
  }
  assert.ok(typeof seen !== 'string' && seen.brokerIds.includes(victim), `broker ${victim} answers Metadata and lists itself again after SIGCONT: ${JSON.stringify(seen)}`);
  const other = cluster.brokers.find((_, id) => id !== victim);
  assert.ok(other);
  for (let p = 0; p < PARTITIONS; p++) {
    const mine = await readPartition(resumed.host, resumed.port, topic, p);
    const theirs = await readPartition(other.host, other.port, topic, p);
    assert.equal(mine.highWatermark, theirs.highWatermark, `partition ${p}: same high watermark`);
    assert.equal(Buffer.concat(mine.batches).toString('base64'), Buffer.concat(theirs.batches).toString('base64'), `partition ${p}: same bytes`);
  }
});
