/**
 * `kafscale proxy` as an operator meets it: a missing bootstrap list is refused naming the setting;
 * /healthz, /readyz and /metrics; a dead address in the bootstrap list is skipped; acks=0 produce is
 * forwarded without an answer; SIGTERM lets a long poll in flight finish before the process exits 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRequest } from '../../src/protocol/codec/index.ts';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { freePort } from '../helpers/free-port.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { startProxy } from './proxy-process.ts';

const ENTRY = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'src', 'bin', 'kafscale.ts');
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const TOPIC = 'proxy-ops';

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({ logLevel: 'warn' });
  const client = await WireClient.connect(broker.host, broker.port);
  try {
    const created = await client.send(19, 5, { topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5_000, validateOnly: false });
    assert.equal(created.topics[0]?.errorCode, 0);
  } finally {
    client.close();
  }
});
after(() => broker?.stop());

test('without KAFSCALE_PROXY_BOOTSTRAP the proxy refuses to start and names the setting', () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KAFSCALE_')));
  const result = spawnSync(process.execPath, [ENTRY, 'proxy'], { env: { ...env, KAFSCALE_PROXY_ADDR: '127.0.0.1:0', KAFSCALE_METRICS_ADDR: '127.0.0.1:0' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /KAFSCALE_PROXY_BOOTSTRAP/);
  const bad = spawnSync(process.execPath, [ENTRY, 'proxy'], { env: { ...env, KAFSCALE_PROXY_BOOTSTRAP: 'no-port-here' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /KAFSCALE_PROXY_BOOTSTRAP.*host:port/);
});

test('with no reachable broker the proxy is alive but not ready', async () => {
  const dead = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const proxy = await startProxy({ bootstrap: dead, waitFor: '/healthz' });
  try {
    const ready = await proxy.ops('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /no fresh metadata/);
    const metrics = await proxy.ops('/metrics');
    assert.match(metrics.body, /kafscale_proxy_metadata_age_seconds -1/);
    assert.match(metrics.body, /kafscale_proxy_metadata_refreshes_total\{outcome="error"\} [1-9]/);
  } finally {
    assert.equal(await proxy.stop(), 0);
  }
});

test('a dead bootstrap address is skipped; acks=0 produce is forwarded; SIGTERM lets a long poll finish', async () => {
  const dead = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const proxy = await startProxy({ bootstrap: `${dead},${broker.bootstrap}` });
  const client = await WireClient.connect(proxy.host, proxy.port);
  try {
    assert.equal((await proxy.ops('/readyz')).status, 200);
    // acks=0: no answer; the records still reach the owner.
    const records = encodeRecordBatch({ records: [{ value: Buffer.from('fire-and-forget') }] });
    const chunks = encodeRequest(0, 9, 99, 'ops-test', {
      transactionalId: null, acks: 0, timeoutMs: 5_000, topicData: [{ name: TOPIC, partitionData: [{ index: 1, records }] }],
    });
    const size = Buffer.alloc(4);
    size.writeInt32BE(chunks.reduce((n, c) => n + c.length, 0));
    client.sendRaw(Buffer.concat([size, ...chunks]));
    let end = -1n;
    for (let attempt = 0; attempt < 50 && end < 1n; attempt++) {
      const listed = await client.send(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
      end = listed.topics[0]?.partitions[0]?.offset ?? -1n;
      if (end < 1n) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(end, 1n, 'the acks=0 batch was stored');

    // A long poll in flight when SIGTERM arrives is answered before the connection closes.
    const startedAt = Date.now();
    const poll = client.send(1, 12, {
      replicaId: -1, maxWaitMs: 2_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID }] }],
      forgottenTopicsData: [], rackId: '',
    }, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const stopped = proxy.stop();
    const answer = await poll;
    assert.equal(answer.responses[0]?.partitions[0]?.errorCode, 0);
    assert.ok(Date.now() - startedAt >= 1_800, 'the long poll ran its course');
    assert.equal(await stopped, 0, 'the proxy exits 0 after draining');
  } finally {
    client.close();
    await proxy.stop();
  }
});
