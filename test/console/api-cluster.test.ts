/**
 * The console in a two-broker cluster (real etcd + s3rver, broker processes): each broker's console lists
 * every topic and group; groups another broker coordinates are shown as the metadata store holds them
 * (committed offsets equal to what kafkajs fetches, members unknown, the coordinator named) and cannot be
 * reset there; a test message to a partition another broker owns is refused naming the owner; browsing
 * works on any broker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { ConsoleClient } from './api-harness.ts';

const TOPIC = 'cluster-orders';
const PARTITIONS = 4;
const GROUPS = 8;

describe('console in a two-broker cluster', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let consoles: ConsoleClient[];
  let kafka: kafkajs.Kafka;

  before(async () => {
    cluster = await startCluster({ brokers: 2, env: { KAFSCALE_CONSOLE: 'true', KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' } });
    consoles = cluster.brokers.map((b) => new ConsoleClient(`http://${b.host}:${b.opsPort}`));
    await cluster.createTopic(TOPIC, PARTITIONS);
    await cluster.waitForLeaders(TOPIC, PARTITIONS, 30_000);
    kafka = new kafkajs.Kafka({ brokers: cluster.bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let p = 0; p < PARTITIONS; p++) await producer.send({ topic: TOPIC, messages: Array.from({ length: 5 }, (_, i) => ({ partition: p, value: `p${p}-m${i}` })) });
    } finally {
      await producer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (let g = 0; g < GROUPS; g++) await admin.setOffsets({ groupId: `group-${g}`, topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, offset: String((g + p) % 5) })) });
    } finally {
      await admin.disconnect();
    }
  });

  after(async () => {
    await cluster?.stop();
  });

  test('both consoles see both brokers, the topic and its records', async () => {
    for (const [index, client] of consoles.entries()) {
      const overview = (await client.get('/api/v1/overview')).json;
      assert.deepEqual(overview.brokers.map((b: { id: number }) => b.id).sort(), [0, 1]);
      assert.equal(overview.brokers.find((b: { self: boolean }) => b.self).id, index);
      const owned = overview.brokers.reduce((n: number, b: { partitionsOwned: number }) => n + b.partitionsOwned, 0);
      assert.equal(owned, PARTITIONS, JSON.stringify(overview.brokers));
      const topic = (await client.get('/api/v1/topics')).json.topics.find((t: { name: string }) => t.name === TOPIC);
      assert.equal(topic.records, PARTITIONS * 5);
      const messages = (await client.get(`/api/v1/topics/${TOPIC}/messages?partition=all&from=earliest&limit=100`)).json.messages;
      assert.equal(messages.length, PARTITIONS * 5);
    }
  });

  test('groups of the other coordinator: stored offsets, members unknown, no reset here', async () => {
    const admin = kafka.admin();
    await admin.connect();
    let remote = 0;
    try {
      for (const [index, client] of consoles.entries()) {
        const groups = (await client.get('/api/v1/groups')).json.groups;
        assert.equal(groups.length, GROUPS);
        for (const g of groups) {
          const detail = (await client.get(`/api/v1/groups/${g.groupId}`)).json;
          const expected = await admin.fetchOffsets({ groupId: g.groupId, topics: [TOPIC] });
          assert.deepEqual(
            detail.offsets.map((o: { partition: number; committedOffset: number }) => [o.partition, o.committedOffset]),
            (expected[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]).sort((a, b) => (a[0] as number) - (b[0] as number)),
          );
          assert.equal(detail.coordinator, g.coordinator);
          if (g.coordinator === index) {
            assert.equal(g.members, 0);
            assert.equal(detail.membersKnown, true);
            continue;
          }
          remote++;
          assert.equal(g.members, null);
          assert.equal(detail.membersKnown, false);
          assert.match(detail.note, new RegExp(`broker ${g.coordinator} coordinates`));
          const reset = await client.call('POST', `/api/v1/groups/${g.groupId}/offsets`, { body: { to: 'earliest', dryRun: false } });
          assert.equal(reset.status, 409);
          assert.equal(reset.json.error.code, 'NOT_COORDINATOR');
          const preview = await client.call('POST', `/api/v1/groups/${g.groupId}/offsets`, { body: { to: 'earliest', dryRun: true } });
          assert.equal(preview.status, 200, preview.text);
          const home = consoles[g.coordinator] as ConsoleClient;
          const applied = await home.call('POST', `/api/v1/groups/${g.groupId}/offsets`, { body: { to: 'latest', dryRun: false } });
          assert.equal(applied.status, 200, applied.text);
          const after = await admin.fetchOffsets({ groupId: g.groupId, topics: [TOPIC] });
          assert.ok(after[0]?.partitions.every((p) => p.offset === '5'), JSON.stringify(after));
        }
      }
    } finally {
      await admin.disconnect();
    }
    assert.equal(remote, GROUPS, 'every group is remote on exactly one of the two consoles');
  });

  test('a test message to a partition the other broker owns is refused naming the owner', async () => {
    const detail = (await consoles[0]?.get(`/api/v1/topics/${TOPIC}`))?.json;
    for (const [index, client] of consoles.entries()) {
      for (const p of detail.partitions as { partition: number; leader: number }[]) {
        const response = await client.call('POST', `/api/v1/topics/${TOPIC}/messages`, { body: { partition: p.partition, value: 'from the console' } });
        if (p.leader === index) {
          assert.equal(response.status, 201, response.text);
        } else {
          assert.equal(response.status, 409, response.text);
          assert.equal(response.json.error.code, 'NOT_LEADER_OR_FOLLOWER');
          assert.match(response.json.error.message, new RegExp(`broker ${p.leader}`));
        }
      }
    }
  });
});
