/**
 * The last hour of this broker's throughput for the console's charts: every `stepMs` (10 s) the
 * broker's own per-topic counters (kafscale_topic_{bytes,records}_{in,out}_total) are read and the rates
 * since the previous sample appended to a ring of `capacity` (360) points — bounded, oldest dropped.
 * Per-topic input rates of the last step are kept for the topic list (one number per topic).
 */
import type { Counter } from 'prom-client';
import type { KafscaleMetrics } from '../telemetry/metrics.ts';

export interface RatePoint {
  readonly t: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
  readonly recordsInPerSec: number;
  readonly recordsOutPerSec: number;
}

interface Totals {
  readonly t: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly topicBytesIn: ReadonlyMap<string, number>;
}

export interface MetricsHistoryOptions {
  readonly stepMs?: number;
  readonly capacity?: number;
  readonly now?: () => number;
}

export const HISTORY_STEP_MS = 10_000;
export const HISTORY_CAPACITY = 360;

export class MetricsHistory {
  readonly stepMs: number;
  readonly #metrics: KafscaleMetrics;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #points: RatePoint[] = [];
  #last: Totals | null = null;
  #topicRates = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(metrics: KafscaleMetrics, options: MetricsHistoryOptions = {}) {
    this.#metrics = metrics;
    this.stepMs = options.stepMs ?? HISTORY_STEP_MS;
    this.#capacity = options.capacity ?? HISTORY_CAPACITY;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timer !== null) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.stepMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Oldest first. */
  points(): RatePoint[] {
    return [...this.#points];
  }

  /** The rates of the last step (zeros before the second sample). */
  latest(): RatePoint {
    return this.#points.at(-1) ?? { t: this.#now(), bytesInPerSec: 0, bytesOutPerSec: 0, recordsInPerSec: 0, recordsOutPerSec: 0 };
  }

  topicBytesInPerSec(topic: string): number {
    return this.#topicRates.get(topic) ?? 0;
  }

  /** Reads the counters once; appends a point when there is a previous sample. Exposed for tests. */
  async sample(): Promise<void> {
    const m = this.#metrics;
    const [bytesIn, bytesOut, recordsIn, recordsOut] = await Promise.all([byTopic(m.topicBytesInTotal), byTopic(m.topicBytesOutTotal), byTopic(m.topicRecordsInTotal), byTopic(m.topicRecordsOutTotal)]);
    const totals: Totals = { t: this.#now(), bytesIn: sum(bytesIn), bytesOut: sum(bytesOut), recordsIn: sum(recordsIn), recordsOut: sum(recordsOut), topicBytesIn: bytesIn };
    const last = this.#last;
    this.#last = totals;
    if (last === null) return;
    const seconds = Math.max(0.001, (totals.t - last.t) / 1000);
    // A counter can fall (a deleted topic's series is removed): a negative step counts as zero.
    const rate = (now: number, before: number): number => Math.max(0, now - before) / seconds;
    this.#points.push({
      t: totals.t,
      bytesInPerSec: rate(totals.bytesIn, last.bytesIn),
      bytesOutPerSec: rate(totals.bytesOut, last.bytesOut),
      recordsInPerSec: rate(totals.recordsIn, last.recordsIn),
      recordsOutPerSec: rate(totals.recordsOut, last.recordsOut),
    });
    if (this.#points.length > this.#capacity) this.#points.splice(0, this.#points.length - this.#capacity);
    const topicRates = new Map<string, number>();
    for (const [topic, value] of totals.topicBytesIn) topicRates.set(topic, rate(value, last.topicBytesIn.get(topic) ?? value));
    this.#topicRates = topicRates;
  }
}

async function byTopic(counter: Counter<'topic'>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await counter.get()).values) {
    const topic = String(v.labels.topic ?? '');
    out.set(topic, (out.get(topic) ?? 0) + v.value);
  }
  return out;
}

function sum(values: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const v of values.values()) total += v;
  return total;
}
