/**
 * Classifies AWS SDK / network failures into the ObjectStore's error codes and decides what is worth
 * retrying. Kept apart from the adapter so the policy is readable in one place (docs/design/object-store.md).
 */
import { KafscaleError } from '../../telemetry/kafscale-error.ts';

export type S3FailureKind = 'not-found' | 'range-not-satisfiable' | 'throttled' | 'transient' | 'permanent';

const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

const TRANSIENT_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'PriorRequestNotComplete',
  'OperationAborted',
]);

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
  cause?: unknown;
}

function fields(err: unknown): SdkLikeError {
  return typeof err === 'object' && err !== null ? (err as SdkLikeError) : {};
}

/** The S3 error code ('NoSuchKey', 'SlowDown', ...) or errno, if any. */
export function s3ErrorCode(err: unknown): string | undefined {
  const e = fields(err);
  for (const candidate of [e.Code, e.code, e.name]) {
    if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
  }
  return undefined;
}

function httpStatus(err: unknown): number | undefined {
  const status = fields(err).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function isNetworkError(err: unknown): boolean {
  // Node wraps socket errors (AggregateError for happy-eyeballs, causes for undici): walk a few levels.
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = fields(current).code;
    if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return true;
    if (current instanceof AggregateError && current.errors.some((inner) => isNetworkError(inner))) return true;
    current = fields(current).cause;
  }
  return false;
}

export function classifyS3Failure(err: unknown): S3FailureKind {
  const code = s3ErrorCode(err);
  const status = httpStatus(err);
  if (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code !== 'NoSuchBucket')) return 'not-found';
  if (code === 'InvalidRange' || status === 416) return 'range-not-satisfiable';
  if ((code !== undefined && THROTTLE_CODES.has(code)) || status === 429) return 'throttled';
  if ((code !== undefined && TRANSIENT_CODES.has(code)) || (status !== undefined && status >= 500)) return 'transient';
  if (isNetworkError(err)) return 'transient';
  if (status === undefined && fields(err).$retryable !== undefined) return 'transient';
  return 'permanent';
}

/** The error thrown once retries are exhausted (or for a failure not worth retrying). */
export function toKafscaleError(kind: S3FailureKind, operation: string, target: string, attempts: number, err: unknown): KafscaleError {
  const code = s3ErrorCode(err) ?? 'unknown';
  const detail = `${operation} ${target} failed after ${attempts} attempt${attempts === 1 ? '' : 's'} (${code}: ${err instanceof Error ? err.message : String(err)})`;
  if (kind === 'throttled') {
    return new KafscaleError('KSC_OBJECT_THROTTLED', `S3 throttled ${detail}; lower the request rate or raise the bucket's limits`, { cause: err, retriable: true });
  }
  if (kind === 'transient') {
    return new KafscaleError('KSC_OBJECT_UNAVAILABLE', `S3 is unavailable: ${detail}; check KAFSCALE_S3_ENDPOINT and the network`, { cause: err, retriable: true });
  }
  return new KafscaleError(
    'KSC_OBJECT_UNAVAILABLE',
    `S3 rejected ${detail}; check the bucket (KAFSCALE_S3_BUCKET), region and credentials`,
    { cause: err, retriable: false },
  );
}
