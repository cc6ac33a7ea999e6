import { test } from 'node:test';
import assert from 'node:assert/strict';
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
