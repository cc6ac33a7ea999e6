/**
 * Security in a cluster (3 brokers, real etcd): a SCRAM user created through one broker logs in on
 * every other broker at once (the credential prefix is watched), a user deleted through another broker
 * is refused everywhere, a user written with `kafscale users set` straight into etcd counts on running
 * brokers; Metadata lists every broker at the addresses of the listener the client connected to.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { saltPassword, SCRAM_MECHANISM_IDS } from '../../src/services/security/scram.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { createUser, scramLogin } from '../helpers/security.ts';
import { WireClient } from '../helpers/wire-client.ts';

const HOST = '127.0.0.1';
let cluster: TestCluster;
const clients: WireClient[] = [];

before(async () => {
  cluster = await startCluster({ brokers: 3, extraListeners: ['SASL_PLAINTEXT'], env: { KAFSCALE_AUTH_FAILURE_DELAY_MS: '0' } });
});

after(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

async function connect(brokerId: number, listener: 'PLAINTEXT' | 'SASL_PLAINTEXT'): Promise<WireClient> {
  const client = await WireClient.connect(HOST, cluster.brokers[brokerId]?.listenerPorts[listener] as number);
  clients.push(client);
  return client;
}

/** Logs in on a fresh connection; retries briefly while the watch event travels. */
async function loginCode(brokerId: number, user: string, password: string, want: number, timeoutMs = 3_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = await connect(brokerId, 'SASL_PLAINTEXT');
    const { errorCode } = await scramLogin(client, 'SCRAM-SHA-512', user, password);
    client.close();
    if (errorCode === want || Date.now() > deadline) return errorCode;
    await sleep(100);
  }
}

test('Metadata on each listener lists every broker at that listener’s address', async () => {
  for (const listener of ['PLAINTEXT', 'SASL_PLAINTEXT'] as const) {
    const client = await connect(1, listener);
    if (listener === 'SASL_PLAINTEXT') {
      // Needs a user: created through broker 0's PLAINTEXT listener.
      const admin = await connect(0, 'PLAINTEXT');
      const salt = Buffer.from('meta-salt');
      await admin.send(51, 0, { deletions: [], upsertions: [{ name: 'meta', mechanism: 2, iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'meta-pw', salt, 4096) }] });
      assert.equal(await loginCode(1, 'meta', 'meta-pw', ErrorCode.NONE), ErrorCode.NONE);
      assert.equal((await scramLogin(client, 'SCRAM-SHA-512', 'meta', 'meta-pw')).errorCode, ErrorCode.NONE);
    }
    const metadata = await client.send(3, 12, { topics: null, allowAutoTopicCreation: false });
    const expected = cluster.brokers.map((b, id) => [id, `${HOST}:${b.listenerPorts[listener]}`]);
    assert.deepEqual(metadata.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]).sort(), expected.sort(), listener);
  }
});

test('a user created through broker 0 logs in on brokers 1 and 2; deleted through broker 2, it is refused on all', async () => {
  const salt = Buffer.from('cluster-salt-0123');
  const admin0 = await connect(0, 'PLAINTEXT');
  const created = await admin0.send(51, 0, {
    deletions: [],
    upsertions: [{ name: 'zoe', mechanism: SCRAM_MECHANISM_IDS['SCRAM-SHA-512'], iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'zoe-pw', salt, 4096) }],
  });
  assert.equal(created.results[0]?.errorCode, ErrorCode.NONE);
  for (const id of [1, 2, 0]) assert.equal(await loginCode(id, 'zoe', 'zoe-pw', ErrorCode.NONE), ErrorCode.NONE, `broker ${id}`);
  const admin2 = await connect(2, 'PLAINTEXT');
  const deleted = await admin2.send(51, 0, { deletions: [{ name: 'zoe', mechanism: SCRAM_MECHANISM_IDS['SCRAM-SHA-512'] }], upsertions: [] });
  assert.equal(deleted.results[0]?.errorCode, ErrorCode.NONE);
  for (const id of [0, 1, 2]) assert.equal(await loginCode(id, 'zoe', 'zoe-pw', ErrorCode.SASL_AUTHENTICATION_FAILED), ErrorCode.SASL_AUTHENTICATION_FAILED, `broker ${id}`);
});

test('kafscale users set writes straight into etcd; running brokers accept the user', async () => {
  await createUser({ KAFSCALE_ETCD_ENDPOINTS: cluster.etcd.endpoint }, 'yuri', 'yuri-pw', 'SCRAM-SHA-512');
  for (const id of [0, 1, 2]) assert.equal(await loginCode(id, 'yuri', 'yuri-pw', ErrorCode.NONE), ErrorCode.NONE, `broker ${id}`);
});
