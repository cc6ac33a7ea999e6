/**
 * ACLs in a two-broker cluster (real etcd + s3rver, two broker processes, KAFSCALE_AUTHORIZER=acl):
 * a binding created through one broker is enforced by the other within a second, on a connection that
 * was open before the change; a deletion through the second broker is seen by the first as fast.
 * Clients are User:ANONYMOUS (no SASL here) with allow.everyone.if.no.acl.found on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';

const TOPIC = 'acl-cluster';
const TOPIC_AUTHORIZATION_FAILED = 29;
const NONE = 0;
const NOT_LEADER_OR_FOLLOWER = 6;
const APPLY_WITHIN_MS = 1_000;

describe('ACLs across a cluster (etcd)', { timeout: 90_000 }, () => {
  let cluster: TestCluster;
  const clients: WireClient[] = [];

  async function produceError(client: WireClient, partition: number): Promise<number> {
    const records = encodeRecordBatch({ records: [{ value: 'v', timestamp: BigInt(Date.now()) }] });
    const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] }, 15_000);
    return response.responses[0]?.partitionResponses[0]?.errorCode ?? -1;
  }

  /** Polls until produce through `client` is (or stops being) refused; returns how long that took. */
  async function untilRefused(client: WireClient, partition: number, refused: boolean): Promise<number> {
    const startedMs = Date.now();
    for (;;) {
      const code = await produceError(client, partition);
      if ((code === TOPIC_AUTHORIZATION_FAILED) === refused) return Date.now() - startedMs;
      assert.ok(refused || code === NONE || code === NOT_LEADER_OR_FOLLOWER, `unexpected error ${code}`);
      if (Date.now() - startedMs > 10_000) assert.fail(`produce still ${refused ? 'allowed' : 'refused'} after 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    cluster = await startCluster({ brokers: 2, env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' } });
    await cluster.createTopic(TOPIC, 2);
    await cluster.waitForLeaders(TOPIC, 2, 20_000);
    for (const broker of cluster.brokers) clients.push(await WireClient.connect(broker.host, broker.port, 'acl-cluster'));
  });

  after(async () => {
    for (const client of clients) client.close();
    await cluster?.stop();
  });

  it('a DENY created through broker 0 is enforced by broker 1 within a second; its deletion through broker 1 by broker 0', async (t) => {
    const [first, second] = clients as [WireClient, WireClient];
    const metadata = await cluster.metadata(TOPIC);
    const ledBySecond = metadata.partitions.find((p) => p.leaderId === 1)?.partition ?? 0;
    const ledByFirst = metadata.partitions.find((p) => p.leaderId === 0)?.partition ?? 0;
    assert.notEqual(await produceError(second, ledBySecond), TOPIC_AUTHORIZATION_FAILED);

    const created = await first.send(30, 3, { creations: [{ resourceType: 2, resourceName: TOPIC, resourcePatternType: 3, principal: 'User:ANONYMOUS', host: '*', operation: 4, permissionType: 2 }] });
    assert.equal(created.results[0]?.errorCode, NONE);
    const appliedMs = await untilRefused(second, ledBySecond, true);
    assert.ok(appliedMs <= APPLY_WITHIN_MS, `broker 1 applied the ACL after ${appliedMs} ms`);
    assert.equal(await produceError(first, ledByFirst), TOPIC_AUTHORIZATION_FAILED);

    const described = await second.send(29, 3, { resourceTypeFilter: 2, resourceNameFilter: TOPIC, patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 });
    assert.equal(described.resources[0]?.acls[0]?.principal, 'User:ANONYMOUS');

    const deleted = await second.send(31, 3, { filters: [{ resourceTypeFilter: 2, resourceNameFilter: TOPIC, patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }] });
    assert.equal(deleted.filterResults[0]?.matchingAcls.length, 1);
    const liftedMs = await untilRefused(first, ledByFirst, false);
    assert.ok(liftedMs <= APPLY_WITHIN_MS, `broker 0 applied the deletion after ${liftedMs} ms`);
    t.diagnostic(`create applied on the other broker after ${appliedMs} ms, deletion after ${liftedMs} ms`);
  });
});
