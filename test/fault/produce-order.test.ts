/**
 * A real broker keeps an idempotent producer's batches in order after it refused one (produce-order.ts,
 * docs/design/idempotence.md): batch 1 is refused while S3 is down (KAFKA_STORAGE_ERROR, not written);
 * batch 2, sent on the same connection before the client resent batch 1, is a sequence gap — answered
 * NOT_LEADER_OR_FOLLOWER (not written, retriable) instead of OUT_OF_ORDER_SEQUENCE_NUMBER, which
 * librdkafka 2.0.2 treats as fatal or answers with an epoch bump. Resent in order, both are written once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { startBroker } from '../helpers/broker-process.ts';
import { brokerS3Env, startS3Server } from '../helpers/s3-server.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { ToggleProxy } from './toggle-proxy.ts';

const NONE = 0;
const NOT_LEADER_OR_FOLLOWER = 6;
const KAFKA_STORAGE_ERROR = 56;
const PRODUCER_ID = 4242n;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('after a refused idempotent batch, a sequence gap on the same connection is a retriable refusal, and the resent batches land in order', { timeout: 90_000 }, async () => {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  const proxy = new ToggleProxy(s3.port);
  await proxy.up();
  cleanups.push(() => proxy.down());
  const broker = await startBroker({ env: brokerS3Env(s3, `http://127.0.0.1:${proxy.port}`) });
  cleanups.push(() => broker.stop());
  const topic = `order-${randomUUID().slice(0, 8)}`;
  const client = await WireClient.connect(broker.host, broker.port);
  cleanups.push(async () => client.close());
  const created = await client.send(19, 5, { topics: [{ name: topic, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }, 15_000);
  assert.equal(created.topics[0]?.errorCode, 0);

  const produce = async (sequence: number): Promise<{ errorCode: number; baseOffset: bigint; errorMessage: string | null }> => {
    const records = encodeRecordBatch({ records: [{ value: `seq-${sequence}` }], producerId: PRODUCER_ID, producerEpoch: 0, baseSequence: sequence });
    const response = await client.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }, 60_000);
    const result = response.responses[0]?.partitionResponses[0];
    assert.ok(result);
    return { errorCode: result.errorCode, baseOffset: result.baseOffset, errorMessage: result.errorMessage ?? null };
  };

  assert.equal((await produce(0)).errorCode, NONE);
  await proxy.down();
  assert.equal((await produce(1)).errorCode, KAFKA_STORAGE_ERROR, 'S3 is down: batch 1 is not written');
  await proxy.up();
  const gap = await produce(2);
  assert.equal(gap.errorCode, NOT_LEADER_OR_FOLLOWER, `a gap right after a refusal: ${gap.errorMessage}`);
  assert.match(gap.errorMessage ?? '', /not written/);
  const one = await produce(1);
  const two = await produce(2);
  assert.deepEqual([one.errorCode, two.errorCode], [NONE, NONE]);
  assert.deepEqual([one.baseOffset, two.baseOffset], [1n, 2n], 'in order, each once');
});
