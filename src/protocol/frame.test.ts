import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIRECT_FRAME_BYTES, FrameDecoder, sizePrefix } from './frame.ts';
import { ProtocolError } from './protocol-error.ts';

function frame(body: Buffer): Buffer {
  return Buffer.concat([sizePrefix([body]), body]);
}

function body(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i) & 0xff;
  return out;
}

function drain(decoder: FrameDecoder, chunks: readonly Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(Buffer.from(f));
  }
  return frames;
}

const BODIES = [body(0, 1), body(1, 2), body(9, 3), body(40, 4)];
const STREAM = Buffer.concat(BODIES.map(frame));

describe('FrameDecoder', () => {
  test('frames inside one chunk are views into it, not copies', () => {
    const decoder = new FrameDecoder(1024);
    decoder.push(STREAM);
    const views: Buffer[] = [];
    for (let f = decoder.next(); f !== null; f = decoder.next()) views.push(f);
    assert.deepEqual(views, BODIES);
    for (const view of views) assert.equal(view.buffer, STREAM.buffer);
    assert.equal(views[3]?.byteOffset, STREAM.byteOffset + STREAM.length - 40);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('a stream split at every byte boundary (two pieces) decodes the same', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const frames = drain(new FrameDecoder(1024), [STREAM.subarray(0, at), STREAM.subarray(at)]);
      assert.deepEqual(frames, BODIES, `split at ${at}`);
    }
  });

  test('a stream split at every pair of boundaries (three pieces) decodes the same', () => {
    for (let a = 0; a <= STREAM.length; a++) {
      for (let b = a; b <= STREAM.length; b++) {
        const frames = drain(new FrameDecoder(1024), [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]);
        assert.deepEqual(frames, BODIES, `split at ${a}, ${b}`);
      }
    }
  });

  test('one byte at a time', () => {
    const chunks = Array.from({ length: STREAM.length }, (_, i) => STREAM.subarray(i, i + 1));
    assert.deepEqual(drain(new FrameDecoder(1024), chunks), BODIES);
  });

  test('a frame of exactly maxFrameBytes is accepted; pendingFrameBytes reports it', () => {
    const decoder = new FrameDecoder(40);
    const bytes = frame(body(40, 9));
    decoder.push(bytes.subarray(0, 10));
    assert.equal(decoder.next(), null);
    assert.equal(decoder.pendingFrameBytes, 40);
    assert.equal(decoder.bufferedBytes, 6);
    decoder.push(bytes.subarray(10));
    assert.deepEqual(decoder.next(), body(40, 9));
    assert.equal(decoder.pendingFrameBytes, null);
  });

  test('an oversized size is rejected before any body byte is kept', () => {
    const decoder = new FrameDecoder(1000);
    const header = Buffer.alloc(4);
    header.writeInt32BE(200 * 1024 * 1024);
    decoder.push(Buffer.concat([header, Buffer.alloc(500)]));
    assert.throws(
      () => decoder.next(),
      (error: unknown) => error instanceof ProtocolError && error.code === 'KSC_FRAME_TOO_LARGE' && /209715200 bytes exceeds the limit of 1000/.test(error.message),
    );
    assert.equal(decoder.bufferedBytes, 0);
    // Failed for good: the stream has lost its framing.
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && error.code === 'KSC_FRAME_TOO_LARGE');
  });

  test('an oversized size split across chunks is rejected as soon as its 4th byte arrives', () => {
    const decoder = new FrameDecoder(1000);
    decoder.push(Buffer.from([0x00, 0x00]));
    assert.equal(decoder.next(), null);
    decoder.push(Buffer.from([0x03, 0xe9, 0xff, 0xff]));
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && error.code === 'KSC_FRAME_TOO_LARGE');
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('a negative size is malformed', () => {
    const decoder = new FrameDecoder(1000);
    decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]));
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && error.code === 'KSC_PROTOCOL_MALFORMED');
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('push before the previous chunk is consumed is a programming error', () => {
    const decoder = new FrameDecoder(1000);
    decoder.push(STREAM);
    assert.equal(decoder.next()?.length, 0);
    assert.throws(() => decoder.push(STREAM), /before next\(\) consumed/);
  });

  test('rejects an invalid limit', () => {
    assert.throws(() => new FrameDecoder(-1), RangeError);
    assert.throws(() => new FrameDecoder(2 ** 31), RangeError);
  });
});

/**
 * Feeds `stream` in pieces through ONE reused buffer, as direct reads do: each piece is copied into the
 * scratch buffer, pushed as transient, its frames taken, ownUnread() called, then the scratch buffer is
 * scribbled over. Frames are NOT copied here: any view of the scratch buffer would show the scribble.
 * `take(i)`: whether to take frames after piece i (false: leave its bytes unread, like a paused connection).
 */
function drainTransient(decoder: FrameDecoder, stream: Buffer, cuts: readonly number[], take: (i: number) => boolean = () => true): Buffer[] {
  const scratch = Buffer.alloc(stream.length + 1);
  const frames: Buffer[] = [];
  const bounds = [0, ...cuts, stream.length];
  let pending = false;
  const takeAll = (): void => {
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    pending = false;
  };
  for (let i = 0; i + 1 < bounds.length; i++) {
    if (pending) takeAll(); // a paused connection resumes before it reads again
    const piece = stream.subarray(bounds[i], bounds[i + 1]);
    piece.copy(scratch);
    decoder.push(scratch.subarray(0, piece.length), true);
    if (take(i)) takeAll();
    else pending = true;
    decoder.ownUnread();
    scratch.fill(0xee);
  }
  if (pending) takeAll();
  return frames;
}

describe('FrameDecoder, transient chunks (reads into a reused buffer)', () => {
  test('frames never alias the reused buffer, whatever the split', () => {
    for (let a = 0; a <= STREAM.length; a++) {
      for (let b = a; b <= STREAM.length; b++) {
        assert.deepEqual(drainTransient(new FrameDecoder(1024), STREAM, [a, b]), BODIES, `split at ${a}, ${b}`);
      }
    }
  });

  test('bytes left unread (a paused connection) are copied by ownUnread before the buffer is reused', () => {
    for (let a = 0; a <= STREAM.length; a++) {
      // Nothing is taken after the first piece: all of it must survive the scribble.
      assert.deepEqual(drainTransient(new FrameDecoder(1024), STREAM, [a], (i) => i !== 0), BODIES, `split at ${a}`);
    }
  });

  test('a frame spanning reads is filled into one buffer of its size; a larger one is joined from copies', () => {
    const small = body(200_000, 7);
    const large = body(DIRECT_FRAME_BYTES + 10, 8);
    const stream = Buffer.concat([frame(small), frame(large), frame(body(3, 9))]);
    const cuts: number[] = [];
    for (let at = 65_536; at < stream.length; at += 65_536) cuts.push(at);
    const frames = drainTransient(new FrameDecoder(4 * DIRECT_FRAME_BYTES), stream, cuts);
    assert.deepEqual(frames, [small, large, body(3, 9)]);
    // The small frame is the whole of its own ArrayBuffer region (allocated at its size, not a view of a chunk).
    assert.equal(frames[0]?.length, 200_000);
    assert.ok((frames[0]?.buffer.byteLength ?? 0) >= 200_000);
  });

  test('with directFrameBytes raised (a budget behind the decoder), a large frame is filled into one buffer too', () => {
    const declared = 2 * DIRECT_FRAME_BYTES;
    const heldAfterTwoParts = (decoder: FrameDecoder): number => {
      const first = Buffer.alloc(65_536, 1);
      first.writeInt32BE(declared, 0);
      const before = process.memoryUsage().arrayBuffers;
      for (const part of [first, Buffer.alloc(65_536, 2)]) {
        decoder.push(part, true);
        assert.equal(decoder.next(), null);
        decoder.ownUnread();
      }
      return process.memoryUsage().arrayBuffers - before;
    };
    // Default: a 2 MiB frame is kept as copies of what arrived (~128 KiB), joined at the end.
    assert.ok(heldAfterTwoParts(new FrameDecoder(4 * DIRECT_FRAME_BYTES)) < declared / 2);
    // Raised: the whole frame is allocated once, at its second part.
    const direct = new FrameDecoder(4 * DIRECT_FRAME_BYTES, 4 * DIRECT_FRAME_BYTES);
    assert.ok(heldAfterTwoParts(direct) >= declared);
    direct.push(Buffer.alloc(declared - 2 * 65_536 + 4, 3), true);
    const frame = direct.next();
    assert.equal(frame?.length, declared);
    assert.deepEqual([frame?.[0], frame?.[65_531], frame?.[65_532], frame?.[131_067], frame?.[131_068]], [1, 1, 2, 2, 3]);
  });

  test('a chunk that is not transient after transient ones (and the reverse) mixes correctly', () => {
    const big = body(150_000, 11);
    const stream = Buffer.concat([frame(big), frame(body(5, 12))]);
    const decoder = new FrameDecoder(1 << 20);
    const scratch = Buffer.alloc(stream.length);
    const frames: Buffer[] = [];
    // Piece 1 non-transient (a view is kept as a part), piece 2 transient, piece 3 non-transient.
    decoder.push(stream.subarray(0, 50_000));
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    stream.copy(scratch, 0, 50_000, 100_000);
    decoder.push(scratch.subarray(0, 50_000), true);
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    decoder.ownUnread();
    scratch.fill(0xee);
    decoder.push(stream.subarray(100_000));
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
    assert.deepEqual(frames, [big, body(5, 12)]);
  });

  test('a frame is allocated at its full size only once its second part arrives (after the connection charged it)', () => {
    const declared = DIRECT_FRAME_BYTES;
    const first = Buffer.alloc(4 + 10, 1);
    first.writeInt32BE(declared, 0);
    const decoder = new FrameDecoder(2 * DIRECT_FRAME_BYTES);
    const before = process.memoryUsage().arrayBuffers;
    decoder.push(first, true);
    assert.equal(decoder.next(), null);
    decoder.ownUnread();
    assert.equal(decoder.pendingFrameBytes, declared);
    // Only the 10 bytes sent are held: no 1 MiB buffer for a frame the budget may not admit yet.
    assert.ok(process.memoryUsage().arrayBuffers - before < declared / 2);
    decoder.push(Buffer.alloc(20, 2), true);
    assert.equal(decoder.next(), null);
    decoder.ownUnread();
    assert.ok(process.memoryUsage().arrayBuffers - before >= declared);
    decoder.push(Buffer.alloc(declared - 30, 3), true);
    const frame = decoder.next();
    assert.equal(frame?.length, declared);
    assert.deepEqual([frame?.[0], frame?.[9], frame?.[10], frame?.[29], frame?.[30]], [1, 1, 2, 2, 3]);
  });

  test('an oversized size from a transient chunk is still rejected before any body byte is kept', () => {
    const decoder = new FrameDecoder(1000);
    const header = Buffer.alloc(8);
    header.writeInt32BE(2_000_000, 0);
    decoder.push(header, true);
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && error.code === 'KSC_FRAME_TOO_LARGE');
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe('sizePrefix', () => {
  test('is the big-endian total length of the chunks', () => {
    assert.deepEqual(sizePrefix([Buffer.alloc(3), Buffer.alloc(0), Buffer.alloc(300)]), Buffer.from([0, 0, 0x01, 0x2f]));
    assert.deepEqual(sizePrefix([]), Buffer.from([0, 0, 0, 0]));
  });
});
