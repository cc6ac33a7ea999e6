import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { ProduceRequest, ProduceResponse } from '../../protocol/messages/index.ts';
import { encodeRecordBatch } from '../../protocol/records/record-batch-codec.ts';
import { ALLOW_ALL } from '../../services/security/acl-authorizer.ts';
import type { RequestContext } from '../broker-services.ts';
import type { ConnectionContext } from '../dispatch.ts';
import { ProduceOrder } from '../../protocol/produce-order.ts';
import { produceApi } from './produce.ts';

const TOPIC = { name: 'orders', id: '11111111-2222-4333-8444-555555555555', partitions: 1, configs: {}, createdMs: 0 };

/** One partition whose ownership the test switches; appends are recorded by base sequence. */
class FakePartition {
  owned = false;
  readonly appended: number[] = [];
  /** The idempotent check: the next sequence the partition expects. */
  nextSequence = 0;
}

function context(partition: FakePartition, order: ProduceOrder): RequestContext {
  const log = pino({ level: 'silent' });
  return {
    apiKey: 0,
    apiVersion: 9,
    correlationId: 1,
    clientId: null,
    principal: 'User:ANONYMOUS',
    listenerName: 'PLAINTEXT',
    connection: { produceOrder: order } as unknown as ConnectionContext,
    log,
    signal: new AbortController().signal,
    services: {
      settings: { brokerId: 1 },
      authorizer: ALLOW_ALL,
      topics: { get: (name: string) => (name === TOPIC.name ? TOPIC : undefined) },
      leaders: { leaderOf: () => ({ brokerId: 1, epoch: 3 }) },
      brokers: { get: () => undefined },
      // The broker is still acquiring: Produce is refused (another owner's lease has not ended yet).
      assigner: { ensureOwned: async () => (partition.owned ? { status: 'active' } : null) },
      logs: {
        owned: () => (partition.owned ? { status: 'active' } : undefined),
        append: async (_topic: unknown, _partition: number, batches: readonly Buffer[]) => {
          const sequence = batches[0]!.readInt32BE(53);
          if (sequence !== partition.nextSequence) {
            return { errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, errorMessage: `expected ${partition.nextSequence}`, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [] };
          }
          partition.nextSequence++;
          partition.appended.push(sequence);
          return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [] };
        },
      },
    },
  } as unknown as RequestContext;
}

function produce(baseSequence: number): ProduceRequest {
  const batch = encodeRecordBatch({ records: [{ key: null, value: Buffer.from(`seq-${baseSequence}`) }], producerId: 7n, producerEpoch: 0, baseSequence });
  return { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC.name, partitionData: [{ index: 0, records: batch }] }] } as unknown as ProduceRequest;
}

async function send(order: ProduceOrder, partition: FakePartition, baseSequence: number): Promise<number> {
  order.received();
  const response = (await produceApi.handle(produce(baseSequence), context(partition, order))) as ProduceResponse;
  return response.responses[0]!.partitionResponses[0]!.errorCode;
}

test('a produce pipelined behind a refused one for the same partition is refused too, even once the partition is owned', async () => {
  const order = new ProduceOrder();
  const partition = new FakePartition();
  order.received(); // an earlier request (a long poll) still unanswered: nothing below is written yet
  assert.equal(await send(order, partition, 0), ErrorCode.NOT_LEADER_OR_FOLLOWER, 'sequence 0: the partition is not ours yet');
  partition.owned = true; // acquired between the two pipelined requests
  assert.equal(await send(order, partition, 1), ErrorCode.NOT_LEADER_OR_FOLLOWER, 'sequence 1 must not be written without sequence 0');
  assert.deepEqual(partition.appended, []);
  for (let i = 0; i < 3; i++) order.written(); // the client reads the refusals, then retries in order
  assert.equal(await send(order, partition, 0), ErrorCode.NONE);
  assert.equal(await send(order, partition, 1), ErrorCode.NONE);
  assert.deepEqual(partition.appended, [0, 1]);
});

test('control: without an earlier refusal a pipelined produce to an owned partition is written', async () => {
  const order = new ProduceOrder();
  const partition = new FakePartition();
  partition.owned = true;
  order.received();
  assert.equal(await send(order, partition, 0), ErrorCode.NONE);
  assert.equal(await send(order, partition, 1), ErrorCode.NONE);
  assert.deepEqual(partition.appended, [0, 1]);
});

test('a sequence gap right after a refusal on the connection is answered as a refusal, not OUT_OF_ORDER_SEQUENCE_NUMBER', async () => {
  let nowMs = 0;
  const order = new ProduceOrder(() => nowMs);
  const partition = new FakePartition();
  assert.equal(await send(order, partition, 0), ErrorCode.NOT_LEADER_OR_FOLLOWER, 'sequence 0 refused: not ours yet');
  order.written(); // the refusal is on the wire; sequence 1 was sent before the client read it
  partition.owned = true;
  assert.equal(await send(order, partition, 1), ErrorCode.NOT_LEADER_OR_FOLLOWER, 'not written, retriable: the client resends 0 then 1');
  order.written();
  assert.equal(await send(order, partition, 0), ErrorCode.NONE);
  order.written();
  assert.equal(await send(order, partition, 1), ErrorCode.NONE);
  order.written();
  assert.deepEqual(partition.appended, [0, 1]);
  nowMs += 60_000; // long after the refusal a real gap is OUT_OF_ORDER_SEQUENCE_NUMBER again
  assert.equal(await send(order, partition, 5), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
});
