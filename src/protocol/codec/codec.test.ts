import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequest, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse, isSupportedByCodec,
  type RequestByKey, type ResponseByKey,
} from './index.ts';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from '../messages/index.ts';
import { compileMessage, parseVersions } from './plan.ts';
import { Random, randomStruct } from '../../../test/helpers/random-value.ts';
import { ProtocolError } from '../protocol-error.ts';
import type { MessageSchema } from './message-schema.ts';

function versionsOf(schema: MessageSchema): number[] {
  const range = parseVersions(schema.validVersions)!;
  const out: number[] = [];
  for (let v = range.min; v <= range.max; v++) out.push(v);
  return out;
}

const ITERATIONS = 4;

test('every request at every valid version round trips through encode/decode', () => {
  const rnd = new Random(0x5eed);
  let checked = 0;
  for (const [key, schema] of Object.entries(REQUEST_SCHEMAS)) {
    const apiKey = Number(key) as keyof RequestByKey;
    for (const version of versionsOf(schema)) {
      const plan = compileMessage(schema, version);
      for (let i = 0; i < ITERATIONS; i++) {
        const value = randomStruct(plan, rnd);
        const frame = Buffer.concat(encodeRequest(apiKey, version, 1000 + i, i % 2 === 0 ? 'client-é' : null, value));
        const header = decodeRequestHeader(frame);
        assert.equal(header.apiKey, apiKey);
        assert.equal(header.apiVersion, version);
        assert.equal(header.correlationId, 1000 + i);
        assert.equal(header.clientId, apiKey === 7 && version === 0 ? null : i % 2 === 0 ? 'client-é' : null);
        const decoded = decodeRequest(apiKey, version, frame, header.bodyOffset);
        assert.deepEqual(decoded, value, `${schema.name} v${version} iteration ${i}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 500, `only ${checked} request round trips ran`);
});

test('every response at every valid version round trips through encode/decode', () => {
  const rnd = new Random(0xbeef);
  for (const [key, schema] of Object.entries(RESPONSE_SCHEMAS)) {
    const apiKey = Number(key) as keyof ResponseByKey;
    for (const version of versionsOf(schema)) {
      const plan = compileMessage(schema, version);
      for (let i = 0; i < ITERATIONS; i++) {
        const value = randomStruct(plan, rnd);
        const frame = Buffer.concat(encodeResponse(apiKey, version, 77 + i, value as never));
        const { correlationId, body } = decodeResponse(apiKey, version, frame);
        assert.equal(correlationId, 77 + i);
        assert.deepEqual(body, value, `${schema.name} v${version} iteration ${i}`);
      }
    }
  }
});

test('request header v2 keeps ClientId as a classic int16 string; v1 has no tagged section', () => {
  const flexible = Buffer.concat(encodeRequest(18, 3, 5, 'abc', { clientSoftwareName: 'x', clientSoftwareVersion: '1' }));
  // apiKey(2) version(2) correlationId(4) clientId len int16(2) 'abc'(3) header tags(1)
  assert.deepEqual([...flexible.subarray(0, 14)], [0, 18, 0, 3, 0, 0, 0, 5, 0, 3, 0x61, 0x62, 0x63, 0]);
  assert.equal(decodeRequestHeader(flexible).bodyOffset, 14);
  const classic = Buffer.concat(encodeRequest(3, 1, 5, null, { topics: null }));
  assert.deepEqual([...classic], [0, 3, 0, 1, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(decodeRequestHeader(classic).bodyOffset, 10);
});

test('ApiVersions responses always use response header v0 (KIP-511); other flexible responses use v1', () => {
  const apiVersions = Buffer.concat(encodeResponse(18, 3, 9, {
    errorCode: 0, apiKeys: [], throttleTimeMs: 0, supportedFeatures: [], finalizedFeaturesEpoch: -1n, finalizedFeatures: [], zkMigrationReady: false,
  }));
  // correlationId(4) then immediately the body: errorCode int16
  assert.deepEqual([...apiVersions.subarray(0, 6)], [0, 0, 0, 9, 0, 0]);
  const heartbeat = Buffer.concat(encodeResponse(12, 4, 9, { throttleTimeMs: 0, errorCode: 0 }));
  // correlationId(4) header tags(1) throttleTimeMs(4) errorCode(2) body tags(1)
  assert.deepEqual([...heartbeat], [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('unknown apiKey or version still yields the header with bodyOffset -1', () => {
  const frame = Buffer.from([0x7f, 0x00, 0, 99, 0, 0, 0, 42, 0, 1, 0x78, 1, 2, 3]);
  assert.deepEqual(decodeRequestHeader(frame), { apiKey: 0x7f00, apiVersion: 99, correlationId: 42, clientId: 'x', bodyOffset: -1 });
  const future = Buffer.from([0, 18, 0x10, 0, 0, 0, 0, 1, 0xff, 0xff, 0]);
  assert.equal(decodeRequestHeader(future).bodyOffset, -1);
  assert.equal(isSupportedByCodec(18, 4), true);
  assert.equal(isSupportedByCodec(18, 0x1000), false);
  assert.throws(() => decodeRequest(18, 0x1000, future, 10), (e: unknown) => e instanceof ProtocolError && e.code === 'KSC_PROTOCOL_UNSUPPORTED_VERSION');
});

test('absent fields decode to schema defaults; encode skips fields the version lacks', () => {
  const frame = Buffer.concat(encodeRequest(3, 3, 1, 'c', { topics: [{ name: 't', topicId: 'ffffffff-ffff-ffff-ffff-ffffffffffff' }], allowAutoTopicCreation: false }));
  const header = decodeRequestHeader(frame);
  const body = decodeRequest(3, 3, frame, header.bodyOffset);
  // v3 has neither TopicId (10+) nor AllowAutoTopicCreation (4+, default true)
  assert.deepEqual(body, {
    topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 't' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
});

test('trailing bytes after a complete body are malformed', () => {
  const frame = Buffer.concat([...encodeRequest(12, 4, 1, 'c', { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), Buffer.from([0])]);
  assert.throws(() => decodeRequest(12, 4, frame, decodeRequestHeader(frame).bodyOffset), (e: unknown) => e instanceof ProtocolError && e.code === 'KSC_PROTOCOL_MALFORMED');
});

test('unknown tagged fields are skipped; known ones decoded; non-default tagged values are written', () => {
  const leader = { leaderId: 3, leaderEpoch: 7 };
  const body = {
    responses: [{ name: 't', topicId: '00000000-0000-0000-0000-000000000000', partitionResponses: [{ index: 0, errorCode: 6, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null, currentLeader: leader }] }],
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
  const frame = Buffer.concat(encodeResponse(0, 10, 1, body));
  const decoded = decodeResponse(0, 10, frame).body;
  assert.deepEqual(decoded.responses[0]!.partitionResponses[0]!.currentLeader, leader);
  // default CurrentLeader (-1/-1) is not written: the frame is shorter by the tagged field
  const defaultLeader = { ...body, responses: [{ ...body.responses[0]!, partitionResponses: [{ ...body.responses[0]!.partitionResponses[0]!, currentLeader: { leaderId: -1, leaderEpoch: -1 } }] }] };
  assert.ok(Buffer.concat(encodeResponse(0, 10, 1, defaultLeader)).length < frame.length);
  // Heartbeat response v4 with unknown tags in both the header (tag 5) and the body (tag 99).
  const hb = Buffer.from([0, 0, 0, 1, 1, 5, 1, 0xee, 0, 0, 0, 0, 0, 0, 1, 99, 2, 0xab, 0xcd]);
  assert.deepEqual(decodeResponse(12, 4, hb).body, { throttleTimeMs: 0, errorCode: 0 });
  // a known tag whose size disagrees with its content is malformed
  const bad = Buffer.concat(encodeResponse(0, 10, 1, body));
  const tagAt = bad.lastIndexOf(Buffer.from([1, 0, 9, 0, 0, 0, 3, 0, 0, 0, 7]));
  assert.ok(tagAt > 0, 'found the CurrentLeader tagged field');
  bad[tagAt + 2] = 10;
  assert.throws(() => decodeResponse(0, 10, bad), ProtocolError);
});

test('records are decoded as zero-copy views and encoded from chunk lists by reference', () => {
  const batch = Buffer.alloc(2048, 1);
  const tail = Buffer.alloc(1500, 2);
  const chunks = encodeResponse(1, 12, 5, {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [],
    responses: [{ topic: 't', topicId: '00000000-0000-0000-0000-000000000000', partitions: [{
      partitionIndex: 0, errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n,
      abortedTransactions: null, preferredReadReplica: -1, records: [batch, tail],
      divergingEpoch: { epoch: -1, endOffset: -1n }, currentLeader: { leaderId: -1, leaderEpoch: -1 }, snapshotId: { endOffset: -1n, epoch: -1 },
    }] }],
  });
  assert.ok(chunks.includes(batch) && chunks.includes(tail), 'stored batches are appended by reference');
  const frame = Buffer.concat(chunks);
  const records = decodeResponse(1, 12, frame).body.responses[0]!.partitions[0]!.records!;
  assert.deepEqual(records, Buffer.concat([batch, tail]));
  assert.equal(records.buffer, frame.buffer, 'decoded records are a view of the frame');
});

test('data structures (consumer protocol) encode and decode with the same rules', async () => {
  const { DATA_SCHEMAS } = await import('../messages/index.ts');
  const { decodeData, encodeData } = await import('./index.ts');
  type Assignment = import('../messages/index.ts').ConsumerProtocolAssignment;
  const value: Assignment = { assignedPartitions: [{ topic: 't', partitions: [0, 2] }], userData: Buffer.from('u') };
  const bytes = Buffer.concat(encodeData<Assignment>(DATA_SCHEMAS.ConsumerProtocolAssignment, 1, value));
  assert.deepEqual(decodeData<Assignment>(DATA_SCHEMAS.ConsumerProtocolAssignment, 1, bytes), value);
  // v0 has the same layout: topic string, int32 array, nullable bytes
  assert.deepEqual([...bytes.subarray(0, 6)], [0, 0, 0, 1, 0, 1]);
});
