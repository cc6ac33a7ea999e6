/**
 * S3 answering 503 SlowDown / 500 for a while, and S3 being slow, under real clients. The broker reaches
 * s3rver through an HTTP fault proxy. While S3 fails: produce fails only with retriable errors and a
 * kafkajs send started during the failure is delivered once S3 recovers (by the adapter's bounded
 * retries or, when those run out, the client's own retries); a Fetch of data the broker already
 * holds keeps working. While S3 is slow: produce still succeeds. Afterwards every acknowledged record is
 * readable exactly once at its offset, and the broker needed no restart.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { startBrokerBehindFaultProxy } from './fault-proxy-broker.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { readPartition } from './partition-reader.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';

const FAULT_MS = 3_000;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('S3 503/500 and slowness: retriable errors only, client retries succeed, cached fetch works, nothing lost', { timeout: 90_000 }, async () => {
  const { proxy, broker } = await startBrokerBehindFaultProxy(cleanups);
  const topic = `s3http-${randomUUID().slice(0, 8)}`;
  const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 2_000 } });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), true);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  cleanups.push(() => producer.disconnect());

  const sent: string[] = [];
  const send = async (label: string, count: number): Promise<void> => {
    const values = Array.from({ length: count }, (_, i) => `${label}-${i}`);
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
    sent.push(...values);
  };

  // Before: healthy.
  await send('before', 50);

  // S3 fails every request for a while; one raw produce shows the error is retriable, and a kafkajs
  // send started during the fault is delivered after recovery.
  proxy.persistent = { status: 503, code: 'SlowDown' };
  const client = await WireClient.connect(broker.host, broker.port);
  cleanups.push(async () => client.close());
  const raw = await client.send(0, 9, {
    transactionalId: null, acks: -1, timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value: Buffer.from('raw-during-fault') }] }) }] }],
  }, 40_000);
  const rawCode = raw.responses[0]?.partitionResponses[0]?.errorCode;
  assert.equal(rawCode, 56, 'produce during an S3 failure answers KAFKA_STORAGE_ERROR (retriable), never success');

  // Data acknowledged before the fault is still served while S3 fails (owner's tail / range cache).
  const during = await client.send(1, 12, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const fetched = during.responses[0]?.partitions[0];
  assert.equal(fetched?.errorCode, 0);
  assert.ok((fetched?.records?.length ?? 0) > 0, 'cached data is fetched while S3 fails');

  const retried = send('fault', 20);
  await sleep(FAULT_MS);
  proxy.persistent = { status: 500, code: 'InternalError' };
  await sleep(500);
  proxy.persistent = undefined;
  await retried;

  // S3 slow: every request takes 300 ms more; produce still succeeds.
  proxy.delayMs = 300;
  await send('slow', 20);
  proxy.delayMs = 0;
  await send('after', 20);

  // Everything acknowledged is there exactly once, in order; the raw request failed, so it is absent.
  const contents = await readPartition(broker.host, broker.port, topic, 0);
  const stored = contents.batches.flatMap((batch) => decodeRecordBatch(batch).records.map((r) => r.value?.toString() ?? ''));
  assert.ok(!stored.includes('raw-during-fault'), 'a failed produce is not stored');
  assert.deepEqual(stored, sent, 'every acknowledged record exactly once, in send order');
  assert.ok(proxy.requests > 0);
});
