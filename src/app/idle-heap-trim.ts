/**
 * Gives memory back when the broker goes quiet (docs/design/configuration.md, "Idle heap trim").
 *
 * V8 shrinks its heap — the young generation a burst of work grew, old objects still holding request
 * buffers — only from its memory reducer, a few garbage collections run once the mutator's allocation
 * rate has dropped. The reducer starts only on two cues: a mark-compact GC after the committed heap grew,
 * or a disposed context. A broker that owns 1,000 partitions after a short acquisition burst gives neither:
 * its RSS stayed at 142–158 MiB for as long as it stayed idle, where the reducer takes it to 112–126 MiB.
 * Node has no API for V8's memory-pressure notification, so this gives the second cue: when the event loop
 * has been idle for a whole check interval, it creates and drops an empty vm context (~1 ms, at most once
 * per `minGapMs`). The reducer itself still decides whether and when to collect (it waits until
 * allocation is low); if a future V8 ignores the cue, nothing happens.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';

export interface IdleHeapTrimOptions {
  /** How often the event loop's utilization is looked at. */
  readonly intervalMs?: number;
  /** Idle: the loop was busy for at most this share of the last interval. */
  readonly maxBusyShare?: number;
  /** At most one cue per this long. */
  readonly minGapMs?: number;
  /** The loop's utilization since `previous` (performance.eventLoopUtilization). */
  readonly utilization?: (previous?: EventLoopUtilization) => EventLoopUtilization;
  /** Gives V8 the cue (creates and drops a context). */
  readonly nudge?: () => void;
  readonly now?: () => number;
  readonly log?: Logger;
}

const DEFAULT_INTERVAL_MS = 15_000;
const DEFAULT_MAX_BUSY_SHARE = 0.02;
const DEFAULT_MIN_GAP_MS = 60_000;

export class IdleHeapTrim {
  readonly #intervalMs: number;
  readonly #maxBusyShare: number;
  readonly #minGapMs: number;
  readonly #utilization: (previous?: EventLoopUtilization) => EventLoopUtilization;
  readonly #nudge: () => void;
  readonly #now: () => number;
  readonly #log: Logger | null;
  #last: EventLoopUtilization;
  #lastNudgeMs = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  #nudges = 0;

  constructor(options: IdleHeapTrimOptions = {}) {
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#maxBusyShare = options.maxBusyShare ?? DEFAULT_MAX_BUSY_SHARE;
    this.#minGapMs = options.minGapMs ?? DEFAULT_MIN_GAP_MS;
    this.#utilization = options.utilization ?? ((previous) => performance.eventLoopUtilization(previous));
    this.#nudge = options.nudge ?? disposeContext;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? null;
    this.#last = this.#utilization();
  }

  /** How many cues were given. */
  get nudges(): number {
    return this.#nudges;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#last = this.#utilization();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    // Never the reason the process stays up.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One look at the last interval; gives the cue when it was idle and the last cue is old. Returns whether it did. */
  check(): boolean {
    const current = this.#utilization();
    const share = this.#utilization(this.#last).utilization;
    this.#last = current;
    const now = this.#now();
    if (share > this.#maxBusyShare || now - this.#lastNudgeMs < this.#minGapMs) return false;
    this.#lastNudgeMs = now;
    this.#nudges++;
    this.#nudge();
    this.#log?.debug({ busyShare: share }, 'event loop idle: V8 may reduce its heap');
    return true;
  }
}

/** A context created and dropped: V8 counts a disposed context as possible garbage and starts its memory reducer. */
function disposeContext(): void {
  runInNewContext('undefined');
}
