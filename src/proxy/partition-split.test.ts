import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequestHeader, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { encodeRecordBatch } from '../protocol/records/index.ts';
import {
  FETCH_SHAPE,
  LIST_OFFSETS_SHAPE,
  PRODUCE_SHAPE,
  errorResponse,
  mergeResponses,
  partitionKey,
  partitionsWithErrors,
  requestPartitions,
  splitByOwner,
  subsetRequest,
} from './partition-split.ts';
import { allIdempotent } from './partitioned-forwarder.ts';
import { hasErrorCode } from './group-router.ts';

type Struct = Record<string, unknown>;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const nameOf = (field: string) => (topic: Struct): string | null => (topic[field] as string) || null;

function batch(producerId: bigint, value: string): Buffer {
  return encodeRecordBatch({ producerId, producerEpoch: producerId < 0n ? -1 : 0, baseSequence: producerId < 0n ? -1 : 0, records: [{ value: Buffer.from(value) }] });
}

/** A Produce request as the proxy receives it: encoded by a client, decoded by the codec. */
function decodedProduce(version: number, topics: Array<{ name: string; partitions: Array<{ index: number; records: Buffer }> }>): { request: Struct; frame: Buffer } {
  const chunks = encodeRequest(0, version, 7, 'client', {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5_000,
    topicData: topics.map((t) => ({ name: t.name, partitionData: t.partitions })),
  });
  const frame = Buffer.concat(chunks);
  const header = decodeRequestHeader(frame);
  return { request: decodeRequest(0, version, frame, header.bodyOffset) as unknown as Struct, frame };
}

const owners: Record<string, string> = { 'a/0': 'b1:9092', 'a/1': 'b2:9092', 'a/2': 'b1:9092', 'b/0': 'b3:9092' };
const ownerOf = (topic: string | null, partition: number): string => owners[`${topic}/${partition}`] ?? '';

test('a Produce request splits into one request per owner, each with only its topics and partitions', () => {
  const { request } = decodedProduce(9, [
    { name: 'a', partitions: [0, 1, 2].map((index) => ({ index, records: batch(-1n, `a${index}`) })) },
    { name: 'b', partitions: [{ index: 0, records: batch(-1n, 'b0') }, { index: 7, records: batch(-1n, 'b7') }] },
  ]);
  const split = splitByOwner(PRODUCE_SHAPE, request, nameOf('name'), ownerOf);
  assert.deepEqual([...split.keys()].sort(), ['', 'b1:9092', 'b2:9092', 'b3:9092']);
  const parts = (owner: string): string[] =>
    ((split.get(owner)?.['topicData'] as Struct[]) ?? []).flatMap((t) => (t['partitionData'] as Struct[]).map((p) => `${String(t['name'])}/${String(p['index'])}`));
  assert.deepEqual(parts('b1:9092'), ['a/0', 'a/2']);
  assert.deepEqual(parts('b2:9092'), ['a/1']);
  assert.deepEqual(parts('b3:9092'), ['b/0']);
  // A partition without a known owner goes to any broker, which answers it with the right error.
  assert.deepEqual(parts(''), ['b/7']);
  // Top-level fields are kept.
  assert.equal(split.get('b1:9092')?.['acks'], -1);
  assert.equal(split.get('b1:9092')?.['timeoutMs'], 5_000);
});

test('record batches of a split request are passed by reference, never copied', () => {
  // The codec's Writer appends byte fields of 1 KiB and more by reference (smaller ones are cheaper to copy).
  const records = batch(5n, 'p'.repeat(4096));
  const { request } = decodedProduce(9, [{ name: 'a', partitions: [{ index: 0, records }, { index: 1, records: batch(5n, 'other') }] }]);
  const decoded = ((request['topicData'] as Struct[])[0]?.['partitionData'] as Struct[])[0]?.['records'] as Buffer;
  const split = splitByOwner(PRODUCE_SHAPE, request, nameOf('name'), ownerOf);
  const sub = split.get('b1:9092') as Struct;
  const chunks = encodeRequest(0, 9, 1, 'proxy', sub as never);
  // The codec appends record bytes by reference: one of the chunks is the very view decoded from the client frame.
  assert.ok(chunks.some((chunk) => chunk.buffer === decoded.buffer && chunk.byteOffset === decoded.byteOffset && chunk.length === decoded.length));
  // And the sub-request decodes to exactly the client's batch.
  const frame = Buffer.concat(chunks);
  const again = decodeRequest(0, 9, frame, decodeRequestHeader(frame).bodyOffset);
  assert.deepEqual(again.topicData[0]?.partitionData[0]?.records, records);
  assert.equal(again.topicData[0]?.partitionData.length, 1);
});

test('subsetRequest keeps only the named partitions; partitionsWithErrors finds moved ones', () => {
  const { request } = decodedProduce(9, [{ name: 'a', partitions: [0, 1, 2].map((index) => ({ index, records: batch(-1n, 'x') })) }]);
  const refs = requestPartitions(PRODUCE_SHAPE, request, nameOf('name'));
  assert.deepEqual(refs.map((r) => r.partition), [0, 1, 2]);
  const key1 = partitionKey(refs[1]?.topicKey ?? '', 1);
  const subset = subsetRequest(PRODUCE_SHAPE, request, new Set([key1]));
  assert.deepEqual(((subset?.['topicData'] as Struct[])[0]?.['partitionData'] as Struct[]).map((p) => p['index']), [1]);
  assert.equal(subsetRequest(PRODUCE_SHAPE, request, new Set()), null);

  const response = {
    responses: [{ name: 'a', partitionResponses: [PRODUCE_SHAPE.errorPartition(0, 0), PRODUCE_SHAPE.errorPartition(1, ErrorCode.NOT_LEADER_OR_FOLLOWER)] }],
  };
  // Request and response name a partition the same way, so a moved partition found in an answer selects it in the request.
  assert.deepEqual([...partitionsWithErrors(PRODUCE_SHAPE, response, new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER]))], [key1]);
});

test('answers merge into one topic entry per topic; a later answer for a partition wins (the retry)', () => {
  const ok = (index: number, baseOffset: bigint): Struct => ({ ...PRODUCE_SHAPE.errorPartition(index, 0), baseOffset });
  const fromB1 = { throttleTimeMs: 5, responses: [{ name: 'a', partitionResponses: [ok(0, 10n), PRODUCE_SHAPE.errorPartition(2, ErrorCode.NOT_LEADER_OR_FOLLOWER)] }], nodeEndpoints: [] };
  const fromB2 = { throttleTimeMs: 20, responses: [{ name: 'a', partitionResponses: [ok(1, 4n)] }, { name: 'b', partitionResponses: [ok(0, 1n)] }], nodeEndpoints: [] };
  const retried = { throttleTimeMs: 0, responses: [{ name: 'a', partitionResponses: [ok(2, 99n)] }], nodeEndpoints: [] };
  const merged = mergeResponses(PRODUCE_SHAPE, [fromB1, fromB2, retried]);
  assert.equal(merged['throttleTimeMs'], 20);
  const topics = merged['responses'] as Struct[];
  assert.deepEqual(topics.map((t) => t['name']), ['a', 'b']);
  const a = (topics[0]?.['partitionResponses'] as Struct[]).map((p) => [p['index'], p['errorCode'], p['baseOffset']]);
  assert.deepEqual(a.sort((x, y) => Number(x[0]) - Number(y[0])), [[0, 0, 10n], [1, 0, 4n], [2, 0, 99n]]);
  // The merged answer is a valid Produce response at every version the proxy serves.
  for (const version of [3, 7, 9, 11]) {
    const frame = Buffer.concat(encodeResponse(0, version, 3, merged as never));
    assert.equal(decodeResponse(0, version, frame).body.responses.length, 2);
  }
});

test('Fetch v13+ names topics by id: split resolves the id to a name, merge keeps topics apart by id', () => {
  const idA = '11111111-1111-1111-1111-111111111111';
  const chunks = encodeRequest(1, 13, 1, 'c', {
    replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: '', topicId: idA, partitions: [0, 1].map((partition) => ({ partition, currentLeaderEpoch: 3, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: ZERO_UUID })) }],
    forgottenTopicsData: [], rackId: '',
  });
  const frame = Buffer.concat(chunks);
  const request = decodeRequest(1, 13, frame, decodeRequestHeader(frame).bodyOffset) as unknown as Struct;
  const names = new Map([[idA, 'a']]);
  const split = splitByOwner(FETCH_SHAPE, request, (t) => names.get(t['topicId'] as string) ?? null, ownerOf);
  assert.deepEqual([...split.keys()].sort(), ['b1:9092', 'b2:9092']);
  const sub = split.get('b2:9092') as Struct;
  assert.equal((sub['topics'] as Struct[])[0]?.['topicId'], idA);
  assert.equal(sub['maxWaitMs'], 500);

  const data = (partitionIndex: number, records: Buffer | null): Struct => ({ ...FETCH_SHAPE.errorPartition(partitionIndex, 0), highWatermark: 5n, records });
  const one = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: '', topicId: idA, partitions: [data(0, null)] }], nodeEndpoints: [] };
  const two = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: '', topicId: idA, partitions: [data(1, batch(-1n, 'v'))] }], nodeEndpoints: [] };
  const merged = mergeResponses(FETCH_SHAPE, [one, two]);
  assert.equal((merged['responses'] as Struct[]).length, 1);
  const decoded = decodeResponse(1, 13, Buffer.concat(encodeResponse(1, 13, 1, merged as never))).body;
  assert.deepEqual(decoded.responses[0]?.partitions.map((p) => p.partitionIndex), [0, 1]);
  assert.equal(decoded.responses[0]?.topicId, idA);
  assert.equal(decoded.responses[0]?.partitions[1]?.records?.length, batch(-1n, 'v').length);
});

test('errorResponse answers every requested partition with the code, and encodes', () => {
  const chunks = encodeRequest(2, 7, 1, 'c', {
    replicaId: -1, isolationLevel: 0,
    topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }, { partitionIndex: 3, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }] }],
  });
  const frame = Buffer.concat(chunks);
  const request = decodeRequest(2, 7, frame, decodeRequestHeader(frame).bodyOffset) as unknown as Struct;
  const response = errorResponse(LIST_OFFSETS_SHAPE, request, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const decoded = decodeResponse(2, 7, Buffer.concat(encodeResponse(2, 7, 1, response as never))).body;
  assert.deepEqual(decoded.topics[0]?.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset]), [[0, 6, -1n], [3, 6, -1n]]);
});

test('a Produce is repeatable after a lost connection only when every batch is idempotent', () => {
  const idempotent = decodedProduce(9, [{ name: 'a', partitions: [{ index: 0, records: batch(42n, 'x') }, { index: 1, records: batch(42n, 'y') }] }]);
  const plain = decodedProduce(9, [{ name: 'a', partitions: [{ index: 0, records: batch(42n, 'x') }, { index: 1, records: batch(-1n, 'y') }] }]);
  assert.equal(allIdempotent(idempotent.request), true);
  assert.equal(allIdempotent(plain.request), false);
});

test('coordinator errors are found wherever a group answer carries them', () => {
  const moved = new Set([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  assert.equal(hasErrorCode({ errorCode: 16, memberId: '' }, moved), true);
  assert.equal(hasErrorCode({ errorCode: 0, topics: [{ name: 't', partitions: [{ errorCode: 15 }] }] }, moved), true);
  assert.equal(hasErrorCode({ errorCode: 0, topics: [{ name: 't', partitions: [{ errorCode: 0 }] }], metadata: Buffer.from([16]) }, moved), false);
});
