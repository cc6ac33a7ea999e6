/**
 * Two in-process "brokers" on one embedded store (each: its own session lease, registration, owner
 * directory, placement, log service and assigner) — the cluster model without processes: owners are
 * mirrored, a joining broker gets its share by handover, a dead broker's partitions are taken over, and
 * Metadata-style leader lookups name the actual owner and its epoch.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeRecordBatch } from '../../protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import type { Lease } from '../../storage/meta/metadata-store.ts';
import { MemoryObjectStore } from '../../storage/object/memory-object-store.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { LogService } from '../log/log-service.ts';
import { PartitionAssigner } from '../log/partition-assigner.ts';
import { BrokerRegistry } from './broker-registry.ts';
import { MetaKeys } from './meta-keys.ts';
import { NO_OWNER, OwnerDirectory } from './owner-directory.ts';
import { PartitionLeaders } from './partition-leaders.ts';
import { TopicRegistry } from './topic-registry.ts';
import { waitFor } from '../../../test/helpers/wait-for.ts';

const log = silentLogger();
const PARTITIONS = 12;

interface Node {
  readonly id: number;
  readonly lease: Lease;
  readonly topics: TopicRegistry;
  readonly brokers: BrokerRegistry;
  readonly directory: OwnerDirectory;
  readonly leaders: PartitionLeaders;
  readonly logs: LogService;
  readonly assigner: PartitionAssigner;
  close(): Promise<void>;
}


describe('OwnerDirectory and PartitionAssigner with two brokers on one store', () => {
  let dir: string;
  let store: EmbeddedMetadataStore;
  const objects = new MemoryObjectStore();
  const nodes: Node[] = [];
  let topicId = '';

  async function startNode(id: number, ttlMs = 10_000): Promise<Node> {
    const lease = await store.grantLease(ttlMs);
    const topics = await TopicRegistry.open(store, log);
    const brokers = await BrokerRegistry.register(store, { brokerId: id, host: '127.0.0.1', port: 9000 + id, rack: null, startedMs: Date.now() }, lease, log);
    const directory = await OwnerDirectory.open(store, topics, log);
    const leaders = new PartitionLeaders(brokers, directory);
    const logs = await LogService.open({ store, objects, log, brokerId: id, lease, namespace: 'ns', flush: { lingerMs: 1 } });
    leaders.useEpochSource((t, p) => {
      const owned = logs.owned(t, p);
      return owned?.status === 'active' ? owned.epoch : undefined;
    });
    const assigner = new PartitionAssigner({ logs, topics, brokers, leaders, directory, log, handoversPerSecond: 50 });
    assigner.start();
    let closed = false;
    const node: Node = {
      id, lease, topics, brokers, directory, leaders, logs, assigner,
      async close() {
        if (closed) return;
        closed = true;
        await assigner.close();
        await logs.close();
        await lease.revoke();
        await directory.close();
        await brokers.close();
        await topics.close();
      },
    };
    nodes.push(node);
    return node;
  }

  const ownedBy = (node: Node): number => node.logs.ownedLogs().filter((l) => l.status === 'active').length;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-owners-'));
    store = await EmbeddedMetadataStore.open({ dir });
  });

  after(async () => {
    for (const node of nodes.reverse()) await node.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a single broker acquires every partition; the directory mirrors owners and epochs', async () => {
    const a = await startNode(1);
    const created = await a.topics.create('orders', PARTITIONS, {});
    assert.equal(created.errorCode, ErrorCode.NONE);
    topicId = created.topic?.id ?? '';
    await waitFor('broker 1 owns all partitions', () => ownedBy(a) === PARTITIONS);
    await waitFor('the directory names broker 1 everywhere', () => a.directory.countOwnedBy(1) === PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) {
      assert.equal(a.directory.ownerOf(topicId, p), 1);
      assert.equal(a.directory.epochOf(topicId, p), 1);
      assert.deepEqual(a.leaders.leaderOf(topicId, p), { brokerId: 1, epoch: 1 });
    }
    assert.equal(a.directory.ownerOf('no-such-topic', 0), NO_OWNER);
  });

  it('a joining broker loads existing owners, then takes its placement share by handover; no acked record is lost', async () => {
    const a = nodes[0]!;
    // Acknowledged data in every partition before the handover.
    for (let p = 0; p < PARTITIONS; p++) {
      const result = await a.logs.append({ id: topicId, configs: {} }, p, [encodeRecordBatch({ records: [{ value: `before-${p}`, timestamp: 1n }] })]);
      assert.equal(result.errorCode, ErrorCode.NONE);
    }
    const joinedMs = Date.now();
    const b = await startNode(2);
    // B's directory was loaded from the store, not from placement: it names broker 1 for partitions that
    // placement gives to broker 1 at once (A may already be handing the others over).
    await waitFor('broker 2 sees broker 1 as owner of its own share', () => b.directory.countOwnedBy(1) >= 1);
    const movedToB = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => b.leaders.placementOf(topicId, p) === 2);
    assert.ok(movedToB.length > 0 && movedToB.length < PARTITIONS, `rendezvous splits 12 partitions (${movedToB.length} to broker 2)`);
    await waitFor('broker 2 owns its placement share', () => ownedBy(b) === movedToB.length);
    await waitFor('broker 1 keeps the rest', () => ownedBy(a) === PARTITIONS - movedToB.length);
    assert.equal(a.assigner.handovers, movedToB.length);
    // Rate-limited at 50 handovers/s: n handovers cannot finish faster than (n - 1) × 20 ms.
    assert.ok(Date.now() - joinedMs >= (movedToB.length - 1) * 20, 'handovers are spread out, not a storm');
    await waitFor('both directories agree', () => a.directory.countOwnedBy(2) === movedToB.length && b.directory.countOwnedBy(1) === PARTITIONS - movedToB.length);
    for (const p of movedToB) {
      assert.deepEqual(a.leaders.leaderOf(topicId, p), { brokerId: 2, epoch: 2 }, 'broker 1 names the new owner with its epoch');
      const state = await b.logs.offsets(topicId, p);
      assert.equal(state.highWatermark, 1, 'the new owner continues after the acknowledged record');
      const next = await b.logs.append({ id: topicId, configs: {} }, p, [encodeRecordBatch({ records: [{ value: 'after', timestamp: 2n }] })]);
      assert.equal(next.baseOffset, 1);
      const stale = await a.logs.append({ id: topicId, configs: {} }, p, [encodeRecordBatch({ records: [{ value: 'x', timestamp: 2n }] })]);
      assert.equal(stale.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    }
  });

  it('when a broker dies its partitions go to the survivor once its lease is gone', async () => {
    const a = nodes[0]!;
    const b = nodes[1]!;
    const bPartitions = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => b.directory.ownerOf(topicId, p) === 2);
    // A crash as the store sees it: the session lease ends (revocation = expiry, without a graceful release).
    await b.assigner.close();
    await b.lease.revoke();
    await waitFor('broker 1 owns everything again', () => ownedBy(a) === PARTITIONS);
    for (const p of bPartitions) {
      assert.equal(a.directory.ownerOf(topicId, p), 1);
      assert.deepEqual(a.leaders.leaderOf(topicId, p), { brokerId: 1, epoch: 3 });
      const state = await a.logs.offsets(topicId, p);
      const mine = a.logs.owned(topicId, p);
      assert.equal(state.highWatermark, 2, `both acknowledged records survive the failover (p${p}: ${JSON.stringify(mine?.state.entries.map((e) => [e.baseOffset, e.lastOffset, e.epoch]))} next ${mine?.nextOffset})`);
    }
    await b.close();
  });

  it('with no owner, clients are told the placement target and the epoch it will acquire with', async () => {
    const a = nodes[0]!;
    await a.assigner.close();
    await a.logs.release(topicId, 0);
    await waitFor('owner key gone', () => a.directory.ownerOf(topicId, 0) === NO_OWNER);
    assert.ok(a.directory.epochOf(topicId, 0) >= 1);
    const released = a.directory.epochOf(topicId, 0);
    const leader = a.leaders.leaderOf(topicId, 0);
    assert.deepEqual(leader, { brokerId: 1, epoch: released + 1 }, 'the placement target stands in, with the next epoch');
    assert.equal(await store.get(MetaKeys.partitionOwner(topicId, 0)), null);
    const reacquired = await a.logs.acquire(topicId, 0);
    assert.equal(reacquired.errorCode, ErrorCode.NONE);
    assert.deepEqual(a.leaders.leaderOf(topicId, 0), leader, 'the acquire lands exactly on the announced epoch');
  });
});
