/**
 * Session recovery on the embedded store (docs/design/cluster.md): when the broker's session lease is
 * revoked from outside, the app fences the old session, grants a new lease, re-registers and serves
 * produce again — same process, same listener — and every record acknowledged before is still there.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WireClient } from '../../test/helpers/wire-client.ts';
import { loadConfig } from '../config/index.ts';
import { encodeRecordBatch } from '../protocol/records/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { BrokerApp } from './broker-app.ts';

const TOPIC = 'recover';
const NOT_LEADER_OR_FOLLOWER = 6;

describe('BrokerApp session recovery (embedded store)', { timeout: 30_000 }, () => {
  let dir: string;
  let app: BrokerApp;
  let client: WireClient;

  async function produce(value: string): Promise<{ errorCode: number; baseOffset: number }> {
    const records = encodeRecordBatch({ records: [{ value, timestamp: BigInt(Date.now()) }] });
    const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] }, 10_000);
    const p = response.responses[0]?.partitionResponses[0];
    assert.ok(p !== undefined);
    return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-app-'));
    const config = loadConfig({
      argv: [],
      env: { KAFSCALE_DATA_DIR: dir, KAFSCALE_BROKER_ADDR: '127.0.0.1:0', KAFSCALE_METRICS_ADDR: '127.0.0.1:0', KAFSCALE_BROKER_HOST: '127.0.0.1', KAFSCALE_BROKER_SESSION_TTL_MS: '2000' },
      cwd: dir,
    });
    app = new BrokerApp(config, silentLogger());
    await app.start();
    client = await WireClient.connect('127.0.0.1', app.kafkaPort, 'session-recovery');
    const created = await client.send(19, 5, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false }, 10_000);
    assert.equal(created.topics[0]?.errorCode, 0);
  });

  after(async () => {
    client?.close();
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a revoked session is replaced by a new one; produce works again without a restart', async () => {
    assert.deepEqual(await produce('before'), { errorCode: 0, baseOffset: 0 });
    const lost = app.sessionLease;
    assert.ok(lost !== null);
    assert.equal(app.sessionsStarted, 1);
    await lost.revoke();
    const deadline = Date.now() + 10_000;
    let outcome = await produce('after');
    while (outcome.errorCode !== 0 && Date.now() < deadline) {
      // Retriable while the new session acquires the partition.
      assert.equal(outcome.errorCode, NOT_LEADER_OR_FOLLOWER);
      await sleep(50);
      outcome = await produce('after');
    }
    assert.deepEqual(outcome, { errorCode: 0, baseOffset: 1 }, 'continues after the acknowledged record');
    assert.equal(app.sessionsStarted, 2);
    assert.notEqual(app.sessionLease?.id, lost.id);
    assert.equal(app.sessionLease?.isAlive(), true);
  });

  it('the recovered broker is still registered and names itself leader with a higher epoch', async () => {
    const metadata = await client.send(3, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5_000);
    assert.deepEqual(metadata.brokers.map((b) => b.nodeId), [app.config.broker.id]);
    const partition = metadata.topics[0]?.partitions[0];
    assert.equal(partition?.leaderId, app.config.broker.id);
    assert.equal(partition?.leaderEpoch, 2, 'epoch 1 was the lost session');
  });
});
