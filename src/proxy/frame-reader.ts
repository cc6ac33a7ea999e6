/**
 * Reads size-prefixed frames from a socket with `onread` (net.connect's user-buffer reads), so a large
 * frame (a Fetch answer of several MB) is read by the kernel straight into its own buffer: no 64 KiB
 * chunk per read, no join of the chunks afterwards. On the proxy's consume path the join (Buffer.concat)
 * alone was 13 % of its CPU time (docs/benchmarks.md, "Proxy").
 *
 * Small frames arrive in a reused scratch buffer and are copied out (they are small: cheap).
 *
 *   const reader = new FrameReader(maxFrameBytes, (frame) => ...);
 *   connect({ host, port, onread: { buffer: () => reader.target(), callback: (n) => reader.filled(n) } });
 *
 * `push(chunk)` feeds chunks from a 'data' listener instead (sockets without `onread`, tests).
 */
import { ProtocolError } from '../protocol/protocol-error.ts';

const SIZE_BYTES = 4;
const SCRATCH_BYTES = 64 * 1024;
/** Frames larger than this get their own buffer as soon as their size is known. */
const DIRECT_FRAME_BYTES = 16 * 1024;

export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #onFrame: (frame: Buffer) => void;
  readonly #scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  /** Unparsed bytes are scratch[#start, #end). */
  #start = 0;
  #end = 0;
  /** A large frame being filled directly, and how much of it is filled. */
  #frame: Buffer | null = null;
  #frameFilled = 0;

  constructor(maxFrameBytes: number, onFrame: (frame: Buffer) => void) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** Where the next socket read should go (a read fills it from its start; then call filled()). */
  target(): Buffer {
    if (this.#frame !== null) return this.#frame.subarray(this.#frameFilled);
    if (this.#start > 0) {
      this.#scratch.copy(this.#scratch, 0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.#scratch.subarray(this.#end);
  }

  /** `bytes` were read into the buffer target() returned last. Throws ProtocolError on a bad size. */
  filled(bytes: number): void {
    if (this.#frame !== null) {
      this.#frameFilled += bytes;
      if (this.#frameFilled === this.#frame.length) {
        const frame = this.#frame;
        this.#frame = null;
        this.#onFrame(frame);
      }
      return;
    }
    this.#end += bytes;
    this.#parse();
  }

  /** Feeds a chunk that was read elsewhere (copied into the reader's buffers). */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const target = this.target();
      const copied = chunk.copy(target, 0, offset);
      offset += copied;
      this.filled(copied);
    }
  }

  #parse(): void {
    const scratch = this.#scratch;
    while (this.#end - this.#start >= SIZE_BYTES) {
      const size = scratch.readInt32BE(this.#start);
      if (size < 0 || size > this.#maxFrameBytes) {
        throw new ProtocolError('KSC_PROTOCOL_MALFORMED', `response frame size ${size} is outside 0..${this.#maxFrameBytes}`);
      }
      const available = this.#end - this.#start - SIZE_BYTES;
      const bodyStart = this.#start + SIZE_BYTES;
      if (available >= size) {
        const frame = Buffer.allocUnsafe(size);
        scratch.copy(frame, 0, bodyStart, bodyStart + size);
        this.#start = bodyStart + size;
        this.#onFrame(frame);
        continue;
      }
      if (size > DIRECT_FRAME_BYTES) {
        // The rest of this frame is read straight into its own buffer; nothing after it is in scratch.
        const frame = Buffer.allocUnsafeSlow(size);
        scratch.copy(frame, 0, bodyStart, this.#end);
        this.#frame = frame;
        this.#frameFilled = available;
        this.#start = 0;
        this.#end = 0;
      }
      break;
    }
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }
}
