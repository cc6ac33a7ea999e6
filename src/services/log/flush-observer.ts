/**
 * Told about every finished flush (the app turns it into kafscale_flush_* metrics): once per flush,
 * never per batch, so the write path pays nothing per record.
 */
export interface FlushObserver {
  /** outcome 'error': the WAL object PUT failed (every append of the flush failed with it). */
  flushed(outcome: 'ok' | 'error', durationMs: number, objectBytes: number): void;
}
