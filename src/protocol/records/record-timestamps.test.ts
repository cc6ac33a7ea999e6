import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { lz4Compress, snappyCompress } from '@platformatic/wasm-utils';
import { createRecordsBatch } from '@platformatic/kafka';
import {
  BATCH_HEADER_BYTES,
  MAX_TIMESTAMP_OFFSET,
  RecordTimestampScan,
  decodeRecordBatch,
  decompressRecords,
  encodeRecordBatch,
  isLogAppendTime,
  maxTimestamp,
  recordsSection,
  stampBatchTimestamps,
  validateBatch,
  writeCrc,
  type TimestampRules,
} from './index.ts';
import { withRecordsPayload, xerialSnappy } from '../../../test/helpers/recompressed-batch.ts';

const NOW = 1_800_000_000_000;
const T0 = BigInt(NOW - 10_000);
const CREATE_TIME: TimestampRules = { logAppendTimeMs: -1, nowMs: NOW, beforeMaxMs: Number.MAX_SAFE_INTEGER, afterMaxMs: 3_600_000 };

/** Three records with out-of-order timestamps: the max is the middle one. */
function batch(options: Partial<Parameters<typeof encodeRecordBatch>[0]> = {}): Buffer {
  return encodeRecordBatch({
    records: [
      { value: 'a', timestamp: T0 },
      { value: 'b', timestamp: T0 + 500n },
      { value: 'c', timestamp: T0 - 20n },
    ],
    ...options,
  });
}

/** What sarama before 1.28 sends: a header maxTimestamp of -1 over records with real timestamps. */
function withHeaderMax(b: Buffer, value: bigint): Buffer {
  b.writeBigInt64BE(value, MAX_TIMESTAMP_OFFSET);
  writeCrc(b);
  return b;
}

describe('record timestamps computed by the broker', () => {
  it('a header maxTimestamp of -1 (sarama < 1.28) gets the records\' real maximum, with a valid CRC', () => {
    const b = withHeaderMax(batch(), -1n);
    assert.equal(stampBatchTimestamps(b, CREATE_TIME), null);
    assert.equal(maxTimestamp(b), T0 + 500n);
    assert.equal(validateBatch(b), null);
    const scan = new RecordTimestampScan();
    assert.equal(scan.scan(b), true);
    assert.equal(scan.maxOffsetDelta, 1);
    assert.equal(scan.minTimestamp, Number(T0) - 20);
    assert.equal(scan.minOffsetDelta, 2);
  });

  it('a wrong header maxTimestamp in the future is corrected too; a right one leaves the bytes untouched', () => {
    const b = withHeaderMax(batch(), T0 + 9_999n);
    stampBatchTimestamps(b, CREATE_TIME);
    assert.equal(maxTimestamp(b), T0 + 500n);
    const right = batch();
    const copy = Buffer.from(right);
    assert.equal(stampBatchTimestamps(right, CREATE_TIME), null);
    assert.deepEqual(right, copy);
  });

  const codecs: Array<[string, (plain: Buffer) => Buffer]> = [
    ['gzip', (plain) => withHeaderMax(batch({ compression: 'gzip' }), -1n) ?? plain],
    ['zstd', (plain) => withHeaderMax(batch({ compression: 'zstd' }), -1n) ?? plain],
    ['snappy (raw block)', (plain) => withRecordsPayload(plain, 2, snappyCompress(recordsSection(plain)))],
    ['snappy (xerial framing, several chunks)', (plain) => withRecordsPayload(plain, 2, xerialSnappy(recordsSection(plain), 7))],
    ['lz4 (frame)', (plain) => withRecordsPayload(plain, 3, lz4Compress(recordsSection(plain)))],
  ];
  for (const [name, make] of codecs) {
    it(`${name}: records are decompressed to compute the maximum`, () => {
      const b = make(withHeaderMax(batch(), -1n));
      assert.equal(validateBatch(b), null);
      assert.equal(stampBatchTimestamps(b, CREATE_TIME), null);
      assert.equal(maxTimestamp(b), T0 + 500n);
      assert.equal(validateBatch(b), null);
      assert.deepEqual(decodeRecordBatch(b).records.map((r) => r.value?.toString()), ['a', 'b', 'c']);
    });
  }

  it('reads batches of a real client library (@platformatic/kafka, every codec)', () => {
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const messages = [1, 3, 2].map((i) => ({ value: Buffer.from(`m${i}`), topic: 't', partition: 0, timestamp: T0 + BigInt(i) }));
      const b = withHeaderMax(Buffer.from(createRecordsBatch(messages, { compression }).buffer), -1n);
      assert.equal(stampBatchTimestamps(b, CREATE_TIME), null, compression);
      assert.equal(maxTimestamp(b), T0 + 3n, compression);
    }
  });

  it('message.timestamp.after.max.ms: a record too far ahead fails the batch with INVALID_TIMESTAMP and its index', () => {
    const b = encodeRecordBatch({ records: [{ value: 'ok', timestamp: BigInt(NOW) }, { value: 'future', timestamp: BigInt(NOW + 3_600_001) }] });
    const problem = stampBatchTimestamps(b, CREATE_TIME);
    assert.equal(problem?.kafkaError, 'INVALID_TIMESTAMP');
    assert.equal(problem?.recordIndex, 1);
    assert.match(problem?.message ?? '', /after\.max\.ms/);
    // Exactly at the limit is accepted (Kafka: rejected only when the difference exceeds it).
    const edge = encodeRecordBatch({ records: [{ value: 'edge', timestamp: BigInt(NOW + 3_600_000) }] });
    assert.equal(stampBatchTimestamps(edge, CREATE_TIME), null);
    // No limit (Long.MAX, clamped): a year ahead is fine.
    const far = encodeRecordBatch({ records: [{ value: 'far', timestamp: BigInt(NOW + 365 * 86_400_000) }] });
    assert.equal(stampBatchTimestamps(far, { ...CREATE_TIME, afterMaxMs: Number.MAX_SAFE_INTEGER }), null);
  });

  it('message.timestamp.before.max.ms: a record too old fails; records without a timestamp (-1) are exempt', () => {
    const old = encodeRecordBatch({ records: [{ value: 'old', timestamp: BigInt(NOW - 60_001) }, { value: 'new', timestamp: BigInt(NOW) }] });
    const problem = stampBatchTimestamps(old, { ...CREATE_TIME, beforeMaxMs: 60_000 });
    assert.equal(problem?.kafkaError, 'INVALID_TIMESTAMP');
    assert.equal(problem?.recordIndex, 0);
    const none = encodeRecordBatch({ records: [{ value: 'x', timestamp: -1n }] });
    assert.equal(stampBatchTimestamps(none, { ...CREATE_TIME, beforeMaxMs: 0 }), null);
    assert.equal(maxTimestamp(none), -1n);
  });

  it('LogAppendTime: the type bit and maxTimestamp become the broker time, the CRC stays valid, readers see it', () => {
    const b = withHeaderMax(batch({ compression: 'gzip' }), -1n);
    assert.equal(stampBatchTimestamps(b, { ...CREATE_TIME, logAppendTimeMs: NOW }), null);
    assert.equal(isLogAppendTime(b), true);
    assert.equal(maxTimestamp(b), BigInt(NOW));
    assert.equal(validateBatch(b), null);
    assert.deepEqual(decodeRecordBatch(b).records.map((r) => r.timestamp), [BigInt(NOW), BigInt(NOW), BigInt(NOW)]);
    // No checks on LogAppendTime topics: a record a day ahead is stamped like any other.
    const future = encodeRecordBatch({ records: [{ value: 'f', timestamp: BigInt(NOW + 86_400_000) }] });
    assert.equal(stampBatchTimestamps(future, { ...CREATE_TIME, logAppendTimeMs: NOW }), null);
  });

  it('a producer may not send LogAppendTime batches to a CreateTime topic', () => {
    const b = batch({ logAppendTime: true });
    assert.equal(stampBatchTimestamps(b, CREATE_TIME)?.kafkaError, 'INVALID_TIMESTAMP');
  });

  it('timestamps beyond 2^53 ms are computed exactly (BigInt path)', () => {
    const base = 2n ** 60n;
    const b = withHeaderMax(encodeRecordBatch({ records: [{ value: 'x', timestamp: base }, { value: 'y', timestamp: base + 7n }] }), -1n);
    assert.equal(stampBatchTimestamps(b, { ...CREATE_TIME, afterMaxMs: Number.MAX_SAFE_INTEGER }), null);
    assert.equal(maxTimestamp(b), base + 7n);
    assert.equal(validateBatch(b), null);
  });

  it('malformed records are CORRUPT_MESSAGE; nothing is changed in the batch', () => {
    const wrongCount = batch();
    wrongCount.writeInt32BE(2, 57); // record count 2, but 3 records follow
    wrongCount.writeInt32BE(1, 23);
    writeCrc(wrongCount);
    assert.equal(validateBatch(wrongCount), null);
    const problem = stampBatchTimestamps(wrongCount, CREATE_TIME);
    assert.equal(problem?.kafkaError, 'CORRUPT_MESSAGE');
    assert.match(problem?.message ?? '', /after its 2 records/);

    const overrun = batch();
    overrun[BATCH_HEADER_BYTES] = 0x7e; // first record claims 63 bytes
    writeCrc(overrun);
    assert.equal(stampBatchTimestamps(overrun, CREATE_TIME)?.kafkaError, 'CORRUPT_MESSAGE');

    const badGzip = withRecordsPayload(batch(), 1, Buffer.from('not gzip at all'));
    assert.match(stampBatchTimestamps(badGzip, CREATE_TIME)?.message ?? '', /gzip payload does not decompress/);
    const badLz4 = withRecordsPayload(batch(), 3, Buffer.from([4, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 5, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0]));
    assert.equal(stampBatchTimestamps(badLz4, CREATE_TIME)?.kafkaError, 'CORRUPT_MESSAGE');
    const badSnappy = withRecordsPayload(batch(), 2, Buffer.from([10, 0xff, 0xff]));
    assert.equal(stampBatchTimestamps(badSnappy, CREATE_TIME)?.kafkaError, 'CORRUPT_MESSAGE');
  });

  it('decompression is bounded: a small payload claiming a huge output is refused before it is inflated', () => {
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    for (const [codec, payload] of [[1, gzipSync(zeros)], [2, snappyCompress(zeros)], [3, lz4Compress(zeros)]] as const) {
      const b = withRecordsPayload(batch(), codec, payload);
      assert.throws(() => decompressRecords(b, 1024 * 1024), (e: Error & { tooLarge?: boolean }) => e.tooLarge === true && /more than the broker's bound/.test(e.message), `codec ${codec}`);
      assert.equal(decompressRecords(b, 8 * 1024 * 1024).length, zeros.length);
    }
    // A snappy preamble declaring 4 GiB is refused from the preamble alone.
    const liar = withRecordsPayload(batch(), 2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]));
    assert.throws(() => decompressRecords(liar), (e: Error & { tooLarge?: boolean }) => e.tooLarge === true);
    const scan = new RecordTimestampScan();
    assert.equal(scan.scan(liar), false);
    assert.equal(scan.tooLarge, true);
    assert.equal(stampBatchTimestamps(liar, CREATE_TIME)?.kafkaError, 'INVALID_RECORD');
  });
});
