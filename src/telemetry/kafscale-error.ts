/**
 * The one exception hierarchy of kafscale. Exceptions are for bugs and infrastructure faults;
 * expected outcomes (a Kafka error code for a partition or group) are returned as values.
 * `broker/dispatch.ts` is the single boundary that turns these into Kafka error codes.
 */
export type KafscaleErrorCode =
  | 'KSC_CONFIG_INVALID'
  | 'KSC_PROTOCOL_MALFORMED'
  | 'KSC_PROTOCOL_UNSUPPORTED_VERSION'
  | 'KSC_FRAME_TOO_LARGE'
  | 'KSC_META_UNAVAILABLE'
  | 'KSC_META_TIMEOUT'
  | 'KSC_META_TXN_TOO_LARGE'
  | 'KSC_META_COMPACTED'
  | 'KSC_META_LEASE_LOST'
  | 'KSC_META_CLOSED'
  /** The metadata store refused our credentials or their permissions (wrong password, no role). */
  | 'KSC_META_AUTH_FAILED'
  /** The TLS handshake with the metadata store failed (client certificate missing or refused, server certificate not trusted). */
  | 'KSC_META_TLS_FAILED'
  | 'KSC_OBJECT_NOT_FOUND'
  | 'KSC_OBJECT_THROTTLED'
  | 'KSC_OBJECT_UNAVAILABLE'
  | 'KSC_OBJECT_CORRUPT'
  | 'KSC_OBJECT_INVALID_KEY'
  | 'KSC_STORAGE_FENCED'
  /** A listener (Kafka or ops) could not bind its address: in use, not local, no permission. */
  | 'KSC_LISTEN_FAILED'
  /** The broker id allocated to this broker was taken by another broker while this one had lost its session. */
  | 'KSC_BROKER_ID_TAKEN'
  /** The proxy lost (or could not open) its connection to a broker; `retriable`, see src/proxy. */
  | 'KSC_PROXY_UPSTREAM_FAILED'
  /** A broker refused a request the proxy forwarded in an Envelope (the proxy's principal lacks CLUSTER_ACTION, or the inner request). */
  | 'KSC_PROXY_ENVELOPE_REFUSED'
  /** The proxy knows no broker that answers (bootstrap list and metadata exhausted). */
  | 'KSC_PROXY_NO_BROKER'
  /** A console API request refused (docs/console.md); the HTTP status and message say why. */
  | 'KSC_CONSOLE_BAD_REQUEST'
  | 'KSC_CONSOLE_UNAUTHENTICATED'
  | 'KSC_CONSOLE_FORBIDDEN'
  | 'KSC_CONSOLE_NOT_FOUND'
  | 'KSC_CONSOLE_CONFLICT'
  | 'KSC_CONSOLE_TOO_LARGE'
  | 'KSC_CONSOLE_UNAVAILABLE'
  | 'KSC_INTERNAL';

export class KafscaleError extends Error {
  readonly code: KafscaleErrorCode;
  /** True when retrying the same operation later may succeed (store down, throttled, timed out). */
  readonly retriable: boolean;

  constructor(code: KafscaleErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafscaleError';
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}

export function isKafscaleError(value: unknown, code?: KafscaleErrorCode): value is KafscaleError {
  return value instanceof KafscaleError && (code === undefined || value.code === code);
}
