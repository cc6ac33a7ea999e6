/**
 * Start-up against an object store that is down or wrong. A bucket that does not exist is a
 * configuration error: the broker exits at once, naming the settings. A store that is merely down is an
 * outage: the broker starts and listens (a pod restarted during an S3 incident must not crash-loop),
 * /readyz names the object store within its probe bound, produce fails retriably, and everything works
 * once the store answers (docs/reliability.md, finding 3).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker } from '../helpers/broker-process.ts';
import { brokerS3Env, startS3Server } from '../helpers/s3-server.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { ToggleProxy } from './toggle-proxy.ts';
import { waitFor } from '../helpers/wait-for.ts';

const KAFKA_STORAGE_ERROR = 56;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function readyz(opsPort: number): Promise<{ status: number; body: { ready: boolean; failures: Record<string, string> }; ms: number }> {
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
  return { status: response.status, body: (await response.json()) as { ready: boolean; failures: Record<string, string> }, ms: Date.now() - started };
}

test('a bucket that does not exist stops start-up with a message naming the settings', { timeout: 60_000 }, async () => {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  await assert.rejects(
    startBroker({ env: { ...brokerS3Env(s3), KAFSCALE_S3_BUCKET: 'no-such-bucket' } }),
    (error: Error) => /exited/.test(error.message) && /no-such-bucket/.test(error.message) && /KAFSCALE_S3_BUCKET/.test(error.message),
  );
});

test('S3 down at start-up: the broker listens, is not ready, refuses produce retriably, and recovers when S3 answers', { timeout: 90_000 }, async () => {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  const proxy = new ToggleProxy(s3.port);
  await proxy.up();
  await proxy.down(); // the port now refuses connections; up() brings it back on the same port
  cleanups.push(() => proxy.down());
  const started = Date.now();
  const broker = await startBroker({ env: brokerS3Env(s3, `http://127.0.0.1:${proxy.port}`) });
  cleanups.push(() => broker.stop());
  const startMs = Date.now() - started;
  assert.ok(startMs < 20_000, `listening after ${startMs} ms`);
  assert.match(broker.logs(), /is not answering; starting anyway/);

  const notReady = await readyz(broker.opsPort);
  assert.equal(notReady.status, 503);
  assert.ok(notReady.body.failures.objectStore !== undefined, JSON.stringify(notReady.body));
  assert.ok(notReady.ms < 5_000, `/readyz answered in ${notReady.ms} ms`);

  // Topics live in the metadata store: creating one works during the outage.
  const topic = `s3start-${randomUUID().slice(0, 8)}`;
  const client = await WireClient.connect(broker.host, broker.port);
  cleanups.push(async () => client.close());
  const created = await client.send(19, 5, { topics: [{ name: topic, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }, 15_000);
  assert.equal(created.topics[0]?.errorCode, 0);

  const produce = async (value: string): Promise<{ errorCode: number; baseOffset: bigint }> => {
    const response = await client.send(
      0,
      7,
      { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value }] }) }] }] },
      60_000,
    );
    const result = response.responses[0]?.partitionResponses[0];
    assert.ok(result);
    return { errorCode: result.errorCode, baseOffset: result.baseOffset };
  };
  const during = await produce('during-outage');
  assert.equal(during.errorCode, KAFKA_STORAGE_ERROR, 'not written while S3 is down, and the client is told to retry');

  await proxy.up();
  let ready = await readyz(broker.opsPort);
  await waitFor('/readyz 200 once S3 is back', async () => (ready = await readyz(broker.opsPort)).status === 200, { timeoutMs: 20_000, intervalMs: 200, detail: () => JSON.stringify(ready.body) });
  const after = await produce('after-outage');
  assert.equal(after.errorCode, 0);
  assert.equal(after.baseOffset, 0n, 'the refused batch took no offset');
});
