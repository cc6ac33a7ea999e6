/**
 * Key rules shared by every ObjectStore adapter (see object-store.ts): '/'-separated relative paths of
 * [A-Za-z0-9._-] segments. The filesystem adapter maps keys straight onto paths, so the rules also
 * rule out traversal ('.', '..', absolute paths) and empty segments; the length limit is S3's.
 */
import { KafscaleError } from '../../telemetry/kafscale-error.ts';

/** S3's limit on key length (UTF-8 bytes; our keys are ASCII). */
export const MAX_KEY_BYTES = 1024;

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const PREFIX_CHARS = /^[A-Za-z0-9._/-]*$/;

function invalid(what: string, value: string, why: string): KafscaleError {
  return new KafscaleError(
    'KSC_OBJECT_INVALID_KEY',
    `invalid object ${what} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}; ` +
      "keys are '/'-separated segments of [A-Za-z0-9._-] (escape user input before building a key)",
  );
}

/** Throws KSC_OBJECT_INVALID_KEY unless `key` follows the key rules. */
export function assertValidKey(key: string): void {
  if (key.length === 0) throw invalid('key', key, 'it is empty');
  if (key.length > MAX_KEY_BYTES) throw invalid('key', key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  for (const segment of key.split('/')) {
    if (segment === '') throw invalid('key', key, 'it has an empty segment (leading, trailing or double slash)');
    if (segment === '.' || segment === '..') throw invalid('key', key, `segment '${segment}' is not allowed`);
    if (!SEGMENT.test(segment)) throw invalid('key', key, `segment '${segment}' has a character outside [A-Za-z0-9._-]`);
  }
}

/**
 * A list prefix may be '' (everything), end in '/' (a "directory") or stop inside a segment
 * ('topic/0/segment-0000'); complete segments follow the key rules.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix.length > MAX_KEY_BYTES) throw invalid('prefix', prefix, `it is longer than ${MAX_KEY_BYTES} bytes`);
  if (!PREFIX_CHARS.test(prefix)) throw invalid('prefix', prefix, 'it has a character outside [A-Za-z0-9._/-]');
  const segments = prefix.split('/');
  segments.pop(); // the last piece may be a partial segment (or '' after a trailing slash)
  for (const segment of segments) {
    if (segment === '') throw invalid('prefix', prefix, 'it has an empty segment (leading or double slash)');
    if (segment === '.' || segment === '..') throw invalid('prefix', prefix, `segment '${segment}' is not allowed`);
  }
}

export function bodyLength(body: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(body)) return body.length;
  let total = 0;
  for (const chunk of body as readonly Buffer[]) total += chunk.length;
  return total;
}

/** Applies the port's range rule: clipped to the object's size, never negative. */
export function clipRange(range: { readonly start: number; readonly end: number } | undefined, sizeBytes: number): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: sizeBytes };
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
    throw new KafscaleError('KSC_INTERNAL', `invalid byte range [${range.start}, ${range.end}): need 0 <= start <= end`);
  }
  const start = Math.min(range.start, sizeBytes);
  return { start, end: Math.min(range.end, sizeBytes) };
}

export function notFound(key: string, cause?: unknown): KafscaleError {
  return new KafscaleError('KSC_OBJECT_NOT_FOUND', `object ${key} does not exist`, cause === undefined ? undefined : { cause });
}

export function closedError(adapter: string): KafscaleError {
  return new KafscaleError('KSC_OBJECT_UNAVAILABLE', `${adapter} object store is closed`);
}

/** Rejects with the signal's reason if it is aborted (the standard AbortSignal contract). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}
