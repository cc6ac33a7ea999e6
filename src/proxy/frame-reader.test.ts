import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { FrameReader } from './frame-reader.ts';

/** Frames of mixed sizes (empty, small, around the scratch and direct thresholds, several MB), size-prefixed. */
function sampleFrames(): Buffer[] {
  const sizes = [0, 1, 4, 100, 16 * 1024, 16 * 1024 + 1, 40_000, 64 * 1024 - 4, 64 * 1024, 64 * 1024 + 3, 3 * 1024 * 1024 + 7, 5, 200_000, 2];
  return sizes.map((size) => randomBytes(size));
}

function wire(frames: readonly Buffer[]): Buffer {
  return Buffer.concat(frames.flatMap((frame) => {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length, 0);
    return [prefix, frame];
  }));
}

test('push: frames come out whole and in order however the bytes are chunked', () => {
  const frames = sampleFrames();
  const bytes = wire(frames);
  for (const chunkBytes of [1, 3, 4, 5, 1000, 65_536, 70_000, bytes.length]) {
    const seen: Buffer[] = [];
    const reader = new FrameReader(16 << 20, (frame) => seen.push(frame));
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) reader.push(bytes.subarray(offset, offset + chunkBytes));
    assert.equal(seen.length, frames.length, `chunks of ${chunkBytes}`);
    for (const [i, frame] of frames.entries()) assert.ok(seen[i]?.equals(frame), `frame ${i} (${frame.length} bytes), chunks of ${chunkBytes}`);
  }
});

test('push: random chunking, frames are independent copies (the scratch buffer is reused)', () => {
  const frames = sampleFrames();
  const bytes = wire(frames);
  const seen: Buffer[] = [];
  const reader = new FrameReader(16 << 20, (frame) => seen.push(frame));
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + Math.floor(Math.random() * 150_000);
    reader.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  assert.deepEqual(seen.map((f) => f.length), frames.map((f) => f.length));
  for (const [i, frame] of frames.entries()) assert.ok(seen[i]?.equals(frame), `frame ${i}`);
});

test('a negative or too large size is a ProtocolError', () => {
  const reader = new FrameReader(1000, () => assert.fail('no frame'));
  assert.throws(() => reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), (error) => error instanceof ProtocolError && error.code === 'KSC_PROTOCOL_MALFORMED');
  const small = new FrameReader(1000, () => assert.fail('no frame'));
  assert.throws(() => small.push(Buffer.from([0, 0, 0x03, 0xe9])), ProtocolError);
});

test('onread: a real socket reads large frames straight into their own buffers', async () => {
  const frames = sampleFrames();
  const bytes = wire(frames);
  const server = createServer((socket) => {
    // Written in odd pieces so frames straddle reads.
    for (let offset = 0; offset < bytes.length; offset += 33_333) socket.write(bytes.subarray(offset, offset + 33_333));
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const seen: Buffer[] = [];
    const reader = new FrameReader(16 << 20, (frame) => seen.push(frame));
    const socket = connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      onread: { buffer: () => reader.target(), callback: (bytesRead) => { reader.filled(bytesRead); return true; } },
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
    });
    socket.destroy();
    assert.equal(seen.length, frames.length);
    for (const [i, frame] of frames.entries()) assert.ok(seen[i]?.equals(frame), `frame ${i} (${frame.length} bytes)`);
  } finally {
    server.close();
  }
});
