import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeRecordBatch } from '../../protocol/records/index.ts';
import { checkAppendBatches } from './append-checks.ts';

const NOW = 1_700_000_000_000;

function batch(valueBytes: number): Buffer {
  return encodeRecordBatch({ records: [{ value: Buffer.alloc(valueBytes, 1), timestamp: BigInt(NOW) }], baseOffset: 0n });
}

test('limits parsed once per configs object still follow a config change (a new object)', () => {
  const big = batch(2_000);
  const configs = {};
  const first = checkAppendBatches([big], configs, NOW, 0);
  assert.ok(!('errorCode' in first), 'the default max.message.bytes admits 2 KB');
  // The same object again (cached), then an altered config: AlterConfigs replaces the object.
  assert.ok(!('errorCode' in checkAppendBatches([batch(2_000)], configs, NOW, 0)));
  const altered = checkAppendBatches([batch(2_000)], { 'max.message.bytes': '1000' }, NOW, 0);
  assert.ok('errorCode' in altered);
  assert.equal(altered.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
});

test('LogAppendTime is stamped with the time of each call, not of the first one', () => {
  const configs = { 'message.timestamp.type': 'LogAppendTime' };
  const a = checkAppendBatches([batch(10)], configs, NOW, 0);
  const b = checkAppendBatches([batch(10)], configs, NOW + 5, 0);
  assert.ok(!('errorCode' in a) && !('errorCode' in b));
  assert.equal(a.appendTimeMs, NOW);
  assert.equal(b.appendTimeMs, NOW + 5);
});

test('a batch with a flipped byte is refused with CORRUPT_MESSAGE before any offset is assigned', () => {
  const corrupt = batch(100);
  corrupt[corrupt.length - 3]! ^= 0x10;
  const result = checkAppendBatches([batch(10), corrupt], {}, NOW, 7);
  assert.ok('errorCode' in result);
  assert.equal(result.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal(result.baseOffset, -1);
  assert.equal(result.logStartOffset, 7);
});
