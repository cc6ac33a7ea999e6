import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { encodeRecordBatch, patchBaseOffset } from '../../protocol/records/index.ts';
import {
  decodeSegment,
  decodeSegmentIndex,
  encodeSegment,
  encodeSegmentIndex,
  indexBlock,
  SEGMENT_FOOTER_BYTES,
  SEGMENT_HEADER_BYTES,
  SEGMENT_KEY_PATTERN,
  segmentIndexKey,
  segmentKey,
  timeSearchStart,
} from './segment-format.ts';

/** Contiguous batches of `perBatch` records each, offsets from `base`. */
function batches(count: number, perBatch: number, base = 0): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const b = encodeRecordBatch({ records: Array.from({ length: perBatch }, (_, r) => ({ value: `v${i}-${r}`.padEnd(40, '.'), timestamp: 1_000n + BigInt(i) })) });
    patchBaseOffset(b, BigInt(base + i * perBatch));
    out.push(b);
  }
  return out;
}

test('segment: KAFS header, raw batches, footer with CRC32C of the batches and last offset, END!', () => {
  const input = batches(5, 3, 100);
  const seg = encodeSegment(input, 1_700_000_000_000, 1);
  const data = Buffer.concat(seg.chunks);
  assert.equal(data.length, seg.sizeBytes);
  assert.equal(data.toString('latin1', 0, 4), 'KAFS');
  assert.equal(data.readUInt16BE(4), 1);
  assert.equal(data.readUInt16BE(6), 0);
  assert.equal(data.readBigInt64BE(8), 100n);
  assert.equal(data.readInt32BE(16), 15);
  assert.equal(data.readBigInt64BE(20), 1_700_000_000_000n);
  assert.equal(data.readUInt32BE(28), 0);
  const body = Buffer.concat(input);
  assert.deepEqual(data.subarray(SEGMENT_HEADER_BYTES, data.length - SEGMENT_FOOTER_BYTES), body);
  const footer = data.subarray(data.length - SEGMENT_FOOTER_BYTES);
  assert.equal(footer.readUInt32BE(0), crc32c(body) >>> 0);
  assert.equal(footer.readBigInt64BE(4), 114n);
  assert.equal(footer.toString('latin1', 12), 'END!');
  const decoded = decodeSegment(data);
  assert.deepEqual({ base: decoded.baseOffset, last: decoded.lastOffset, n: decoded.messageCount }, { base: 100, last: 114, n: 15 });
  const bad = Buffer.from(data);
  bad.writeUInt8(bad.readUInt8(SEGMENT_HEADER_BYTES + 70) ^ 1, SEGMENT_HEADER_BYTES + 70);
  assert.throws(() => decodeSegment(bad), { code: 'KSC_OBJECT_CORRUPT' });
});

test('index: IDX\\0 header and 12-byte (offset, position) entries at batch boundaries, sparse by bytes, then the time index', () => {
  const input = batches(10, 2);
  const every = encodeSegment(input, 0, 1);
  assert.equal(every.index.toString('latin1', 0, 4), 'IDX\0');
  assert.equal(every.index.readUInt16BE(4), 1);
  assert.equal(every.index.readInt32BE(6), 10);
  assert.equal(every.index.readUInt16BE(14), 1, 'TIME_INDEX flag');
  assert.equal(every.index.length, 16 + 10 * 12 + 10 * 8);
  const parsed = decodeSegmentIndex(every.index);
  assert.deepEqual(parsed.entries.map((e) => e.offset), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  assert.deepEqual(parsed.entries.map((e) => e.position), every.positions);
  assert.equal(every.positions[0], SEGMENT_HEADER_BYTES);
  // Each indexed position really is the start of the batch with that base offset.
  const data = Buffer.concat(every.chunks);
  for (const e of parsed.entries) assert.equal(Number(data.readBigInt64BE(e.position)), e.offset);

  const size = input[0]!.length;
  const sparse = decodeSegmentIndex(encodeSegment(input, 0, size * 3).index);
  assert.deepEqual(sparse.entries.map((e) => e.offset), [0, 6, 12, 18]);
  assert.equal(sparse.interval, size * 3);
  // Batch i's records carry timestamp 1000 + i: each block's maximum is its last batch's.
  assert.deepEqual(sparse.entries.map((e) => e.maxTimestamp), [1_002, 1_005, 1_008, 1_009]);
});

test('an index without the time flag (KafScale, or written before it) still decodes, without times', () => {
  const entries = [{ offset: 0, position: 32 }, { offset: 10, position: 500 }];
  const plain = encodeSegmentIndex(entries, 4096);
  assert.equal(plain.length, 16 + 2 * 12);
  assert.equal(plain.readUInt16BE(14), 0);
  assert.deepEqual(decodeSegmentIndex(plain).entries, entries);
  assert.equal(timeSearchStart(entries, 3, 99), 3, 'no times: search from the start');
  const truncated = encodeSegmentIndex(entries.map((e) => ({ ...e, maxTimestamp: 1 })), 4096).subarray(0, 16 + 2 * 12 + 8);
  assert.throws(() => decodeSegmentIndex(truncated), { code: 'KSC_OBJECT_CORRUPT' });
});

test('timeSearchStart: the first block at or after the offset whose maximum reaches the target', () => {
  const entries = [
    { offset: 0, position: 32, maxTimestamp: 50 },
    { offset: 10, position: 100, maxTimestamp: 200 },
    { offset: 20, position: 200, maxTimestamp: 120 },
    { offset: 30, position: 300, maxTimestamp: 300 },
  ];
  assert.equal(timeSearchStart(entries, 0, 40), 0);
  assert.equal(timeSearchStart(entries, 0, 100), 10);
  assert.equal(timeSearchStart(entries, 15, 100), 15, 'inside the qualifying block');
  assert.equal(timeSearchStart(entries, 20, 150), 30, 'block 1 ends before offset 20');
  assert.equal(timeSearchStart(entries, 0, 301), null);
});

test('indexBlock: the block holding an offset, clipped to the entry range, whole batches', () => {
  const input = batches(10, 2);
  const seg = encodeSegment(input, 0, input[0]!.length * 3);
  const entries = decodeSegmentIndex(seg.index).entries;
  const end = seg.sizeBytes - SEGMENT_FOOTER_BYTES;
  const p = seg.positions;
  assert.deepEqual(indexBlock(entries, 0, SEGMENT_HEADER_BYTES, end), { start: p[0], end: p[3] });
  assert.deepEqual(indexBlock(entries, 7, SEGMENT_HEADER_BYTES, end), { start: p[3], end: p[6] });
  assert.deepEqual(indexBlock(entries, 19, SEGMENT_HEADER_BYTES, end), { start: p[9], end });
  // An entry covering batches 4..7 only (a chunk of a swap): the block is clipped to it.
  assert.deepEqual(indexBlock(entries, 8, p[4]!, p[8]!), { start: p[4], end: p[6] });
  assert.deepEqual(indexBlock(entries, 14, p[4]!, p[8]!), { start: p[6], end: p[8] });
});

test('segment keys: topic id and partition in the path, 20-digit base offset, a fresh writer id per segment', () => {
  const topicId = '0b6f3a52-1f0e-4d6b-9d7e-2b7c1c9e8f10';
  const a = segmentKey('kafscale', topicId, 3, 42, 7);
  const b = segmentKey('kafscale', topicId, 3, 42, 7);
  assert.notEqual(a, b);
  const m = SEGMENT_KEY_PATTERN.exec(a);
  assert.ok(m !== null, a);
  assert.deepEqual(m.slice(1, 6), ['kafscale', topicId, '0000000003', '00000000000000000042', '0000000007']);
  assert.equal(m[7], 'kfs');
  assert.ok(a.startsWith(`kafscale/segments/${topicId}/0000000003/segment-00000000000000000042-`));
  assert.equal(SEGMENT_KEY_PATTERN.exec(segmentIndexKey(a))?.[7], 'index');
});
