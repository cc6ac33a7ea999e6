/**
 * S3 outage during acks=all produce. The broker reaches s3rver through a ToggleProxy; the proxy is
 * taken down for a few seconds (connections reset, then refused) and brought back on the same port.
 * While S3 is unreachable, a Produce sent after the outage began and answered before it ended is never
 * a success (its flush could not be PUT) and fails with KAFKA_STORAGE_ERROR (56, retriable); after S3
 * is back, produce succeeds again; afterwards every acknowledged record is stored once at its offset.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker } from '../helpers/broker-process.ts';
import { createKafkajsTopic } from '../helpers/create-kafkajs-topic.ts';
import { brokerS3Env, startS3Server } from '../helpers/s3-server.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { verifyAcknowledged, type Ack } from './crash-produce-run.ts';
import { ToggleProxy } from './toggle-proxy.ts';

const KAFKA_STORAGE_ERROR = 56;
const OUTAGE_MS = 4_000;

interface Attempt {
  readonly sentMs: number;
  readonly answeredMs: number;
  readonly errorCode: number;
  readonly ack: Ack | null;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('S3 down during produce: storage errors, never success; produce resumes when S3 is back, nothing lost', { timeout: 90_000 }, async () => {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  const proxy = new ToggleProxy(s3.port);
  await proxy.up();
  cleanups.push(() => proxy.down());
  const broker = await startBroker({
    env: {
      ...brokerS3Env(s3, `http://127.0.0.1:${proxy.port}`),
    },
  });
  cleanups.push(() => broker.stop());
  const topic = `s3fault-${randomUUID().slice(0, 8)}`;
  await createKafkajsTopic(broker.bootstrap, topic, 1);

  const attempts: Attempt[] = [];
  let stop = false;
  let sequence = 0;
  const client = await WireClient.connect(broker.host, broker.port);
  cleanups.push(async () => client.close());
  const lane = async (): Promise<void> => {
    const deadlineMs = Date.now() + 60_000;
    while (!stop && Date.now() < deadlineMs) {
      const values = Array.from({ length: 4 }, (_, i) => `s${sequence}-r${i}`);
      sequence++;
      const sentMs = Date.now();
      const response = await client.send(
        0,
        7,
        { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeRecordBatch({ records: values.map((value) => ({ value })) }) }] }] },
        40_000,
      );
      const result = response.responses[0]?.partitionResponses[0];
      assert.ok(result);
      attempts.push({
        sentMs,
        answeredMs: Date.now(),
        errorCode: result.errorCode,
        ack: result.errorCode === 0 ? { partition: 0, baseOffset: result.baseOffset, values } : null,
      });
      if (result.errorCode !== 0) await sleep(50);
    }
  };
  const lanes = [lane(), lane()];

  await sleep(1_000);
  const downMs = Date.now();
  await proxy.down();
  await sleep(OUTAGE_MS);
  const upMs = Date.now();
  await proxy.up();
  await sleep(3_000);
  stop = true;
  await Promise.all(lanes);

  const duringOutage = attempts.filter((a) => a.sentMs > downMs && a.answeredMs < upMs);
  const codes = [...new Set(duringOutage.map((a) => a.errorCode))];
  console.log(
    `s3-faults: ${attempts.length} produce requests, ${duringOutage.length} sent+answered during the ${OUTAGE_MS} ms outage (codes ${codes.join(',')}), ` +
      `${attempts.filter((a) => a.ack !== null).length} acknowledged`,
  );
  assert.ok(attempts.some((a) => a.ack !== null && a.answeredMs < downMs), 'produce worked before the outage');
  assert.ok(duringOutage.length > 0, 'some produce requests were answered while S3 was down');
  assert.deepEqual(codes, [KAFKA_STORAGE_ERROR], 'while S3 is down, produce fails with KAFKA_STORAGE_ERROR only');
  assert.ok(attempts.some((a) => a.ack !== null && a.sentMs > upMs), 'produce succeeds again after S3 is back');

  const acks = attempts.flatMap((a) => (a.ack === null ? [] : [a.ack]));
  const verified = await verifyAcknowledged(broker, topic, 1, acks);
  assert.equal(verified.acknowledgedRecords, acks.length * 4);
});
