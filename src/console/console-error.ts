/**
 * The console API's refusals: a KafscaleError with the HTTP status to answer and the code the JSON body
 * names — a Kafka error name (TOPIC_AUTHORIZATION_FAILED) where Kafka's API would refuse the same thing,
 * else the KSC_CONSOLE_* code (docs/console.md, "Conventions").
 */
import { ErrorCode, errorInfo } from '../protocol/error-codes.ts';
import { KafscaleError, type KafscaleErrorCode } from '../telemetry/kafscale-error.ts';

const STATUS_CODES: Readonly<Record<number, KafscaleErrorCode>> = {
  400: 'KSC_CONSOLE_BAD_REQUEST',
  401: 'KSC_CONSOLE_UNAUTHENTICATED',
  403: 'KSC_CONSOLE_FORBIDDEN',
  404: 'KSC_CONSOLE_NOT_FOUND',
  409: 'KSC_CONSOLE_CONFLICT',
  413: 'KSC_CONSOLE_TOO_LARGE',
  503: 'KSC_CONSOLE_UNAVAILABLE',
};

export class ConsoleError extends KafscaleError {
  readonly status: number;
  /** What the body's `error.code` says: the Kafka error name when there is one, else `code`. */
  readonly publicCode: string;

  constructor(status: number, message: string, kafkaErrorName?: string) {
    const code = STATUS_CODES[status] ?? 'KSC_CONSOLE_BAD_REQUEST';
    super(code, message);
    this.name = 'ConsoleError';
    this.status = status;
    this.publicCode = kafkaErrorName ?? code;
  }
}

const NOT_FOUND = new Set<number>([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.GROUP_ID_NOT_FOUND]);
const CONFLICT = new Set<number>([ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.NON_EMPTY_GROUP, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_COORDINATOR, ErrorCode.REBALANCE_IN_PROGRESS]);
const UNAVAILABLE = new Set<number>([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REQUEST_TIMED_OUT]);
const TOO_LARGE = new Set<number>([ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE]);

/** The refusal for a Kafka error code a service returned, with its status and name. */
export function kafkaRefusal(errorCode: number, message: string | null): ConsoleError {
  const info = errorInfo(errorCode);
  const text = message ?? info.message;
  if (NOT_FOUND.has(errorCode)) return new ConsoleError(404, text, info.name);
  if (info.name.endsWith('_AUTHORIZATION_FAILED')) return new ConsoleError(403, text, info.name);
  if (CONFLICT.has(errorCode)) return new ConsoleError(409, text, info.name);
  if (UNAVAILABLE.has(errorCode)) return new ConsoleError(503, text, info.name);
  if (TOO_LARGE.has(errorCode)) return new ConsoleError(413, text, info.name);
  return new ConsoleError(400, text, info.name);
}
