import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { encodeRecordBatch } from '../../protocol/records/index.ts';
import { decodeWalObject, encodeWalObject, WAL_HEADER_BYTES, WAL_DIRECTORY_ENTRY_BYTES } from './wal-object.ts';

test('WAL object: directory byte ranges point at the batches, checksum guards the whole object', () => {
  const a = encodeRecordBatch({ records: [{ value: 'a' }], baseOffset: 10n });
  const b = encodeRecordBatch({ records: [{ value: 'bb' }], baseOffset: 0n });
  const topicId = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const encoded = encodeWalObject(7, 1234, [
    { topicId, partition: 3, baseOffset: 10, lastOffset: 10, maxTimestamp: 5, batches: [a] },
    { topicId, partition: 4, baseOffset: 0, lastOffset: 0, maxTimestamp: 6, batches: [b] },
  ]);
  const object = Buffer.concat(encoded.chunks);
  assert.equal(object.length, encoded.sizeBytes);
  const decoded = decodeWalObject(object);
  assert.equal(decoded.brokerId, 7);
  assert.equal(decoded.createdMs, 1234);
  assert.deepEqual(decoded.directory, encoded.directory);
  assert.equal(decoded.directory[0]!.byteStart, WAL_HEADER_BYTES + 2 * WAL_DIRECTORY_ENTRY_BYTES);
  assert.deepEqual(object.subarray(decoded.directory[1]!.byteStart, decoded.directory[1]!.byteEnd), b);
  assert.equal(decoded.directory[0]!.topicId, topicId);
  object[WAL_HEADER_BYTES + 2 * WAL_DIRECTORY_ENTRY_BYTES + 30]! ^= 1;
  assert.throws(() => decodeWalObject(object), /checksum/);
});

test('WAL object: the trailer CRC is the CRC32C of everything before it, with large batches (combined from their CRCs)', () => {
  const big = encodeRecordBatch({ records: [{ value: Buffer.alloc(100_000, 7) }, { value: 'z' }], baseOffset: 0n });
  const small = encodeRecordBatch({ records: [{ value: 'a' }], baseOffset: 0n });
  const topicId = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const encoded = encodeWalObject(1, 99, [
    { topicId, partition: 0, baseOffset: 0, lastOffset: 2, maxTimestamp: 1, batches: [big, small] },
    { topicId, partition: 1, baseOffset: 0, lastOffset: 1, maxTimestamp: 1, batches: [big] },
  ]);
  const object = Buffer.concat(encoded.chunks);
  const trailerAt = object.length - 8;
  assert.equal(object.readUInt32BE(trailerAt), crc32c(object.subarray(0, trailerAt)) >>> 0);
  assert.equal(decodeWalObject(object).directory.length, 2);
  // A flipped bit inside the large batch's records is caught by the whole-object checksum.
  object[encoded.directory[1]!.byteStart + 5_000]! ^= 1;
  assert.throws(() => decodeWalObject(object), /checksum/);
});
