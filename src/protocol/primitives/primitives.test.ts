import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from './reader.ts';
import { Writer, REFERENCE_THRESHOLD_BYTES, unsignedVarintSize } from './writer.ts';
import { ProtocolError } from '../protocol-error.ts';

function malformed(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.code === 'KSC_PROTOCOL_MALFORMED');
}

test('fixed-width integers, floats and bools round trip', () => {
  const w = new Writer(8); // tiny scratch forces growth
  w.writeInt8(-128).writeInt16(-2).writeUInt16(65535).writeInt32(-2147483648).writeUInt32(4294967295);
  w.writeInt64(-(2n ** 63n)).writeFloat64(Math.PI).writeBool(true).writeBool(false);
  const r = new Reader(w.finishConcat());
  assert.equal(r.readInt8(), -128);
  assert.equal(r.readInt16(), -2);
  assert.equal(r.readUInt16(), 65535);
  assert.equal(r.readInt32(), -2147483648);
  assert.equal(r.readUInt32(), 4294967295);
  assert.equal(r.readInt64(), -(2n ** 63n));
  assert.equal(r.readFloat64(), Math.PI);
  assert.equal(r.readBool(), true);
  assert.equal(r.readBool(), false);
  assert.equal(r.remaining, 0);
});

test('varints: unsigned, zigzag int32 and int64, with the known encodings', () => {
  const w = new Writer();
  const unsigned = [0, 1, 127, 128, 300, 16383, 16384, 2 ** 28, 0xffffffff];
  for (const v of unsigned) w.writeUnsignedVarint(v);
  const signed = [0, -1, 1, -64, 63, -2147483648, 2147483647];
  for (const v of signed) w.writeVarint(v);
  const longs = [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 1234567890123n];
  for (const v of longs) w.writeVarlong(v);
  const r = new Reader(w.finishConcat());
  for (const v of unsigned) assert.equal(r.readUnsignedVarint(), v);
  for (const v of signed) assert.equal(r.readVarint(), v);
  for (const v of longs) assert.equal(r.readVarlong(), v);
  assert.equal(r.remaining, 0);
  assert.deepEqual([...new Writer().writeUnsignedVarint(300).finishConcat()], [0xac, 0x02]);
  assert.deepEqual([...new Writer().writeVarint(-1).finishConcat()], [0x01]);
  assert.equal(unsignedVarintSize(0xffffffff), 5);
});

test('strings: classic and compact, nullable, multi-byte UTF-8', () => {
  const w = new Writer();
  w.writeString('héllo').writeNullableString(null).writeCompactString('ünï').writeCompactNullableString(null).writeCompactString('');
  const r = new Reader(w.finishConcat());
  assert.equal(r.readString(), 'héllo');
  assert.equal(r.readNullableString(), null);
  assert.equal(r.readCompactString(), 'ünï');
  assert.equal(r.readCompactNullableString(), null);
  assert.equal(r.readCompactString(), '');
});

test('null where null is not allowed is malformed', () => {
  malformed(() => new Reader(Buffer.from([0xff, 0xff])).readString());
  malformed(() => new Reader(Buffer.from([0x00])).readCompactString());
  malformed(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).readBytes());
});

test('bytes are zero-copy views of the frame', () => {
  const frame = Buffer.from([0, 0, 0, 3, 1, 2, 3, 3, 8, 7]);
  const r = new Reader(frame);
  const a = r.readBytes();
  assert.deepEqual([...a], [1, 2, 3]);
  assert.equal(a.buffer, frame.buffer);
  frame[4] = 42;
  assert.equal(a[0], 42);
  const b = r.readCompactBytes();
  assert.deepEqual([...b], [8, 7]);
});

test('large byte values are appended by reference, small ones copied', () => {
  const big = Buffer.alloc(REFERENCE_THRESHOLD_BYTES, 7);
  const small = Buffer.from([1, 2, 3]);
  const w = new Writer();
  w.writeInt32(big.length).writeRaw(big).writeRaw(small).writeInt8(5);
  assert.equal(w.byteLength, 4 + big.length + 3 + 1);
  const chunks = w.finish();
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], big);
  assert.deepEqual([...chunks[2]!], [1, 2, 3, 5]);
});

test('uuid round trips in lowercase 8-4-4-4-12 form and rejects garbage', () => {
  const id = '0123abcd-4567-89ef-0123-456789abcdef';
  const r = new Reader(new Writer().writeUuid(id.toUpperCase()).finishConcat());
  assert.equal(r.readUuid(), id);
  malformed(() => new Writer().writeUuid('not-a-uuid'));
});

test('out-of-bounds and absurd lengths are malformed, never allocated', () => {
  malformed(() => new Reader(Buffer.from([1])).readInt16());
  malformed(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).readBytes());
  malformed(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).readArrayLength(false));
  malformed(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).readArrayLength(true));
  malformed(() => new Reader(Buffer.from([0x00, 0x05, 0x61])).readString());
  malformed(() => new Reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).readUnsignedVarint());
  malformed(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])).readUnsignedVarint());
  malformed(() => new Reader(Buffer.alloc(11, 0x80)).readVarlong());
  malformed(() => new Reader(Buffer.from([2, 1, 9])).skipTaggedFields());
  malformed(() => new Reader(Buffer.alloc(4), 2, 8));
  // a window is respected even when the underlying buffer has more bytes
  malformed(() => new Reader(Buffer.alloc(8), 0, 2).readInt32());
});

test('tagged-field sections are skipped whole', () => {
  const w = new Writer();
  w.writeUnsignedVarint(2).writeUnsignedVarint(0).writeUnsignedVarint(2).writeInt16(7);
  w.writeUnsignedVarint(5).writeUnsignedVarint(0).writeInt8(99);
  const r = new Reader(w.finishConcat());
  r.skipTaggedFields();
  assert.equal(r.readInt8(), 99);
});
