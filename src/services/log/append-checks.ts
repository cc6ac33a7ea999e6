/**
 * The checks an append's batches pass before any offset is assigned: batch validity (magic, length,
 * CRC32C, record count), the topic's max.message.bytes, and the broker's timestamps (record-timestamps.ts:
 * maxTimestamp recomputed, LogAppendTime stamped). See docs/design/storage.md, "Write path".
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { stampBatchTimestamps, validateBatch, type TimestampRules } from '../../protocol/records/index.ts';
import { timestampRules, topicConfigNumber } from '../cluster/topic-configs.ts';
import { appendFailure, type AppendResult } from './pending-append.ts';

/** The numbers an append reads from its topic's configs, parsed once per configs object. */
interface AppendLimits {
  readonly maxMessageBytes: number;
  readonly logAppendTime: boolean;
  readonly beforeMaxMs: number;
  readonly afterMaxMs: number;
}

/**
 * Keyed by the topic's configs object: a config change replaces the object (topic-configs are frozen
 * values read from the metadata store), so an entry never goes stale, and a dropped topic's goes with it.
 */
const limitsByConfigs = new WeakMap<Readonly<Record<string, string>>, AppendLimits>();

function appendLimits(topicConfigs: Readonly<Record<string, string>>): AppendLimits {
  let limits = limitsByConfigs.get(topicConfigs);
  if (limits === undefined) {
    const rules = timestampRules(topicConfigs, 0);
    limits = {
      maxMessageBytes: topicConfigNumber(topicConfigs, 'max.message.bytes'),
      logAppendTime: rules.logAppendTimeMs >= 0,
      beforeMaxMs: rules.beforeMaxMs,
      afterMaxMs: rules.afterMaxMs,
    };
    limitsByConfigs.set(topicConfigs, limits);
  }
  return limits;
}

export interface CheckedAppend {
  readonly bytes: number;
  /** The LogAppendTime stamped on the batches, or -1 (CreateTime topics). */
  readonly appendTimeMs: number;
}

/** Validates and stamps `batches` in place; the failure to answer when one of them is refused. */
export function checkAppendBatches(batches: readonly Buffer[], topicConfigs: Readonly<Record<string, string>>, nowMs: number, logStartOffset: number): CheckedAppend | AppendResult {
  const limits = appendLimits(topicConfigs);
  const maxMessageBytes = limits.maxMessageBytes;
  const timestamps: TimestampRules = { logAppendTimeMs: limits.logAppendTime ? nowMs : -1, nowMs, beforeMaxMs: limits.beforeMaxMs, afterMaxMs: limits.afterMaxMs };
  let bytes = 0;
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i] as Buffer;
    const problem = validateBatch(batch);
    if (problem !== null) {
      const code = ErrorCode[problem.kafkaError];
      const recordErrors = problem.kafkaError === 'INVALID_RECORD' ? [{ batchIndex: i, message: problem.message }] : [];
      return appendFailure(code, problem.message, logStartOffset, recordErrors);
    }
    if (batch.length > maxMessageBytes) {
      return appendFailure(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${batch.length} bytes is larger than max.message.bytes (${maxMessageBytes}) of the topic`,
        logStartOffset,
      );
    }
    // After validation, before the producer check: maxTimestamp is the records' own from here on.
    const stamped = stampBatchTimestamps(batch, timestamps);
    if (stamped !== null) {
      const recordErrors = stamped.kafkaError === 'CORRUPT_MESSAGE' ? [] : [{ batchIndex: stamped.recordIndex ?? i, message: stamped.message }];
      return appendFailure(ErrorCode[stamped.kafkaError], stamped.message, logStartOffset, recordErrors);
    }
    bytes += batch.length;
  }
  if (batches.length === 0) return appendFailure(ErrorCode.CORRUPT_MESSAGE, 'produce request carried no record batch', logStartOffset);
  return { bytes, appendTimeMs: timestamps.logAppendTimeMs };
}
