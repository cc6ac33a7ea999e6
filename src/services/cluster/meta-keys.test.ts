import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogKeys, MetaKeys, parsePartitionKey } from './meta-keys.ts';

test('a log entry key is built and parsed back by the one key module', () => {
  const key = MetaKeys.partitionLogEntry('tid', 3, 42);
  assert.equal(key, '/kafscale/partitions/tid/0000000003/log/00000000000000000042');
  assert.equal(LogKeys.baseOffsetOf(key), 42);
  const parsed = parsePartitionKey(key);
  assert.equal(parsed?.suffix, LogKeys.suffix(42));
  assert.equal(LogKeys.parseSuffix(parsed.suffix), 42);
  assert.ok(key.startsWith(MetaKeys.partitionLogPrefix('tid', 3)));
});

test('log keys sort numerically up to the largest safe offset', () => {
  const offsets = [0, 9, 10, 99_999, 2 ** 40, Number.MAX_SAFE_INTEGER];
  const keys = offsets.map((o) => LogKeys.suffix(o));
  assert.deepEqual([...keys].sort(), keys);
  assert.deepEqual(keys.map((k) => LogKeys.parseSuffix(k)), offsets);
});

test('anything that is not a log entry parses to null', () => {
  for (const suffix of ['owner', 'start', 'epoch', 'epochs', 'log/', 'log/42', 'log/0000000000000000004x', 'lag/00000000000000000042', 'log/000000000000000000042']) {
    assert.equal(LogKeys.parseSuffix(suffix), null, suffix);
  }
  assert.equal(LogKeys.baseOffsetOf(MetaKeys.partitionOwner('tid', 0)), null);
  assert.equal(LogKeys.baseOffsetOf(MetaKeys.partitionLogStart('tid', 0)), null);
  assert.equal(LogKeys.baseOffsetOf('log/00000000000000000042'), null);
  assert.equal(LogKeys.baseOffsetOf('/x/nolog/00000000000000000042'), null);
});
