import { ProtocolError } from '../protocol-error.ts';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Cursor over one Kafka frame (or a slice of one). Every read is bounds-checked against `end` and a
 * violation throws ProtocolError('KSC_PROTOCOL_MALFORMED'): the bytes come from the network, so a
 * length prefix is only believed when that many bytes are actually left. Nothing is ever allocated
 * from an untrusted length before that check. Byte fields are returned as zero-copy views
 * (`subarray`) into the frame.
 */
export class Reader {
  readonly buffer: Buffer;
  offset: number;
  end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    if (offset < 0 || end > buffer.length || offset > end) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `reader window [${offset}, ${end}) is outside a buffer of ${buffer.length} bytes`);
    }
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Reserves `n` bytes and returns the offset where they start. */
  private take(n: number, what: string): number {
    const at = this.offset;
    if (n > this.end - at) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `truncated frame: ${what} needs ${n} bytes at offset ${at}, ${this.end - at} left`);
    }
    this.offset = at + n;
    return at;
  }

  readInt8(): number {
    return this.buffer.readInt8(this.take(1, 'int8'));
  }

  readUInt8(): number {
    return this.buffer[this.take(1, 'uint8')]!;
  }

  readInt16(): number {
    return this.buffer.readInt16BE(this.take(2, 'int16'));
  }

  readUInt16(): number {
    return this.buffer.readUInt16BE(this.take(2, 'uint16'));
  }

  readInt32(): number {
    return this.buffer.readInt32BE(this.take(4, 'int32'));
  }

  readUInt32(): number {
    return this.buffer.readUInt32BE(this.take(4, 'uint32'));
  }

  readInt64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8, 'int64'));
  }

  readFloat64(): number {
    return this.buffer.readDoubleBE(this.take(8, 'float64'));
  }

  /** Kafka reads any non-zero byte as true. */
  readBool(): boolean {
    return this.buffer[this.take(1, 'bool')] !== 0;
  }

  /** Unsigned LEB128 varint, at most 5 bytes, value < 2^32. */
  readUnsignedVarint(): number {
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.buffer[this.take(1, 'varint')]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
      shift += 7;
    }
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `unsigned varint at offset ${this.offset} is longer than 5 bytes or exceeds 32 bits`);
  }

  /** Zigzag-encoded signed 32-bit varint (record fields). */
  readVarint(): number {
    const raw = this.readUnsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zigzag-encoded signed 64-bit varint, at most 10 bytes. */
  readVarlong(): bigint {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.buffer[this.take(1, 'varlong')]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        return (value >> 1n) ^ -(value & 1n);
      }
      shift += 7n;
    }
    throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `varlong at offset ${this.offset} is longer than 10 bytes`);
  }

  /** Compact lengths carry length+1 so that 0 can mean null; returns -1 for null. */
  readCompactLength(): number {
    return this.readUnsignedVarint() - 1;
  }

  private readUtf8(length: number): string {
    const at = this.take(length, 'string');
    return this.buffer.toString('utf8', at, at + length);
  }

  private checkedLength(length: number, nullable: boolean, what: string): number {
    if (length < 0) {
      if (length === -1 && nullable) return -1;
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `${what} length ${length} at offset ${this.offset} is invalid${length === -1 ? ' (null where null is not allowed)' : ''}`);
    }
    if (length > this.end - this.offset) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `${what} length ${length} at offset ${this.offset} exceeds the ${this.end - this.offset} bytes left`);
    }
    return length;
  }

  readString(): string {
    return this.readUtf8(this.checkedLength(this.readInt16(), false, 'string'));
  }

  readNullableString(): string | null {
    const length = this.checkedLength(this.readInt16(), true, 'string');
    return length === -1 ? null : this.readUtf8(length);
  }

  readCompactString(): string {
    return this.readUtf8(this.checkedLength(this.readCompactLength(), false, 'compact string'));
  }

  readCompactNullableString(): string | null {
    const length = this.checkedLength(this.readCompactLength(), true, 'compact string');
    return length === -1 ? null : this.readUtf8(length);
  }

  /** A zero-copy view of the next `length` bytes. */
  readRaw(length: number): Buffer {
    const at = this.take(this.checkedLength(length, false, 'raw bytes'), 'bytes');
    return this.buffer.subarray(at, at + length);
  }

  readBytes(): Buffer {
    return this.readRaw(this.checkedLength(this.readInt32(), false, 'bytes'));
  }

  readNullableBytes(): Buffer | null {
    const length = this.checkedLength(this.readInt32(), true, 'bytes');
    return length === -1 ? null : this.readRaw(length);
  }

  readCompactBytes(): Buffer {
    return this.readRaw(this.checkedLength(this.readCompactLength(), false, 'compact bytes'));
  }

  readCompactNullableBytes(): Buffer | null {
    const length = this.checkedLength(this.readCompactLength(), true, 'compact bytes');
    return length === -1 ? null : this.readRaw(length);
  }

  /** Array length (int32, -1 = null) validated against the bytes left: every element takes at least one byte in practice, and a larger count is never allocated. */
  readArrayLength(nullable: boolean): number {
    return this.checkedLength(this.readInt32(), nullable, 'array');
  }

  readCompactArrayLength(nullable: boolean): number {
    return this.checkedLength(this.readCompactLength(), nullable, 'compact array');
  }

  /** UUID in 8-4-4-4-12 lowercase hex form. */
  readUuid(): string {
    const at = this.take(16, 'uuid');
    const b = this.buffer;
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += HEX[b[at + i]!]!;
    }
    return s;
  }

  skip(n: number): void {
    this.take(this.checkedLength(n, false, 'skipped field'), 'skip');
  }

  /** Skips a whole tagged-field section (used where no tagged field is known, e.g. headers). */
  skipTaggedFields(): void {
    const count = this.readUnsignedVarint();
    for (let i = 0; i < count; i++) {
      this.readUnsignedVarint();
      this.skip(this.readUnsignedVarint());
    }
  }
}
