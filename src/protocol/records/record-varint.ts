/**
 * The small reader/writer the record codec needs: zigzag varints (int32) and varlongs (int64), as in
 * protobuf and Kafka's ByteUtils. Kept inside records/ because the record codec is a test/CLI tool and
 * must not depend on the request codec's primitives evolving.
 */
import { ProtocolError } from '../protocol-error.ts';

function malformed(message: string): ProtocolError {
  return new ProtocolError('KSC_PROTOCOL_MALFORMED', message);
}

export class RecordReader {
  readonly buffer: Buffer;
  readonly length: number;
  position: number;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
    this.length = buffer.length;
    this.position = 0;
  }

  int8(): number {
    if (this.position + 1 > this.length) throw malformed('record ends inside its attributes');
    return this.buffer.readInt8(this.position++);
  }

  varint(): number {
    let raw = 0;
    let shift = 0;
    for (;;) {
      if (this.position >= this.length) throw malformed('record ends inside a varint');
      const byte = this.buffer[this.position++]!;
      raw |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw malformed('varint is longer than 5 bytes');
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  varlong(): bigint {
    let raw = 0n;
    let shift = 0n;
    for (;;) {
      if (this.position >= this.length) throw malformed('record ends inside a varlong');
      const byte = this.buffer[this.position++]!;
      raw |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) throw malformed('varlong is longer than 10 bytes');
    }
    return (raw >> 1n) ^ -(raw & 1n);
  }

  /** Length-prefixed bytes; length -1 = null. Returns a view, not a copy. */
  nullableBytes(): Buffer | null {
    const size = this.varint();
    if (size < 0) {
      if (size !== -1) throw malformed(`negative length ${size}`);
      return null;
    }
    if (this.position + size > this.length) throw malformed(`field of ${size} bytes runs past the end of the record`);
    const view = this.buffer.subarray(this.position, this.position + size);
    this.position += size;
    return view;
  }
}

export class RecordWriter {
  private buffer: Buffer;
  private position: number;

  constructor(initialBytes = 256) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
    this.position = 0;
  }

  reset(): void {
    this.position = 0;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  int8(value: number): void {
    this.ensure(1);
    this.buffer.writeInt8(value, this.position++);
  }

  varint(value: number): void {
    this.ensure(5);
    let raw = ((value << 1) ^ (value >> 31)) >>> 0;
    while (raw >= 0x80) {
      this.buffer[this.position++] = (raw & 0x7f) | 0x80;
      raw >>>= 7;
    }
    this.buffer[this.position++] = raw;
  }

  varlong(value: bigint): void {
    this.ensure(10);
    let raw = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (raw >= 0x80n) {
      this.buffer[this.position++] = Number(raw & 0x7fn) | 0x80;
      raw >>= 7n;
    }
    this.buffer[this.position++] = Number(raw);
  }

  nullableBytes(value: Buffer | null): void {
    if (value === null) {
      this.varint(-1);
      return;
    }
    this.varint(value.length);
    this.raw(value);
  }

  raw(value: Buffer): void {
    this.ensure(value.length);
    value.copy(this.buffer, this.position);
    this.position += value.length;
  }

  /** A copy of what was written (the writer may be reused after reset). */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.position));
  }
}
