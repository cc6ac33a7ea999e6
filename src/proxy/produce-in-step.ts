/**
 * Produce answers through the proxy, kept in step with the client's view of each partition's sequence.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ProduceOrder } from '../protocol/produce-order.ts';
import { PRODUCE_SHAPE, topicKeyOf } from './partition-split.ts';

type Struct = Record<string, unknown>;

/** Produce answers meaning "not written, send it again" (as the broker's produce handler counts them). */
const REFUSED: ReadonlySet<number> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REQUEST_TIMED_OUT]);

/** Answers keepProduceInStep may have to note or rewrite: such a Produce answer is not passed through as it came. */
export const IN_STEP_CODES: ReadonlySet<number> = new Set([...REFUSED, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]);

/** What the client sees for a sequence gap right after a refusal (see keepProduceInStep). */
const GAP_AFTER_REFUSAL = 'not written: a sequence gap after a batch refused on this connection for this partition; resend in order';

/**
 * The proxy's part of produce-order.ts: it sends a client's batches for one partition over whichever
 * broker connection owns it now, and retries refused ones, so a later batch can reach the owner before a
 * refused earlier one. For REFUSAL_MEMORY_MS after the client was told a partition's batch was not
 * written, a sequence gap on that partition (OUT_OF_ORDER_SEQUENCE_NUMBER: nothing written either) is
 * answered as a refusal, and the client resends in order instead of failing (librdkafka 2.0.2) or
 * bumping its epoch.
 */
export function keepProduceInStep(response: Struct, order: ProduceOrder): void {
  const names = PRODUCE_SHAPE.response;
  for (const topic of (response[names.topics] as Struct[] | undefined) ?? []) {
    const topicKey = topicKeyOf(names, topic);
    for (const partition of (topic[names.partitions] as Struct[] | undefined) ?? []) {
      const index = partition[names.index] as number;
      const code = partition['errorCode'] as number;
      if (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && order.refusedRecently(topicKey, index)) {
        partition['errorCode'] = ErrorCode.NOT_LEADER_OR_FOLLOWER;
        partition['errorMessage'] = GAP_AFTER_REFUSAL;
      } else if (REFUSED.has(code)) {
        order.noteRefusal(topicKey, index);
      }
    }
  }
}
