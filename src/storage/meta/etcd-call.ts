/**
 * Every etcd call goes through here: a gRPC deadline plus a local timer as a backstop (the etcd3
 * client can wait on a connection that never comes), and one mapping from etcd3/gRPC errors to
 * KafscaleError codes so callers see KSC_META_TIMEOUT / KSC_META_UNAVAILABLE (retriable), never a hang.
 */
import { EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCResourceExhastedError, EtcdPermissionDeniedError, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, GRPCInvalidArgumentError } from 'etcd3';
import { isKafscaleError, KafscaleError } from '../../errors/kafscale-error.ts';

export function toKafscaleError(error: unknown, what: string, timeoutMs: number): KafscaleError {
  if (error instanceof KafscaleError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof EtcdLeaseInvalidError || /lease not found/.test(message)) {
    return new KafscaleError('KSC_META_LEASE_LOST', `etcd ${what}: the lease does not exist or has expired; grant a new lease`, { cause: error });
  }
  if (error instanceof GRPCDeadlineExceededError || /deadline exceeded/i.test(message)) {
    return new KafscaleError('KSC_META_TIMEOUT', `etcd ${what} did not complete within ${timeoutMs} ms; check etcd health and KAFSCALE_ETCD_ENDPOINTS`, { cause: error, retriable: true });
  }
  if (error instanceof GRPCResourceExhastedError || /request is too large|too many operations/.test(message)) {
    return new KafscaleError('KSC_META_TXN_TOO_LARGE', `etcd refused ${what} as too large: ${message}; split the transaction`, { cause: error });
  }
  if (error instanceof EtcdPermissionDeniedError || error instanceof EtcdAuthenticationFailedError || error instanceof EtcdInvalidAuthTokenError) {
    return new KafscaleError('KSC_META_UNAVAILABLE', `etcd ${what} was denied: ${message}; check the etcd username, password and role permissions`, { cause: error });
  }
  if (error instanceof GRPCInvalidArgumentError) {
    return new KafscaleError('KSC_INTERNAL', `etcd rejected ${what} as invalid: ${message}`, { cause: error });
  }
  return new KafscaleError('KSC_META_UNAVAILABLE', `etcd ${what} failed: ${message}; check that etcd is reachable at KAFSCALE_ETCD_ENDPOINTS`, { cause: error, retriable: true });
}

/**
 * Runs `call` with a deadline. When the local timer fires first the call's outcome is unknown
 * (a write may still apply): callers rely on compare-guarded transactions to retry safely.
 */
export async function callWithTimeout<T>(what: string, timeoutMs: number, call: (deadline: Date) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KafscaleError('KSC_META_TIMEOUT', `etcd ${what} did not complete within ${timeoutMs} ms; check etcd health and KAFSCALE_ETCD_ENDPOINTS`, { retriable: true })), timeoutMs);
  });
  try {
    return await Promise.race([call(new Date(Date.now() + timeoutMs)), timeout]);
  } catch (error) {
    throw toKafscaleError(error, what, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** An etcd error that means the revision asked for was compacted away. */
export function isCompaction(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // etcd cancels a watch on a compacted revision with compact_revision set and an empty reason.
  return /compact/i.test(message) || /^Watcher canceled: ?$/.test(message.trim());
}

/** grpc-js refusing a response over its receive limit ("Received message larger than max"). */
export function isResponseTooLarge(error: unknown): boolean {
  const text = `${String(error)} ${String((error as Error).cause ?? '')}`;
  return /larger than max|RESOURCE_EXHAUSTED/i.test(text) || isKafscaleError(error, 'KSC_META_TXN_TOO_LARGE');
}
