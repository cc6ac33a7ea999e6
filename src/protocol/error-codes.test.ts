import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KAFKA_ERRORS, errorInfo } from './error-codes.ts';
import { ApiKey, apiKeyName } from './api-keys.ts';

test('error codes match Kafka and are unique', () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6);
  assert.equal(ErrorCode.NOT_COORDINATOR, 16);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_ID, 100);
  const codes: number[] = Object.values(KAFKA_ERRORS).map((e) => e.code);
  assert.equal(new Set(codes).size, codes.length);
  for (let c = -1; c <= 129; c++) assert.ok(codes.includes(c), `code ${c} is in the table`);
});

test('errorInfo describes known and unknown codes', () => {
  assert.deepEqual(errorInfo(3).name, 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(errorInfo(3).retriable, true);
  assert.equal(errorInfo(36).retriable, false);
  assert.equal(errorInfo(9999).name, 'UNKNOWN_ERROR_CODE_9999');
});

test('api keys map both ways', () => {
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.Fetch, 1);
  assert.equal(ApiKey.Metadata, 3);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.DescribeTopicPartitions, 75);
  assert.equal(apiKeyName(18), 'ApiVersions');
  assert.equal(apiKeyName(9999), 'Unknown(9999)');
});
