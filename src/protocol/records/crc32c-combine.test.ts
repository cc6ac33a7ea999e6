import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { COMBINE_MIN_BATCH_BYTES, continueCrc32cOverBatch, crc32cCombine } from './crc32c-combine.ts';
import { encodeRecordBatch } from './record-batch-codec.ts';
import { patchBaseOffset, patchPartitionLeaderEpoch } from './record-batch.ts';

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

test('crc32cCombine equals the CRC32C of the concatenation, for lengths around every power of two', () => {
  const lengths = [0, 1, 2, 3, 7, 8, 100, 255, 256, 4095, 4096, 65_537, 1_000_003];
  for (const lengthA of [0, 1, 21, 5000]) {
    for (const lengthB of lengths) {
      const a = bytes(lengthA, lengthA + 1);
      const b = bytes(lengthB, lengthB + 7);
      const expected = crc32c(Buffer.concat([a, b])) >>> 0;
      assert.equal(crc32cCombine(crc32c(a), crc32c(b), b.length), expected, `A ${lengthA} B ${lengthB}`);
    }
  }
});

test('continueCrc32cOverBatch equals hashing the batch bytes, small and large, after offsets are patched', () => {
  for (const size of [10, 3000, 200_000]) {
    const batch = encodeRecordBatch({ records: [{ value: bytes(size, size) }, { value: 'x' }], baseOffset: 0n });
    // What the append path does after validation: bytes outside the CRC's range change, the CRC stays.
    patchBaseOffset(batch, 123_456n);
    patchPartitionLeaderEpoch(batch, 9);
    const running = crc32c(Buffer.from('header'));
    assert.equal(continueCrc32cOverBatch(running, batch), crc32c(batch, running) >>> 0, `value of ${size} bytes`);
  }
});

test('a large batch whose stored CRC is wrong gives a different container CRC (corruption is not hidden)', () => {
  const batch = encodeRecordBatch({ records: [{ value: bytes(COMBINE_MIN_BATCH_BYTES * 2, 3) }], baseOffset: 0n });
  const honest = continueCrc32cOverBatch(0, batch);
  batch[batch.length - 1]! ^= 0x01;
  assert.notEqual(continueCrc32cOverBatch(0, batch), crc32c(batch) >>> 0);
  assert.equal(continueCrc32cOverBatch(0, batch), honest);
});
