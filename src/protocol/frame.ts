/**
 * Kafka's framing: every request and response is a 4-byte big-endian signed size followed by that many
 * bytes. Sans-io: the server feeds socket chunks in and takes whole frames out.
 *
 * Two properties matter on the hot path and for safety:
 * - A frame that lies inside one chunk is returned as a view (`subarray`) of that chunk, never copied;
 *   only a frame spread over several chunks is joined (one copy).
 *   A *transient* chunk (`push(chunk, true)`: a read buffer its owner reuses, server/direct-reads.ts) is
 *   never referenced once consumed: frames are copied out of it — a frame up to `directFrameBytes`
 *   into one buffer of its final size as its parts arrive (from its second part on),
 *   so almost every byte is allocated once — and `ownUnread()` copies what is left unread before the
 *   owner reuses the buffer.
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
 * Largest frame a transient chunk's bytes are copied straight into by default (allocated at its full size
 * when its second part arrives). Above it, parts are copied into buffers of their own and joined at the
 * end, so a client that declares a large frame and sends little of it makes a decoder without a memory
 * budget behind it hold only what was sent.
 */
export const DIRECT_FRAME_BYTES = 1024 * 1024;
const NO_FRAME = Buffer.alloc(0);

/**
 * Usage: `push(chunk)`, then call `next()` until it returns null, then push the next chunk.
 * `next()` throws ProtocolError (KSC_PROTOCOL_MALFORMED for a negative size, KSC_FRAME_TOO_LARGE above
 * `maxFrameBytes`); after that the decoder stays failed, since the stream has lost its framing.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  readonly #directFrameBytes: number;
  #chunk: Buffer;
  #offset: number;
  /** Body size of the frame being read, or AWAITING_HEADER. */
  #expected: number;
  readonly #header: Buffer;
  #headerBytes: number;
  /** Parts of a frame that spans chunks (views, joined once when complete). */
  #parts: Buffer[];
  #partBytes: number;
  /** The current chunk is reused by its owner after push(): keep no view of it. */
  #transient: boolean;
  /** A frame of at most #directFrameBytes being filled from transient chunks (NO_FRAME when none). */
  #frame: Buffer;
  #failure: ProtocolError | null;

  /**
   * `directFrameBytes`: the largest frame filled into one buffer from transient chunks (default
   * DIRECT_FRAME_BYTES). A caller that charges every frame to a memory budget before its second part
   * is read (KafkaConnection with a RequestBudget) may pass maxFrameBytes: all frames then take one
   * allocation.
   */
  constructor(maxFrameBytes: number, directFrameBytes = DIRECT_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > MAX_INT32) {
      throw new RangeError(`maxFrameBytes must be an integer from 0 to ${MAX_INT32}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
    this.#directFrameBytes = directFrameBytes;
    this.#chunk = Buffer.alloc(0);
    this.#offset = 0;
    this.#expected = AWAITING_HEADER;
    this.#header = Buffer.alloc(FRAME_SIZE_PREFIX_BYTES);
    this.#headerBytes = 0;
    this.#parts = [];
    this.#partBytes = 0;
    this.#transient = false;
    this.#frame = NO_FRAME;
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

  /**
   * `transient`: the caller reuses `chunk`'s memory once this call's next() loop is done — frames are
   * then copied out of it, and the caller must call ownUnread() before reusing it.
   */
  push(chunk: Buffer, transient = false): void {
    if (this.#offset < this.#chunk.length) {
      throw new KafscaleError('KSC_INTERNAL', 'FrameDecoder.push() called before next() consumed the previous chunk');
    }
    this.#chunk = chunk;
    this.#offset = 0;
    this.#transient = transient;
  }

  /** Copies the unread rest of a transient chunk (if any), so that its owner may reuse the memory. */
  ownUnread(): void {
    if (!this.#transient) return;
    this.#chunk = this.#offset < this.#chunk.length ? Buffer.from(this.#chunk.subarray(this.#offset)) : NO_FRAME;
    this.#offset = 0;
    this.#transient = false;
  }

  /** The next complete frame body (without its size prefix), or null when more input is needed. */
  next(): Buffer | null {
    if (this.#failure !== null) throw this.#failure;
    if (this.#expected === AWAITING_HEADER && !this.#readHeader()) return null;
    const expected = this.#expected;
    const chunk = this.#chunk;
    const available = chunk.length - this.#offset;
    if (this.#partBytes === 0 && available >= expected) {
      let frame = chunk.subarray(this.#offset, this.#offset + expected);
      if (this.#transient) frame = Buffer.from(frame);
      this.#offset += expected;
      this.#expected = AWAITING_HEADER;
      return frame;
    }
    const take = Math.min(available, expected - this.#partBytes);
    // A frame being filled stays so whatever the next chunk is (its bytes so far are in #frame, not #parts).
    // It is allocated at its full size only from its second part on: its first part is an owned copy, so
    // that the connection has charged the frame to the request budget (after next() returns null for the
    // first part) before the broker holds more than a read's worth of it.
    if (this.#frame !== NO_FRAME || (this.#transient && take > 0 && this.#partBytes > 0 && expected <= this.#directFrameBytes)) return this.#fillFrame(take);
    if (take > 0) {
      const part = chunk.subarray(this.#offset, this.#offset + take);
      this.#parts.push(this.#transient ? Buffer.from(part) : part);
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

  /** Copies `take` bytes of a transient chunk into the frame of its final size; the frame once complete. */
  #fillFrame(take: number): Buffer | null {
    const expected = this.#expected;
    if (this.#frame === NO_FRAME) {
      // Bytes already held as parts (the frame's first part, or earlier non-transient chunks) go first.
      this.#frame = Buffer.allocUnsafe(expected);
      let at = 0;
      for (const part of this.#parts) at += part.copy(this.#frame, at);
      this.#parts = [];
    }
    this.#chunk.copy(this.#frame, this.#partBytes, this.#offset, this.#offset + take);
    this.#partBytes += take;
    this.#offset += take;
    if (this.#partBytes < expected) return null;
    const frame = this.#frame;
    this.#frame = NO_FRAME;
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
    this.#frame = NO_FRAME;
    this.#transient = false;
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
