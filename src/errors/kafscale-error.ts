/**
 * The one exception type of kafscale. Exceptions are for bugs and infrastructure faults; expected
 * outcomes (a Kafka error code for a partition or group) are returned as values. Every code is in
 * ERROR_CATALOGUE (docs/errors.md describes each); `broker/dispatch.ts` is the single boundary that turns
 * these into Kafka error codes, through `kafkaErrorOf`. ProtocolError, ConfigError and CliError are
 * KafscaleErrors with the codes of their layer.
 */
import { ERROR_CATALOGUE, type CatalogueKafkaError, type KafscaleErrorCode } from './error-catalogue.ts';

export { ERROR_CATALOGUE, type CatalogueKafkaError, type ErrorCatalogueEntry, type KafscaleErrorCode } from './error-catalogue.ts';

export interface KafscaleErrorOptions {
  readonly cause?: unknown;
  /** True when retrying this same operation later may succeed (store down, throttled, timed out). */
  readonly retriable?: boolean;
}

export class KafscaleError extends Error {
  readonly code: KafscaleErrorCode;
  /** True when retrying the same operation later may succeed (store down, throttled, timed out). */
  readonly retriable: boolean;

  constructor(code: KafscaleErrorCode, message: string, options?: KafscaleErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafscaleError';
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}

export function isKafscaleError(value: unknown, code?: KafscaleErrorCode): value is KafscaleError {
  return value instanceof KafscaleError && (code === undefined || value.code === code);
}

/**
 * The Kafka error (by name) and message a client gets for an exception a request handler threw: the
 * catalogue's mapping for a KafscaleError, UNKNOWN_SERVER_ERROR for anything else (a bug).
 */
export function kafkaErrorOf(error: unknown): { kafkaError: CatalogueKafkaError; message: string } {
  if (!(error instanceof KafscaleError)) {
    return { kafkaError: 'UNKNOWN_SERVER_ERROR', message: error instanceof Error ? error.message : String(error) };
  }
  const entry = ERROR_CATALOGUE[error.code];
  return { kafkaError: entry.kafkaError, message: entry.retriable ? `${entry.hint}: ${error.message}; retry later` : error.message };
}
