/**
 * Broker identity without hand-picked ids (issue 12): five brokers on a real etcd + s3rver start with no
 * KAFSCALE_BROKER_ID and allocate distinct ids; two are killed with SIGKILL and replaced at once — the
 * replacements get free ids while the dead brokers' leases still hold theirs — and Metadata lists exactly
 * the live brokers once the leases expire. A broker stopped gracefully frees its id at once and a newcomer
 * takes that lowest free id. A single node on embedded metadata keeps id 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { acquireClusterLock, startCluster, stopInReverse, type TestCluster } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const METADATA_VERSION = 12;
const TOPIC = 'broker-ids';
const PARTITIONS = 8;

interface ListedBroker {
  readonly nodeId: number;
  readonly port: number;
}

async function listedBrokers(broker: BrokerProcess): Promise<ListedBroker[]> {
  const client = await WireClient.connect(broker.host, broker.port, 'broker-ids-test');
  try {
    const metadata = await client.send(3, METADATA_VERSION, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5_000);
    return metadata.brokers.map((b) => ({ nodeId: b.nodeId, port: b.port })).sort((a, b) => a.nodeId - b.nodeId);
  } finally {
    client.close();
  }
}

describe('broker ids allocated from etcd', { timeout: 240_000 }, () => {
  let cluster: TestCluster;
  const stops: Array<() => Promise<void> | void> = [];
  /** Live broker processes by allocated id. */
  const live = new Map<number, BrokerProcess>();

  before(async () => {
    stops.push(await acquireClusterLock(240_000));
    cluster = await startCluster({ brokers: 5, allocateBrokerIds: true, sessionTtlMs: 2_000 });
    stops.push(() => cluster.stop());
  }, { timeout: 300_000 });

  after(() => stopInReverse(stops));

  /** Which id each broker process got: its advertised port is unique, Metadata pairs the two. */
  async function idOf(broker: BrokerProcess): Promise<number> {
    const listed = await listedBrokers(broker);
    const self = listed.find((b) => b.port === broker.port);
    assert.ok(self !== undefined, `broker on port ${broker.port} does not list itself: ${JSON.stringify(listed)}`);
    return self.nodeId;
  }

  /** Waits until every live broker's Metadata lists exactly the live brokers (ids and ports). */
  async function expectExactlyLive(timeoutMs: number): Promise<void> {
    const expected = [...live.entries()].map(([nodeId, b]) => ({ nodeId, port: b.port })).sort((a, b) => a.nodeId - b.nodeId);
    let last = '';
    await waitFor(`Metadata listing exactly the live brokers ${JSON.stringify(expected)}`, async () => {
      const seen = await Promise.all([...live.values()].map((b) => listedBrokers(b).catch((error: unknown) => (error as Error).message)));
      last = JSON.stringify(seen);
      return seen.every((s) => JSON.stringify(s) === JSON.stringify(expected));
    }, { timeoutMs, intervalMs: 100, detail: () => `last: ${last}` });
  }

  it('five brokers started without ids get the distinct ids 0..4', async () => {
    for (const broker of cluster.brokers) live.set(await idOf(broker), broker);
    assert.deepEqual([...live.keys()].sort(), [0, 1, 2, 3, 4]);
    await expectExactlyLive(10_000);
    await cluster.createTopic(TOPIC, PARTITIONS);
    await cluster.waitForLeaders(TOPIC, PARTITIONS, 20_000);
  });

  it('two brokers killed (-9) and replaced at once: the replacements get free ids, never a live broker\'s; Metadata lists exactly the live brokers', async () => {
    const victims = [1, 3];
    for (const id of victims) {
      await live.get(id)?.kill();
      live.delete(id);
    }
    // Replaced at once: while the dead brokers' leases (2 s) last, ids 1 and 3 are still held (5 and 6 are
    // taken then); a replacement that starts after a lease ended may take the freed id, never a live one.
    const replacements = [await cluster.addBroker(), await cluster.addBroker()];
    const replacementIds: number[] = [];
    for (const broker of replacements) {
      const id = await idOf(broker);
      assert.ok(!live.has(id), `replacement got the id ${id} of a live broker`);
      live.set(id, broker);
      replacementIds.push(id);
    }
    assert.equal(new Set(replacementIds).size, 2, `replacements share an id: ${replacementIds.join(',')}`);
    // Once the leases of the killed brokers end, Metadata names exactly the five live brokers.
    await expectExactlyLive(15_000);
    const metadata = await cluster.waitForLeaders(TOPIC, PARTITIONS, 20_000);
    assert.deepEqual(metadata.brokerIds, [...live.keys()].sort((a, b) => a - b));
    for (const p of metadata.partitions) assert.ok(live.has(p.leaderId), `partition ${p.partition} led by dead broker ${p.leaderId}`);
  });

  it('an id is free again once its lease ends: a newcomer takes the lowest free id', async () => {
    // Broker 0 stops gracefully (its lease is revoked at once); every other id is held, so 0 is the
    // lowest free id and the newcomer must get exactly it.
    const lowest = Math.min(...live.keys());
    assert.equal(lowest, 0);
    await live.get(lowest)?.stop();
    live.delete(lowest);
    await expectExactlyLive(10_000);
    const newcomer = await cluster.addBroker();
    const id = await idOf(newcomer);
    assert.equal(id, lowest, `the lowest id nobody holds (held: ${[...live.keys()].join(',')})`);
    live.set(id, newcomer);
    await expectExactlyLive(10_000);
    const ids = [...live.keys()];
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('a single node on embedded metadata', { timeout: 60_000 }, () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBroker({ logLevel: 'warn' });
  });
  after(() => broker.stop());

  it('keeps the default id 0 without KAFSCALE_BROKER_ID', async () => {
    assert.deepEqual(await listedBrokers(broker), [{ nodeId: 0, port: broker.port }]);
  });
});
