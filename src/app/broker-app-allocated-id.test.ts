/**
 * Brokers on a real etcd without KAFSCALE_BROKER_ID (docs/design/cluster.md, "Broker ids"): the app
 * allocates an id, uses it everywhere (config, Metadata, the broker_id metric label), re-claims the same id
 * when it recovers a lost session, and — when another broker took the id meanwhile — reports a fatal error
 * instead of overwriting the other broker's registration.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcdServer, type EtcdServer } from '../../test/helpers/etcd-server.ts';
import { WireClient } from '../../test/helpers/wire-client.ts';
import { loadConfig } from '../config/index.ts';
import { MetaKeys } from '../services/cluster/meta-keys.ts';
import { EtcdMetadataStore } from '../storage/meta/etcd-metadata-store.ts';
import { isKafscaleError } from '../telemetry/kafscale-error.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { BrokerApp } from './broker-app.ts';

describe('BrokerApp with an allocated broker id (real etcd)', { timeout: 60_000 }, () => {
  let etcd: EtcdServer;
  let store: EtcdMetadataStore;
  const dirs: string[] = [];
  const apps: BrokerApp[] = [];

  async function startApp(): Promise<BrokerApp> {
    const dir = await mkdtemp(join(tmpdir(), 'kafscale-alloc-app-'));
    dirs.push(dir);
    const config = loadConfig({
      argv: [],
      env: {
        KAFSCALE_DATA_DIR: dir,
        KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
        KAFSCALE_BROKER_ADDR: '127.0.0.1:0',
        KAFSCALE_METRICS_ADDR: '127.0.0.1:0',
        KAFSCALE_BROKER_HOST: '127.0.0.1',
        KAFSCALE_BROKER_SESSION_TTL_MS: '2000',
      },
      cwd: dir,
    });
    assert.equal(config.broker.allocateId, true);
    const app = new BrokerApp(config, silentLogger());
    apps.push(app);
    await app.start();
    return app;
  }

  async function listedIds(app: BrokerApp): Promise<number[]> {
    const client = await WireClient.connect('127.0.0.1', app.kafkaPort, 'alloc-app');
    try {
      const metadata = await client.send(3, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5_000);
      return metadata.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
    } finally {
      client.close();
    }
  }

  before(async () => {
    etcd = await startEtcdServer();
    store = await EtcdMetadataStore.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 2_000 });
  });

  after(async () => {
    for (const app of apps) await app.close();
    await store?.close();
    await etcd?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  let first: BrokerApp;
  let second: BrokerApp;

  it('two brokers get ids 0 and 1, used in config, Metadata and the broker_id metric label', async () => {
    first = await startApp();
    second = await startApp();
    assert.deepEqual([first.config.broker.id, second.config.broker.id], [0, 1]);
    assert.deepEqual(await listedIds(second), [0, 1]);
    const metrics = await (await fetch(`http://127.0.0.1:${second.opsPort}/metrics`)).text();
    assert.match(metrics, /broker_id="1"/);
    assert.doesNotMatch(metrics, /broker_id="-1"/);
  });

  it('a recovered session re-claims the same id under its new lease', async () => {
    const lost = second.sessionLease;
    assert.ok(lost !== null);
    await lost.revoke();
    const deadline = Date.now() + 15_000;
    while (second.sessionsStarted < 2 || second.sessionLease?.isAlive() !== true) {
      assert.ok(Date.now() < deadline, 'no recovery');
      await sleep(50);
    }
    assert.equal(second.config.broker.id, 1);
    const registration = await store.get(MetaKeys.broker(1));
    assert.equal(registration?.lease, second.sessionLease?.id);
  });

  it('an id taken by another broker while the session was lost is not overwritten: the app reports a fatal error', async () => {
    const lost = first.sessionLease;
    assert.ok(lost !== null);
    // Another broker's registration replaces id 0 (a put re-attaches the key to its lease), then the first
    // broker loses its session.
    const intruder = await store.grantLease(10_000);
    const value = Buffer.from(JSON.stringify({ brokerId: 0, host: '10.9.9.9', port: 9092, rack: null, startedMs: Date.now() }));
    await store.put(MetaKeys.broker(0), value, { lease: intruder.id });
    await lost.revoke();
    const outcome = await Promise.race([first.fatal, sleep(15_000).then(() => 'no fatal error' as const)]);
    assert.ok(isKafscaleError(outcome, 'KSC_BROKER_ID_TAKEN'), String(outcome));
    const registration = await store.get(MetaKeys.broker(0));
    assert.equal(registration?.lease, intruder.id, "the other broker's registration stands");
    assert.equal(JSON.parse(registration?.value.toString('utf8') ?? '{}').host, '10.9.9.9');
    await intruder.revoke();
  });
});
