/**
 * A broker on an etcd that requires TLS client certificates and a password (test PKI made by the
 * helper with openssl): configured only through KAFSCALE_ETCD_* settings it serves produce and fetch
 * and keeps its metadata in that etcd; given a wrong password or no client certificate it refuses to
 * start, quickly, with a message that names the setting to fix and does not echo the password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { startEtcdServer, type EtcdServer, type EtcdTestPki } from '../helpers/etcd-server.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const USER = 'kafscale-broker';
const PASSWORD = 'broker-secret-7f3a';
const TOPIC = 'etcd-tls';
const CREATE_TOPICS_VERSION = 5;
const PRODUCE_VERSION = 11;
const FETCH_VERSION = 12;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
/** A start-up refused by etcd must not take anywhere near the helper's 20 s readiness bound. */
const FAIL_FAST_MS = 10_000;

describe('broker on etcd with TLS client certificates and authentication', { timeout: 60_000 }, () => {
  let etcd: EtcdServer;
  let pki: EtcdTestPki;
  let broker: BrokerProcess | undefined;
  let client: WireClient | undefined;

  const etcdEnv = (overrides: Readonly<Record<string, string>> = {}): Record<string, string> => ({
    KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
    KAFSCALE_ETCD_USERNAME: USER,
    KAFSCALE_ETCD_PASSWORD: PASSWORD,
    KAFSCALE_ETCD_CA_FILE: pki.caFile,
    KAFSCALE_ETCD_CERT_FILE: pki.clientCertFile,
    KAFSCALE_ETCD_KEY_FILE: pki.clientKeyFile,
    KAFSCALE_BROKER_ID: '0',
    ...overrides,
  });

  before(async () => {
    etcd = await startEtcdServer({ tls: true, auth: { username: USER, password: PASSWORD } });
    assert.ok(etcd.pki !== null && etcd.endpoint.startsWith('https://'));
    pki = etcd.pki;
  });

  after(async () => {
    client?.close();
    await broker?.stop();
    await etcd?.close();
  });

  it('serves produce and fetch, with its metadata in the TLS + auth etcd', async () => {
    broker = await startBroker({ env: etcdEnv(), logLevel: 'warn' });
    const wire = await WireClient.connect(broker.host, broker.port, 'etcd-tls-test');
    client = wire;
    const created = await wire.send(19, CREATE_TOPICS_VERSION, {
      topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false,
    }, 10_000);
    assert.equal(created.topics[0]?.errorCode, 0, `CreateTopics: ${created.topics[0]?.errorMessage ?? ''}`);

    // The broker takes ownership of the partition asynchronously: retry retriable refusals, bounded.
    let produced: { errorCode: number; baseOffset: bigint } | undefined;
    await waitFor('a produce the new owner accepts', async () => {
      const records = encodeRecordBatch({ records: [{ value: 'over-tls', timestamp: BigInt(Date.now()) }] });
      const response = await wire.send(0, PRODUCE_VERSION, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] }, 15_000);
      produced = response.responses[0]?.partitionResponses[0];
      return produced?.errorCode === 0;
    }, { timeoutMs: 15_000, intervalMs: 100, detail: () => `produce error code ${String(produced?.errorCode)}` });
    assert.equal(produced?.errorCode, 0, `produce error code ${String(produced?.errorCode)}`);
    assert.equal(produced.baseOffset, 0n);

    const fetched = await client.send(1, FETCH_VERSION, {
      clusterId: null, replicaId: -1, replicaState: { replicaId: -1, replicaEpoch: -1n }, maxWaitMs: 0, minBytes: 0, maxBytes: 1_048_576, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1_048_576, replicaDirectoryId: ZERO_UUID }] }],
      forgottenTopicsData: [], rackId: '',
    }, 10_000);
    const partition = fetched.responses[0]?.partitions[0];
    assert.equal(partition?.errorCode, 0);
    assert.equal(partition.highWatermark, 1n);
    assert.ok(partition.records !== null && partition.records.includes(Buffer.from('over-tls')), 'the fetched batch holds the produced value');

    // The metadata really is in this etcd (not an embedded store): read it as root over TLS.
    const admin = new Etcd3({
      hosts: etcd.endpoint,
      credentials: { rootCertificate: pki.ca, certChain: pki.clientCert, privateKey: pki.clientKey },
      auth: { username: 'root', password: etcd.auth?.rootPassword ?? '' },
    });
    try {
      const keys = await admin.getAll().keys();
      assert.ok(keys.some((key) => key.includes(TOPIC)), `etcd holds keys of topic ${TOPIC}: ${keys.slice(0, 20).join(' ')}`);
    } finally {
      admin.close();
    }
  });

  async function assertRefusedAtStart(env: Record<string, string>, mentions: readonly RegExp[]): Promise<void> {
    const started = Date.now();
    await assert.rejects(startBroker({ env, logLevel: 'warn' }), (error: unknown) => {
      const message = (error as Error).message;
      assert.match(message, /exited \(code 1/, 'the broker process exits with status 1');
      for (const pattern of mentions) assert.match(message, pattern);
      assert.ok(!message.includes(PASSWORD), 'the password is never printed');
      return true;
    });
    assert.ok(Date.now() - started < FAIL_FAST_MS, `refused after ${Date.now() - started} ms`);
  }

  it('a wrong password stops the broker at start with a message naming the setting', async () => {
    await assertRefusedAtStart(etcdEnv({ KAFSCALE_ETCD_PASSWORD: 'not-the-password' }), [
      /broker failed to start/,
      /KSC_META_AUTH_FAILED|wrong user name or password/,
      /KAFSCALE_ETCD_PASSWORD/,
    ]);
  });

  it('no client certificate stops the broker at start with a message naming the certificate settings', async () => {
    const env = etcdEnv();
    delete env['KAFSCALE_ETCD_CERT_FILE'];
    delete env['KAFSCALE_ETCD_KEY_FILE'];
    await assertRefusedAtStart(env, [/etcd requires a client certificate and none was given/, /KAFSCALE_ETCD_CERT_FILE/]);
  });
});
