/**
 * Time and size retention (`retention.ms`, `retention.bytes`) on the partitions this broker owns. Runs on
 * a coarse timer (retention is measured in minutes to days; a timer per partition would be waste) and
 * trims whole log entries from the front through LogService.trim, which advances `start` first and is
 * guarded by ownership. Objects are left to the ObjectCollector (they are shared by partitions).
 *
 * Kafka's rules, applied to log entries instead of segments: an entry goes when its largest timestamp is
 * older than retention.ms; and while the partition's bytes minus the oldest entry's bytes are still at
 * least retention.bytes, the oldest entry goes. -1 disables either. Unlike Kafka, the newest entry can go
 * too (there is no active segment to protect); the log end offset stays where it was.
 */
import type { Logger } from 'pino';
import { topicConfigNumber } from '../cluster/topic-configs.ts';
import type { LogService } from './log-service.ts';
import type { PartitionState } from './partition-state.ts';

export interface RetentionTaskOptions {
  readonly logs: Pick<LogService, 'ownedLogs' | 'trim'>;
  /** The topic's config overrides, or undefined for a topic that no longer exists (skipped). */
  readonly topicConfigs: (topicId: string) => Readonly<Record<string, string>> | undefined;
  readonly log: Logger;
  /** How often owned partitions are checked. Kafka's log.retention.check.interval.ms default is 5 min. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export const RETENTION_CHECK_DEFAULT_MS = 60_000;

/** The log start offset retention asks for (≥ the current one), from the entries alone. */
export function retentionStart(state: PartitionState, retentionMs: number, retentionBytes: number, nowMs: number): number {
  let start = state.logStartOffset;
  const live = state.entries.filter((e) => e.lastOffset >= start);
  if (retentionMs >= 0) {
    const cutoff = nowMs - retentionMs;
    // maxTimestamp is computed by the broker from the records (stampBatchTimestamps), and a record more
    // than message.timestamp.after.max.ms ahead is refused, so one client's clock cannot hold the log.
    // An entry without any record timestamp (-1: records sent with NO_TIMESTAMP) has no age of its own;
    // it is at least as old as the next entry that has one, and goes with it (Kafka falls back to the
    // segment file's mtime for the same case).
    for (const entry of live) {
      if (entry.maxTimestamp < 0) continue;
      if (entry.maxTimestamp >= cutoff) break;
      start = Math.max(start, entry.lastOffset + 1);
    }
  }
  if (retentionBytes >= 0) {
    let total = 0;
    for (const entry of live) total += entry.byteEnd - entry.byteStart;
    for (const entry of live) {
      const size = entry.byteEnd - entry.byteStart;
      if (total - size < retentionBytes) break;
      total -= size;
      start = Math.max(start, entry.lastOffset + 1);
    }
  }
  return start;
}

export class RetentionTask {
  readonly #options: RetentionTaskOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #closed = false;

  constructor(options: RetentionTaskOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#running === null) this.#running = this.runOnce().catch(() => undefined).finally(() => {
        this.#running = null;
      });
    }, this.#options.intervalMs ?? RETENTION_CHECK_DEFAULT_MS);
    this.#timer.unref();
  }

  /** One pass over the owned partitions; returns how many were trimmed. Failures are logged, not thrown. */
  async runOnce(): Promise<number> {
    let trimmed = 0;
    const nowMs = this.#now();
    for (const log of this.#options.logs.ownedLogs()) {
      if (this.#closed) break;
      if (log.status !== 'active') continue;
      const configs = this.#options.topicConfigs(log.topicId);
      if (configs === undefined) continue;
      const state = log.state;
      const start = retentionStart(state, topicConfigNumber(configs, 'retention.ms'), topicConfigNumber(configs, 'retention.bytes'), nowMs);
      const first = state.entries[0];
      if (start <= state.logStartOffset && (first === undefined || first.lastOffset >= state.logStartOffset)) continue;
      try {
        const result = await this.#options.logs.trim(log, start);
        if (result.errorCode === 0) {
          trimmed++;
          this.#options.log.info({ topicId: log.topicId, partition: log.partition, logStartOffset: result.lowWatermark }, 'retention advanced the log start offset');
        }
      } catch (error) {
        this.#options.log.warn({ err: error, topicId: log.topicId, partition: log.partition }, 'retention could not trim the partition; retrying on the next check');
      }
    }
    return trimmed;
  }

  /** Stops the timer and waits for a pass in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
