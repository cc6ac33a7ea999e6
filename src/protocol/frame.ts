/**
 * Kafka's framing: every request and response is a 4-byte big-endian signed size followed by that many
 * bytes. Sans-io: the server feeds socket chunks in and takes whole frames out.
 *
 * Two properties matter on the hot path and for safety:
 * - A frame that lies inside one chunk is returned as a view (`subarray`) of that chunk, never copied;
 *   only a frame spread over several chunks is joined (one copy).
 * - The size prefix is checked the moment its 4 bytes are known, before any byte of the body is kept:
 *   a client claiming a 2 GB frame costs us 4 bytes, not 2 GB (Kafka's socket.request.max.bytes).
 */
import { ProtocolError } from './protocol-error.ts';
import { KafscaleError } from '../errors/kafscale-error.ts';

export const FRAME_SIZE_PREFIX_BYTES = 4;
/** Largest frame a SASL listener accepts before authentication (Kafka's sasl.server.max.receive.size default). */
export const SASL_MAX_RECEIVE_BYTES = 512 * 1024;
const MAX_INT32 = 0x7fffffff;

const AWAITING_HEADER = -1;

/**
 * Usage: `push(chunk)`, then call `next()` until it returns null, then push the next chunk.
 * `next()` throws ProtocolError (KSC_PROTOCOL_MALFORMED for a negative size, KSC_FRAME_TOO_LARGE above
 * `maxFrameBytes`); after that the decoder stays failed, since the stream has lost its framing.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #chunk: Buffer;
  #offset: number;
  /** Body size of the frame being read, or AWAITING_HEADER. */
  #expected: number;
  readonly #header: Buffer;
  #headerBytes: number;
  /** Parts of a frame that spans chunks (views, joined once when complete). */
  #parts: Buffer[];
  #partBytes: number;
  #failure: ProtocolError | null;

  constructor(maxFrameBytes: number) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > MAX_INT32) {
      throw new RangeError(`maxFrameBytes must be an integer from 0 to ${MAX_INT32}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
    this.#chunk = Buffer.alloc(0);
    this.#offset = 0;
    this.#expected = AWAITING_HEADER;
    this.#header = Buffer.alloc(FRAME_SIZE_PREFIX_BYTES);
    this.#headerBytes = 0;
    this.#parts = [];
    this.#partBytes = 0;
    this.#failure = null;
  }

  /** Bytes held for an incomplete frame (body parts plus partial size prefix); excludes unread input. */
  get bufferedBytes(): number {
    return this.#partBytes + this.#headerBytes;
  }

  /** Body size of the frame currently being received, or null between frames. */
  get pendingFrameBytes(): number | null {
    return this.#expected === AWAITING_HEADER ? null : this.#expected;
  }

  push(chunk: Buffer): void {
    if (this.#offset < this.#chunk.length) {
      throw new KafscaleError('KSC_INTERNAL', 'FrameDecoder.push() called before next() consumed the previous chunk');
    }
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /** The next complete frame body (without its size prefix), or null when more input is needed. */
  next(): Buffer | null {
    if (this.#failure !== null) throw this.#failure;
    if (this.#expected === AWAITING_HEADER && !this.#readHeader()) return null;
    const expected = this.#expected;
    const chunk = this.#chunk;
    const available = chunk.length - this.#offset;
    if (this.#partBytes === 0 && available >= expected) {
      const frame = chunk.subarray(this.#offset, this.#offset + expected);
      this.#offset += expected;
      this.#expected = AWAITING_HEADER;
      return frame;
    }
    const take = Math.min(available, expected - this.#partBytes);
    if (take > 0) {
      this.#parts.push(chunk.subarray(this.#offset, this.#offset + take));
      this.#partBytes += take;
      this.#offset += take;
    }
    if (this.#partBytes < expected) return null;
    const frame = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, expected);
    this.#parts = [];
    this.#partBytes = 0;
    this.#expected = AWAITING_HEADER;
    return frame;
  }

  /** Reads (possibly across chunks) and validates the 4-byte size. False when more input is needed. */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    let size: number;
    if (this.#headerBytes === 0 && chunk.length - this.#offset >= FRAME_SIZE_PREFIX_BYTES) {
      size = chunk.readInt32BE(this.#offset);
      this.#offset += FRAME_SIZE_PREFIX_BYTES;
    } else {
      while (this.#headerBytes < FRAME_SIZE_PREFIX_BYTES && this.#offset < chunk.length) {
        this.#header[this.#headerBytes++] = chunk[this.#offset++] as number;
      }
      if (this.#headerBytes < FRAME_SIZE_PREFIX_BYTES) return false;
      this.#headerBytes = 0;
      size = this.#header.readInt32BE(0);
    }
    if (size < 0) {
      this.#fail(new ProtocolError('KSC_PROTOCOL_MALFORMED', `Request frame has a negative size (${size}); the connection is closed`));
    }
    if (size > this.maxFrameBytes) {
      this.#fail(
        new ProtocolError(
          'KSC_FRAME_TOO_LARGE',
          `Request frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes} bytes (socket.request.max.bytes, KAFSCALE_SOCKET_REQUEST_MAX_BYTES); the connection is closed`,
        ),
      );
    }
    this.#expected = size;
    return true;
  }

  #fail(error: ProtocolError): never {
    this.#failure = error;
    // Drop every reference so a failed connection holds no input.
    this.#chunk = Buffer.alloc(0);
    this.#offset = 0;
    this.#parts = [];
    this.#partBytes = 0;
    throw error;
  }
}

/** The 4-byte size prefix for a frame made of `chunks`. */
export function sizePrefix(chunks: readonly Buffer[]): Buffer {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  if (total > MAX_INT32) throw new RangeError(`Frame of ${total} bytes exceeds the int32 size prefix`);
  const prefix = Buffer.allocUnsafe(FRAME_SIZE_PREFIX_BYTES);
  prefix.writeInt32BE(total, 0);
  return prefix;
}
