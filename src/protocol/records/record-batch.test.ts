import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createRecordsBatch } from '@platformatic/kafka';
import {
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  baseOffset,
  baseSequence,
  batchSizeBytes,
  compressionCodec,
  computeCrc,
  decodeRecordBatch,
  encodeRecordBatch,
  isControlBatch,
  isLogAppendTime,
  isTransactional,
  lastOffset,
  lastOffsetDelta,
  lastSequence,
  maxTimestamp,
  nextOffset,
  partitionLeaderEpoch,
  patchBaseOffset,
  patchLogAppendTime,
  patchPartitionLeaderEpoch,
  producerEpoch,
  producerId,
  readBatchHeader,
  recordCount,
  splitBatches,
  storedCrc,
  validateBatch,
  writeCrc,
} from './index.ts';

const T0 = 1_700_000_000_000n;

function sample(overrides: Partial<Parameters<typeof encodeRecordBatch>[0]> = {}): Buffer {
  return encodeRecordBatch({
    baseOffset: 0n,
    records: [
      { key: 'k1', value: 'v1', timestamp: T0, headers: [{ key: 'h', value: 'hv' }] },
      { key: null, value: Buffer.alloc(0), timestamp: T0 + 5n },
      { value: null, timestamp: T0 - 3n, headers: [{ key: 'nullval', value: null }] },
    ],
    ...overrides,
  });
}

describe('record batch header readers', () => {
  it('read every field of an encoded batch', () => {
    const batch = sample({
      baseOffset: 1234n,
      partitionLeaderEpoch: 7,
      producerId: 99n,
      producerEpoch: 3,
      baseSequence: 10,
      transactional: true,
    });
    assert.equal(baseOffset(batch), 1234n);
    assert.equal(batchSizeBytes(batch), batch.length);
    assert.equal(partitionLeaderEpoch(batch), 7);
    assert.equal(recordCount(batch), 3);
    assert.equal(lastOffsetDelta(batch), 2);
    assert.equal(lastOffset(batch), 1236n);
    assert.equal(nextOffset(batch), 1237n);
    assert.equal(producerId(batch), 99n);
    assert.equal(producerEpoch(batch), 3);
    assert.equal(baseSequence(batch), 10);
    assert.equal(lastSequence(batch), 12);
    assert.equal(maxTimestamp(batch), T0 + 5n);
    assert.equal(isTransactional(batch), true);
    assert.equal(isControlBatch(batch), false);
    assert.equal(isLogAppendTime(batch), false);
    assert.equal(compressionCodec(batch), 'none');
    assert.equal(storedCrc(batch), computeCrc(batch));
    const header = readBatchHeader(batch);
    assert.equal(header.magic, 2);
    assert.equal(header.baseTimestamp, T0);
  });

  it('lastSequence wraps at 2^31-1 and keeps -1 for non-idempotent batches', () => {
    assert.equal(lastSequence(sample({ baseSequence: 0x7fffffff - 1 })), 0);
    assert.equal(lastSequence(sample({ baseSequence: -1 })), -1);
  });
});

describe('record batch codec', () => {
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`round-trips records with ${compression} compression`, () => {
      const batch = sample({ compression, baseOffset: 500n });
      assert.equal(validateBatch(batch), null);
      assert.equal(compressionCodec(batch), compression);
      const { records } = decodeRecordBatch(batch);
      assert.equal(records.length, 3);
      assert.deepEqual(records.map((r) => r.offset), [500n, 501n, 502n]);
      assert.deepEqual(records.map((r) => r.timestamp), [T0, T0 + 5n, T0 - 3n]);
      assert.equal(records[0]!.key!.toString(), 'k1');
      assert.equal(records[0]!.value!.toString(), 'v1');
      assert.deepEqual(records[0]!.headers.map((h) => [h.key, h.value!.toString()]), [['h', 'hv']]);
      assert.equal(records[1]!.key, null);
      assert.equal(records[1]!.value!.length, 0);
      assert.equal(records[2]!.value, null);
      assert.deepEqual(records[2]!.headers, [{ key: 'nullval', value: null }]);
    });
  }

  it('round-trips large values and many records (multi-byte varints)', () => {
    const big = Buffer.alloc(300_000, 7);
    const records = Array.from({ length: 1000 }, (_, i) => ({ value: i === 500 ? big : `v${i}`, timestamp: T0 + BigInt(i * 100_000) }));
    const decoded = decodeRecordBatch(encodeRecordBatch({ records, compression: 'gzip' })).records;
    assert.equal(decoded.length, 1000);
    assert.deepEqual(decoded[500]!.value, big);
    assert.equal(decoded[999]!.timestamp, T0 + 99_900_000n);
    assert.equal(decoded[999]!.value!.toString(), 'v999');
  });

  it('decodes snappy and lz4 batches built by @platformatic/kafka', () => {
    for (const compression of ['snappy', 'lz4'] as const) {
      const batch = Buffer.from(createRecordsBatch([{ value: Buffer.from('x'), topic: 't', partition: 0 }, { value: Buffer.from('y'), topic: 't', partition: 0 }], { compression }).buffer);
      assert.equal(validateBatch(batch), null);
      assert.equal(compressionCodec(batch), compression);
      assert.deepEqual(decodeRecordBatch(batch).records.map((r) => r.value?.toString()), ['x', 'y']);
    }
  });

  it('rejects a record whose declared length disagrees with its fields', () => {
    const batch = sample();
    // first record's length varint is the first byte of the records section
    batch[BATCH_HEADER_BYTES] = batch[BATCH_HEADER_BYTES]! + 2;
    writeCrc(batch);
    assert.throws(() => decodeRecordBatch(batch), /declares/);
  });
});

describe('third-party encoders', () => {
  const require = createRequire(import.meta.url);

  it('validates and decodes a batch built by kafkajs (uncompressed and gzip)', async () => {
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
    const Long = require('kafkajs/src/utils/long') as { fromValue(v: number | string): unknown };
    for (const compression of [0, 1]) {
      const records = [
        Record({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('a'), value: Buffer.from('one'), headers: { h: 'x' } }),
        Record({ offsetDelta: 1, timestampDelta: 10, key: null, value: Buffer.from('two') }),
      ];
      const encoded = await RecordBatch({
        compression,
        firstOffset: Long.fromValue(0),
        firstTimestamp: Number(T0),
        maxTimestamp: Number(T0) + 10,
        lastOffsetDelta: 1,
        producerId: Long.fromValue(42),
        producerEpoch: 1,
        firstSequence: 5,
        records,
      });
      const batch = Buffer.from(encoded.buffer);
      assert.equal(validateBatch(batch), null, `compression ${compression}`);
      assert.equal(producerId(batch), 42n);
      assert.equal(lastSequence(batch), 6);
      const decoded = decodeRecordBatch(batch).records;
      assert.deepEqual(decoded.map((r) => r.value!.toString()), ['one', 'two']);
      assert.deepEqual(decoded.map((r) => r.timestamp), [T0, T0 + 10n]);
      assert.deepEqual(decoded[0]!.headers.map((h) => [h.key, h.value!.toString()]), [['h', 'x']]);
    }
  });

  it('validates and decodes a zstd batch built by @platformatic/kafka', () => {
    const batch = Buffer.from(
      createRecordsBatch(
        [
          { key: Buffer.from('k'), value: Buffer.from('v'), topic: 't', partition: 0, timestamp: T0 },
          { key: Buffer.from('k2'), value: Buffer.from('v2'), topic: 't', partition: 0, timestamp: T0 + 1n },
        ],
        { compression: 'zstd', producerId: 7n, producerEpoch: 0 },
      ).buffer,
    );
    assert.equal(validateBatch(batch), null);
    assert.deepEqual(decodeRecordBatch(batch).records.map((r) => r.value!.toString()), ['v', 'v2']);
  });
});

function withCrc(batch: Buffer): Buffer {
  writeCrc(batch);
  return batch;
}

describe('validateBatch', () => {
  it('accepts a well-formed batch', () => {
    assert.equal(validateBatch(sample()), null);
  });

  const cases: [string, () => Buffer, string, string][] = [
    ['too short', () => sample().subarray(0, 40), 'TOO_SHORT', 'CORRUPT_MESSAGE'],
    ['tiny', () => Buffer.alloc(10), 'TOO_SHORT', 'CORRUPT_MESSAGE'],
    ['length larger than the bytes', () => sample().subarray(0, sample().length - 1), 'LENGTH_MISMATCH', 'CORRUPT_MESSAGE'],
    ['length smaller than the bytes', () => Buffer.concat([sample(), Buffer.alloc(3)]), 'LENGTH_MISMATCH', 'CORRUPT_MESSAGE'],
    ['magic 1', () => { const b = sample(); b.writeInt8(1, 16); return b; }, 'UNSUPPORTED_MAGIC', 'UNSUPPORTED_FOR_MESSAGE_FORMAT'],
    ['magic 0 short message', () => { const b = Buffer.alloc(30); b.writeInt32BE(18, 8); b.writeInt8(0, 16); return b; }, 'UNSUPPORTED_MAGIC', 'UNSUPPORTED_FOR_MESSAGE_FORMAT'],
    ['a flipped payload bit', () => { const b = sample(); b[b.length - 1]! ^= 1; return b; }, 'CRC_MISMATCH', 'CORRUPT_MESSAGE'],
    ['a flipped crc bit', () => { const b = sample(); b[CRC_OFFSET]! ^= 0x80; return b; }, 'CRC_MISMATCH', 'CORRUPT_MESSAGE'],
    ['compression id 7', () => { const b = sample(); b.writeInt16BE(7, 21); return withCrc(b); }, 'UNKNOWN_COMPRESSION', 'CORRUPT_MESSAGE'],
    ['negative count', () => { const b = sample(); b.writeInt32BE(-2, 57); return withCrc(b); }, 'NEGATIVE_RECORD_COUNT', 'CORRUPT_MESSAGE'],
    ['count the bytes cannot hold', () => { const b = sample(); b.writeInt32BE(1000, 57); b.writeInt32BE(999, 23); return withCrc(b); }, 'RECORD_COUNT_TOO_LARGE', 'CORRUPT_MESSAGE'],
    ['empty producer batch', () => encodeRecordBatch({ records: [] }), 'EMPTY_BATCH', 'INVALID_RECORD'],
    ['lastOffsetDelta != count - 1', () => { const b = sample(); b.writeInt32BE(5, 23); return withCrc(b); }, 'OFFSET_DELTA_MISMATCH', 'INVALID_RECORD'],
    ['control batch from a producer', () => sample({ control: true }), 'CONTROL_BATCH', 'INVALID_RECORD'],
  ];
  for (const [name, make, kind, kafkaError] of cases) {
    it(`reports ${kind} for ${name}`, () => {
      const result = validateBatch(make());
      assert.ok(result !== null, 'expected a problem');
      assert.equal(result.kind, kind);
      assert.equal(result.kafkaError, kafkaError);
      assert.ok(result.message.length > 10);
    });
  }

  it("'stored' origin accepts empty and control batches but still checks integrity", () => {
    assert.equal(validateBatch(encodeRecordBatch({ records: [] }), { origin: 'stored' }), null);
    assert.equal(validateBatch(sample({ control: true }), { origin: 'stored' }), null);
    const corrupt = sample();
    corrupt[70]! ^= 0xff;
    assert.equal(validateBatch(corrupt, { origin: 'stored' })?.kind, 'CRC_MISMATCH');
  });
});

describe('patching in place', () => {
  it('patchBaseOffset and patchPartitionLeaderEpoch keep the CRC valid', () => {
    const batch = sample();
    const crc = storedCrc(batch);
    patchBaseOffset(batch, 9_007_199_254_740_993n); // > 2^53: must stay exact
    patchPartitionLeaderEpoch(batch, 12);
    assert.equal(storedCrc(batch), crc);
    assert.equal(validateBatch(batch), null);
    assert.equal(baseOffset(batch), 9_007_199_254_740_993n);
    assert.equal(partitionLeaderEpoch(batch), 12);
    assert.deepEqual(decodeRecordBatch(batch).records.map((r) => r.offset), [9_007_199_254_740_993n, 9_007_199_254_740_994n, 9_007_199_254_740_995n]);
  });

  it('patching a view changes the underlying request buffer (no copies)', () => {
    const whole = Buffer.concat([sample(), sample()]);
    const { batches } = splitBatches(whole);
    patchBaseOffset(batches[1]!, 77n);
    assert.equal(baseOffset(whole.subarray(batches[0]!.length)), 77n);
  });

  it('patchLogAppendTime sets the attribute and maxTimestamp and re-signs the batch', () => {
    for (const compression of ['none', 'gzip'] as const) {
      const batch = sample({ compression });
      const before = storedCrc(batch);
      patchLogAppendTime(batch, T0 + 1000n);
      assert.notEqual(storedCrc(batch), before);
      assert.equal(validateBatch(batch), null);
      assert.equal(isLogAppendTime(batch), true);
      assert.equal(compressionCodec(batch), compression);
      assert.equal(maxTimestamp(batch), T0 + 1000n);
      assert.deepEqual(decodeRecordBatch(batch).records.map((r) => r.timestamp), [T0 + 1000n, T0 + 1000n, T0 + 1000n]);
    }
  });
});

describe('splitBatches', () => {
  it('returns views of every whole batch', () => {
    const parts = [sample({ baseOffset: 0n }), sample({ baseOffset: 3n, compression: 'gzip' }), sample({ baseOffset: 6n })];
    const { batches, trailing, trailingKind } = splitBatches(Buffer.concat(parts));
    assert.equal(trailing, null);
    assert.equal(trailingKind, null);
    assert.deepEqual(batches.map((b) => baseOffset(b)), [0n, 3n, 6n]);
    batches.forEach((b, i) => assert.deepEqual(b, parts[i]));
    assert.deepEqual(splitBatches(Buffer.alloc(0)), { batches: [], trailing: null, trailingKind: null });
  });

  it('reports a trailing partial batch separately', () => {
    const whole = Buffer.concat([sample(), sample()]);
    for (const cut of [1, 11, 12, 60, sample().length - 1]) {
      const truncated = whole.subarray(0, sample().length + cut);
      const result = splitBatches(truncated);
      assert.equal(result.batches.length, 1);
      assert.equal(result.trailingKind, 'partial');
      assert.equal(result.trailing!.length, cut);
    }
  });

  it('reports an impossible length as malformed', () => {
    const bad = sample();
    bad.writeInt32BE(-5, 8);
    assert.equal(splitBatches(Buffer.concat([sample(), bad])).trailingKind, 'malformed');
    const tooSmall = sample();
    tooSmall.writeInt32BE(20, 8);
    const result = splitBatches(tooSmall);
    assert.equal(result.trailingKind, 'malformed');
    assert.equal(result.batches.length, 0);
  });

  it('returns an old-format entry whole so validateBatch can name it', () => {
    const v1 = Buffer.alloc(34);
    v1.writeInt32BE(22, 8);
    v1.writeInt8(1, 16);
    const { batches, trailing } = splitBatches(v1);
    assert.equal(trailing, null);
    assert.equal(validateBatch(batches[0]!)?.kind, 'UNSUPPORTED_MAGIC');
  });
});
