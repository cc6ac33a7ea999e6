import { ProtocolError } from '../protocol-error.ts';

/** Byte fields at least this large are appended by reference instead of being copied into scratch. */
export const REFERENCE_THRESHOLD_BYTES = 1024;

const INITIAL_SCRATCH_BYTES = 512;
const MAX_SCRATCH_BYTES = 64 * 1024;

/**
 * Builds a message as a list of chunks, so a response can go out with one corked/vectored write and
 * stored record batches are never copied: small fields are packed into a growing scratch buffer, large
 * Buffers become chunks of their own. The caller must not mutate appended Buffers until the chunks
 * have been written.
 */
export class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch: Buffer;
  /** DataView over scratch: V8 inlines setBigInt64, Buffer#writeBigInt64BE is far slower. */
  private view: DataView;
  /** Start of the not-yet-emitted region of `scratch`. */
  private start = 0;
  private pos = 0;
  private total = 0;

  constructor(initialBytes = INITIAL_SCRATCH_BYTES) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
    this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.length);
  }

  get byteLength(): number {
    return this.total + (this.pos - this.start);
  }

  /** Makes room for `n` more bytes in scratch and returns the offset to write at. */
  private reserve(n: number): number {
    if (this.pos + n > this.scratch.length) {
      this.flushScratch();
      const size = Math.max(n, Math.min(this.scratch.length * 2, MAX_SCRATCH_BYTES));
      this.scratch = Buffer.allocUnsafe(size);
      this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.length);
      this.start = 0;
      this.pos = 0;
    }
    const at = this.pos;
    this.pos = at + n;
    return at;
  }

  private flushScratch(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.scratch.subarray(this.start, this.pos));
      this.total += this.pos - this.start;
      this.start = this.pos;
    }
  }

  writeInt8(v: number): this {
    const at = this.reserve(1);
    this.scratch.writeInt8(v, at);
    return this;
  }

  writeUInt8(v: number): this {
    const at = this.reserve(1);
    this.scratch[at] = v;
    return this;
  }

  writeInt16(v: number): this {
    const at = this.reserve(2);
    this.scratch.writeInt16BE(v, at);
    return this;
  }

  writeUInt16(v: number): this {
    const at = this.reserve(2);
    this.scratch.writeUInt16BE(v, at);
    return this;
  }

  writeInt32(v: number): this {
    const at = this.reserve(4);
    this.scratch.writeInt32BE(v, at);
    return this;
  }

  writeUInt32(v: number): this {
    const at = this.reserve(4);
    this.scratch.writeUInt32BE(v, at);
    return this;
  }

  writeInt64(v: bigint): this {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v);
    return this;
  }

  writeFloat64(v: number): this {
    const at = this.reserve(8);
    this.scratch.writeDoubleBE(v, at);
    return this;
  }

  writeBool(v: boolean): this {
    const at = this.reserve(1);
    this.scratch[at] = v ? 1 : 0;
    return this;
  }

  writeUnsignedVarint(v: number): this {
    if (!(v >= 0 && v <= 0xffffffff) || !Number.isInteger(v)) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `unsigned varint ${v} is outside [0, 2^32)`);
    }
    let at = this.reserve(unsignedVarintSize(v));
    const b = this.scratch;
    while (v >= 0x80) {
      b[at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[at] = v;
    return this;
  }

  writeVarint(v: number): this {
    return this.writeUnsignedVarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  writeVarlong(v: bigint): this {
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (z >= 0x80n) {
      this.writeUInt8(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    return this.writeUInt8(Number(z));
  }

  /** UTF-8 string with an int16 length; null writes -1. */
  writeNullableString(v: string | null): this {
    if (v === null) return this.writeInt16(-1);
    const length = Buffer.byteLength(v, 'utf8');
    if (length > 0x7fff) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `string of ${length} bytes exceeds the int16 length limit`);
    }
    this.writeInt16(length);
    const at = this.reserve(length);
    this.scratch.write(v, at, length, 'utf8');
    return this;
  }

  writeString(v: string): this {
    return this.writeNullableString(v);
  }

  /** UTF-8 string with an unsigned varint length+1; null writes 0. */
  writeCompactNullableString(v: string | null): this {
    if (v === null) return this.writeUnsignedVarint(0);
    const length = Buffer.byteLength(v, 'utf8');
    this.writeUnsignedVarint(length + 1);
    const at = this.reserve(length);
    this.scratch.write(v, at, length, 'utf8');
    return this;
  }

  writeCompactString(v: string): this {
    return this.writeCompactNullableString(v);
  }

  /** Appends bytes without a length: large ones by reference, small ones copied into scratch. */
  writeRaw(v: Uint8Array): this {
    if (v.length >= REFERENCE_THRESHOLD_BYTES) {
      this.flushScratch();
      this.chunks.push(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length));
      this.total += v.length;
    } else if (v.length > 0) {
      const at = this.reserve(v.length);
      this.scratch.set(v, at);
    }
    return this;
  }

  /** Appends several byte chunks (e.g. record batches) that form one value. */
  writeRawChunks(chunks: readonly Uint8Array[]): this {
    for (const chunk of chunks) this.writeRaw(chunk);
    return this;
  }

  writeUuid(v: string): this {
    const at = this.reserve(16);
    const dashed = v.length === 36 && v.charCodeAt(8) === 45 && v.charCodeAt(13) === 45 && v.charCodeAt(18) === 45 && v.charCodeAt(23) === 45;
    if (!dashed || this.scratch.write(v.replaceAll('-', ''), at, 16, 'hex') !== 16) {
      throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `'${v}' is not a UUID in 8-4-4-4-12 hex form`);
    }
    return this;
  }

  /** Returns the chunks; the writer must not be used afterwards. */
  finish(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  /** Convenience for tests and small messages: the chunks joined into one Buffer. */
  finishConcat(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.total);
  }
}

export function unsignedVarintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}
