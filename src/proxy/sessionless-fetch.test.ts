import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, decodeRequestHeader, decodeResponse, encodeRequest } from '../protocol/codec/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { FetchRequest } from '../protocol/messages/index.ts';
import { fetchErrorResponse, sessionlessFetch } from './sessionless-fetch.ts';

const TOPIC_ID = '5b7e3a52-52a7-4d47-b2a6-0d1c1e5c7d10';

function fetchFrame(version: number, sessionId: number, sessionEpoch: number): { frame: Buffer; bodyOffset: number } {
  const body = {
    replicaId: -1, maxWaitMs: 500, minBytes: 7, maxBytes: 123_456, isolationLevel: 1, sessionId, sessionEpoch,
    topics: [{ topic: 'orders', topicId: TOPIC_ID, partitions: [{ partition: 3, currentLeaderEpoch: 2, fetchOffset: 42n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 999 }] }],
    forgottenTopicsData: [], rackId: 'r1',
  } as unknown as Partial<FetchRequest>;
  const frame = Buffer.concat(encodeRequest(1, version, 77, 'client-x', body as never));
  return { frame, bodyOffset: decodeRequestHeader(frame).bodyOffset };
}

for (let version = 7; version <= 17; version++) {
  test(`Fetch v${version}: a client's session request goes upstream sessionless, the rest of the frame unchanged`, () => {
    for (const [sessionId, sessionEpoch] of [[0, 0], [1234, 0], [1234, -1], [0, -1]] as const) {
      const { frame, bodyOffset } = fetchFrame(version, sessionId, sessionEpoch);
      const before = decodeRequest(1, version, frame, bodyOffset) as unknown as Record<string, unknown>;
      assert.equal(sessionlessFetch(version, frame, bodyOffset, before), 'forward');
      assert.equal(before['sessionId'], 0);
      assert.equal(before['sessionEpoch'], -1);
      const after = decodeRequest(1, version, frame, bodyOffset);
      assert.equal(after.sessionId, 0);
      assert.equal(after.sessionEpoch, -1);
      assert.deepEqual([after.maxWaitMs, after.minBytes, after.maxBytes, after.isolationLevel], [500, 7, 123_456, 1]);
      assert.equal(after.topics[0]?.partitions[0]?.fetchOffset, 42n);
    }
  });
}

test('an incremental fetch through the proxy names a session the proxy never gave: FETCH_SESSION_ID_NOT_FOUND', () => {
  const { frame, bodyOffset } = fetchFrame(12, 1234, 3);
  const request = decodeRequest(1, 12, frame, bodyOffset) as unknown as Record<string, unknown>;
  const verdict = sessionlessFetch(12, frame, bodyOffset, request);
  assert.equal(verdict, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  const response = decodeResponse(1, 12, Buffer.concat(fetchErrorResponse(12, 77, verdict as number)));
  assert.equal(response.correlationId, 77);
  assert.equal(response.body.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal(response.body.sessionId, 0);
});

test('Fetch v4–6 carry no session fields and go as they are', () => {
  const { frame, bodyOffset } = fetchFrame(6, 0, -1);
  const copy = Buffer.from(frame);
  assert.equal(sessionlessFetch(6, frame, bodyOffset, decodeRequest(1, 6, frame, bodyOffset) as unknown as Record<string, unknown>), 'forward');
  assert.deepEqual(frame, copy);
});
