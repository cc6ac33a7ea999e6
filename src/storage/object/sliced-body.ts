/**
 * Work on a large request body in slices, with a turn of the event loop between them: a background PUT
 * (a merge's segment, up to 64 MiB) would otherwise hold the loop ~25 ms to join its parts and ~30 ms for
 * SigV4's payload hash in one go, and every produce or fetch arriving meanwhile would wait that long.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Bytes copied or hashed between turns of the event loop (~0.5 ms of either here). */
export const BODY_SLICE_BYTES = 1024 * 1024;

/** One buffer of the parts, copied a slice at a time (a single Buffer is returned as is). */
export async function joinInSlices(body: Buffer | readonly Buffer[], sliceBytes = BODY_SLICE_BYTES): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const parts = body as readonly Buffer[];
  if (parts.length === 1) return parts[0] as Buffer;
  let total = 0;
  for (const part of parts) total += part.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let sinceTurn = 0;
  for (const part of parts) {
    for (let from = 0; from < part.length; ) {
      const n = Math.min(part.length - from, sliceBytes - sinceTurn);
      part.copy(out, at, from, from + n);
      at += n;
      from += n;
      sinceTurn += n;
      if (sinceTurn < sliceBytes) continue;
      sinceTurn = 0;
      await nextTurn();
    }
  }
  return out;
}

/** The SHA-256 of `data` as lowercase hex (SigV4's x-amz-content-sha256), hashed a slice at a time. */
export async function sha256InSlices(data: Buffer, sliceBytes = BODY_SLICE_BYTES): Promise<string> {
  const hash = createHash('sha256');
  for (let from = 0; from < data.length; from += sliceBytes) {
    if (from > 0) await nextTurn();
    hash.update(data.subarray(from, Math.min(data.length, from + sliceBytes)));
  }
  return hash.digest('hex');
}
