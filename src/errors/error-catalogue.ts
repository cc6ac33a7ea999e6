/**
 * Every `KSC_*` code kafscale raises, in one table. Per code:
 *   kafkaError  the Kafka error a client gets when an exception with this code escapes a request handler
 *               (broker/dispatch.ts, through `kafkaErrorOf`);
 *   retriable   whether the client is told to retry later: its Kafka error message then reads
 *               "<hint>: <what happened>; retry later";
 *   hint        what failed, in a few words (the start of that message, and the first line of the code's
 *               entry in docs/errors.md, which describes every code and what to do about it).
 *
 * A single occurrence can still say whether retrying *that* operation may succeed (`KafscaleError.retriable`);
 * this table says how the code is reported. The Kafka error names are checked against
 * protocol/error-codes.ts by src/errors/error-catalogue.test.ts (this folder imports nothing from src/).
 */
export interface ErrorCatalogueEntry {
  readonly kafkaError: string;
  readonly retriable: boolean;
  readonly hint: string;
}

export const ERROR_CATALOGUE = {
  KSC_CONFIG_INVALID: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'invalid configuration' },
  KSC_PROTOCOL_MALFORMED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'malformed Kafka protocol bytes' },
  KSC_PROTOCOL_UNSUPPORTED_VERSION: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'unsupported API or API version' },
  KSC_FRAME_TOO_LARGE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'request frame too large' },
  KSC_META_UNAVAILABLE: { kafkaError: 'REQUEST_TIMED_OUT', retriable: true, hint: 'metadata store unavailable' },
  KSC_META_TIMEOUT: { kafkaError: 'REQUEST_TIMED_OUT', retriable: true, hint: 'metadata store unavailable' },
  KSC_META_TXN_TOO_LARGE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'metadata transaction too large' },
  KSC_META_COMPACTED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'metadata history compacted' },
  KSC_META_LEASE_LOST: { kafkaError: 'NOT_LEADER_OR_FOLLOWER', retriable: false, hint: 'metadata session lost' },
  KSC_META_CORRUPT: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'metadata record unreadable' },
  KSC_META_CLOSED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'metadata store closed' },
  KSC_META_AUTH_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'metadata store refused the credentials' },
  KSC_META_TLS_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'TLS with the metadata store failed' },
  KSC_OBJECT_NOT_FOUND: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'object not found' },
  KSC_OBJECT_THROTTLED: { kafkaError: 'KAFKA_STORAGE_ERROR', retriable: true, hint: 'object store unavailable' },
  KSC_OBJECT_UNAVAILABLE: { kafkaError: 'KAFKA_STORAGE_ERROR', retriable: true, hint: 'object store unavailable' },
  KSC_OBJECT_CORRUPT: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'stored object corrupt' },
  KSC_OBJECT_INVALID_KEY: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'invalid object key' },
  KSC_STORAGE_FENCED: { kafkaError: 'NOT_LEADER_OR_FOLLOWER', retriable: false, hint: 'partition owned by another broker' },
  KSC_SASL_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'SASL authentication failed' },
  KSC_LISTEN_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'listener could not bind' },
  KSC_BROKER_ID_TAKEN: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'broker id taken by another broker' },
  KSC_PROXY_UPSTREAM_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: true, hint: 'proxy lost its broker connection' },
  KSC_PROXY_ENVELOPE_REFUSED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'broker refused the proxy\'s Envelope' },
  KSC_PROXY_NO_BROKER: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: true, hint: 'proxy knows no broker that answers' },
  KSC_CLI_FAILED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'CLI command failed' },
  KSC_CLI_USAGE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'CLI usage error' },
  KSC_CLI_UNREACHABLE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'CLI cannot reach a broker' },
  KSC_CONSOLE_BAD_REQUEST: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console request invalid' },
  KSC_CONSOLE_UNAUTHENTICATED: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console login required' },
  KSC_CONSOLE_FORBIDDEN: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console action not allowed' },
  KSC_CONSOLE_NOT_FOUND: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console resource not found' },
  KSC_CONSOLE_CONFLICT: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console action conflicts with the current state' },
  KSC_CONSOLE_TOO_LARGE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'console request too large' },
  KSC_CONSOLE_UNAVAILABLE: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: true, hint: 'console temporarily unavailable' },
  KSC_INTERNAL: { kafkaError: 'UNKNOWN_SERVER_ERROR', retriable: false, hint: 'internal error (a bug)' },
} as const satisfies Record<`KSC_${string}`, ErrorCatalogueEntry>;

export type KafscaleErrorCode = keyof typeof ERROR_CATALOGUE;

/** The Kafka error names the catalogue maps to (each one a key of protocol/error-codes.ts's ErrorCode). */
export type CatalogueKafkaError = (typeof ERROR_CATALOGUE)[KafscaleErrorCode]['kafkaError'];
