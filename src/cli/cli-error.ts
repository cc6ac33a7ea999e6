/**
 * What the CLI reports when a command cannot do its job: one readable line, a hint on what to do, and
 * the exit code scripts branch on (0 ok, 1 the operation failed, 2 usage error, 3 cannot connect).
 */
import { KafscaleError, type KafscaleErrorCode } from '../errors/kafscale-error.ts';
import { errorInfo } from '../protocol/error-codes.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILED | typeof EXIT_USAGE | typeof EXIT_UNREACHABLE;

/** The catalogue code of each exit code. */
const CODE_OF_EXIT: Readonly<Record<ExitCode, KafscaleErrorCode>> = {
  [EXIT_OK]: 'KSC_CLI_FAILED',
  [EXIT_FAILED]: 'KSC_CLI_FAILED',
  [EXIT_USAGE]: 'KSC_CLI_USAGE',
  [EXIT_UNREACHABLE]: 'KSC_CLI_UNREACHABLE',
};

export class CliError extends KafscaleError {
  readonly exitCode: ExitCode;
  readonly hint: string | null;
  /** The Kafka error name when the failure is a broker's error code (shown in --json output). */
  readonly kafkaError: string | null;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; kafkaError?: string; cause?: unknown } = {}) {
    const exitCode = options.exitCode ?? EXIT_FAILED;
    super(CODE_OF_EXIT[exitCode], message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = options.hint ?? null;
    this.kafkaError = options.kafkaError ?? null;
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, { exitCode: EXIT_USAGE, ...(hint === undefined ? {} : { hint }) });
}

/** Hints for the Kafka errors a CLI user meets most; the rest fall back to Kafka's own message. */
const KAFKA_HINTS: Readonly<Record<string, string>> = {
  UNKNOWN_TOPIC_OR_PARTITION: "check the name with 'kafscale topics list'",
  UNKNOWN_TOPIC_ID: "check the name with 'kafscale topics list'",
  TOPIC_ALREADY_EXISTS: "pick another name, or inspect it with 'kafscale topics describe'",
  INVALID_PARTITIONS: 'the partition count must be at least 1 (and can only grow)',
  INVALID_REPLICATION_FACTOR: 'kafscale stores data in object storage; use replication factor 1 or leave it out',
  INVALID_CONFIG: "see 'kafscale topics describe <topic>' for the topic's settings",
  INVALID_TOPIC_EXCEPTION: 'topic names use letters, digits, ".", "_" and "-", at most 249 characters',
  GROUP_ID_NOT_FOUND: "check the name with 'kafscale groups list'",
  NON_EMPTY_GROUP: 'stop the consumers of this group first',
  COORDINATOR_NOT_AVAILABLE: 'the group coordinator is starting or moving; try again in a few seconds',
  NOT_COORDINATOR: 'the group coordinator moved; try again',
  OFFSET_OUT_OF_RANGE: "see the partition's offsets with 'kafscale topics describe <topic>'",
  UNSUPPORTED_VERSION: 'the broker does not speak a version this CLI knows; upgrade one of them',
  REQUEST_TIMED_OUT: 'the broker is slow or overloaded; try again or raise --timeout',
  SECURITY_DISABLED: 'the brokers run without an authorizer; start them with KAFSCALE_AUTHORIZER=acl to use ACLs',
  CLUSTER_AUTHORIZATION_FAILED: 'this principal lacks the cluster right for it (ALTER to change ACLs, DESCRIBE to list them); ask a super user',
  TOPIC_AUTHORIZATION_FAILED: "this principal has no ACL allowing it on the topic; see 'kafscale acls list --topic NAME'",
  GROUP_AUTHORIZATION_FAILED: "this principal has no ACL allowing it on the group; see 'kafscale acls list --group ID'",
};

/** A broker answered with a Kafka error code for `subject` (a topic, partition or group). */
export function kafkaError(subject: string, errorCode: number, errorMessage?: string | null): CliError {
  const info = errorInfo(errorCode);
  const detail = errorMessage !== undefined && errorMessage !== null && errorMessage !== '' ? errorMessage : info.message;
  const hint = KAFKA_HINTS[info.name] ?? (info.retriable ? 'this error is temporary; try again' : undefined);
  return new CliError(`${subject}: ${info.name}: ${detail}`, { kafkaError: info.name, ...(hint === undefined ? {} : { hint }) });
}
