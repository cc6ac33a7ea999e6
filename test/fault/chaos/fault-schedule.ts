/**
 * The chaos suite's seeded fault schedule, in two lanes that run side by side:
 *  - processes: kill -9 + restart of a broker, SIGSTOP of a broker past its session lease then SIGCONT
 *    (split brain), etcd stopped (SIGTERM) and restarted on the same data;
 *  - S3 (through the chaos proxy): a burst of PUTs answered 503 SlowDown, slow requests, connections
 *    reset mid-request or after S3 applied them.
 * Each lane draws from its own PRNG derived from the seed, so one seed gives one sequence of faults
 * (kinds, targets, durations, shares) whatever the timing of the machine. The first round of each
 * lane injects every kind of the lane once, in a seeded order, so even a short run covers them all.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Random } from '../../helpers/random-value.ts';
import type { TestCluster } from '../../helpers/cluster.ts';
import type { S3ChaosProxy } from '../../helpers/s3-chaos-proxy.ts';

export const FAULT_KINDS = ['kill9', 'sigstop', 'etcd-stop', 's3-503', 's3-delay', 's3-reset'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultEvent {
  readonly kind: FaultKind;
  /** Broker id for kill9/sigstop. */
  readonly target: number | null;
  readonly startMs: number;
  endMs: number;
  readonly detail: string;
  /** Set when the fault could not be injected or undone as planned (e.g. a broker did not restart). */
  problem: string | null;
}

export interface ScheduleOptions {
  readonly cluster: TestCluster;
  readonly proxy: S3ChaosProxy;
  readonly seed: number;
  /** No new fault starts after this time (ms since epoch); running ones finish. */
  readonly untilMs: number;
  /** Scale of pauses and durations; 1 = the full run's pacing, < 1 for short runs. */
  readonly pace?: number;
  /** Only these kinds (default: all), to isolate one fault's effect. */
  readonly kinds?: readonly FaultKind[];
  readonly log?: (line: string) => void;
}

const PROCESS_KINDS: readonly FaultKind[] = ['kill9', 'sigstop', 'etcd-stop'];
const S3_KINDS: readonly FaultKind[] = ['s3-503', 's3-delay', 's3-reset'];
const PROCESS_WEIGHTS: Readonly<Partial<Record<FaultKind, number>>> = { kill9: 3, sigstop: 2, 'etcd-stop': 1 };
const S3_WEIGHTS: Readonly<Partial<Record<FaultKind, number>>> = { 's3-503': 3, 's3-delay': 1, 's3-reset': 2 };

function shuffled<T>(items: readonly T[], rnd: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function weighted(weights: Readonly<Partial<Record<FaultKind, number>>>, rnd: Random): FaultKind {
  const entries = Object.entries(weights) as Array<[FaultKind, number]>;
  let pick = rnd.next() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [kind, weight] of entries) {
    pick -= weight;
    if (pick < 0) return kind;
  }
  return entries[0]?.[0] ?? 'kill9';
}

export class FaultSchedule {
  readonly events: FaultEvent[] = [];
  readonly #options: ScheduleOptions;
  readonly #pace: number;
  #lanes: Promise<void>[] = [];

  constructor(options: ScheduleOptions) {
    this.#options = options;
    this.#pace = options.pace ?? 1;
  }

  start(): void {
    // Two PRNG streams from one seed: the lanes interleave differently run to run, their choices do not.
    this.#lanes = [this.#processLane(new Random(this.#options.seed ^ 0x0a11ce)), this.#s3Lane(new Random(this.#options.seed ^ 0x5e3b0b))];
  }

  /** Resolves when both lanes have finished their last fault (every broker thawed and restarted, etcd up, S3 quiet). */
  async done(): Promise<void> {
    await Promise.all(this.#lanes);
  }

  /** The faults active (or ended at most `beforeMs` earlier) at `atMs`. */
  activeAround(atMs: number, beforeMs: number): FaultEvent[] {
    return this.events.filter((e) => e.startMs <= atMs && e.endMs >= atMs - beforeMs);
  }

  counts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const event of this.events) counts[event.kind]++;
    return counts;
  }

  #ms(min: number, max: number, rnd: Random): number {
    return Math.round(rnd.int(min, max) * this.#pace);
  }

  #begin(kind: FaultKind, target: number | null, detail: string): FaultEvent {
    const event: FaultEvent = { kind, target, startMs: Date.now(), endMs: Number.POSITIVE_INFINITY, detail, problem: null };
    this.events.push(event);
    this.#options.log?.(`fault: ${kind}${target === null ? '' : ` broker ${target}`} ${detail}`);
    return event;
  }

  #allowed(kinds: readonly FaultKind[], weights: Readonly<Partial<Record<FaultKind, number>>>): { kinds: FaultKind[]; weights: Partial<Record<FaultKind, number>> } {
    const only = this.#options.kinds ?? FAULT_KINDS;
    return {
      kinds: kinds.filter((k) => only.includes(k)),
      weights: Object.fromEntries(Object.entries(weights).filter(([k]) => only.includes(k as FaultKind))),
    };
  }

  async #processLane(rnd: Random): Promise<void> {
    const { cluster, untilMs } = this.#options;
    const allowed = this.#allowed(PROCESS_KINDS, PROCESS_WEIGHTS);
    if (allowed.kinds.length === 0) return;
    const first = shuffled(allowed.kinds, rnd);
    while (Date.now() < untilMs) {
      await sleep(this.#ms(2_000, 6_000, rnd));
      if (Date.now() >= untilMs) break;
      const kind = first.shift() ?? weighted(allowed.weights, rnd);
      if (kind === 'kill9') {
        const target = rnd.int(0, cluster.brokers.length - 1);
        const downMs = this.#ms(300, 3_000, rnd);
        const event = this.#begin(kind, target, `(down ${downMs} ms)`);
        const broker = cluster.brokers[target];
        try {
          await broker?.kill();
          await sleep(downMs);
          await broker?.restart();
        } catch (error) {
          event.problem = `restart failed: ${(error as Error).message.split('\n')[0]}`;
          this.#options.log?.(`fault: kill9 broker ${target}: ${event.problem}; retrying`);
          await broker?.restart().catch((again: unknown) => {
            event.problem += `; second restart failed too: ${(again as Error).message.split('\n')[0]}`;
          });
        }
        event.endMs = Date.now();
      } else if (kind === 'sigstop') {
        const target = rnd.int(0, cluster.brokers.length - 1);
        const frozenMs = cluster.sessionTtlMs + this.#ms(1_000, 5_000, rnd);
        const event = this.#begin(kind, target, `(frozen ${frozenMs} ms, session TTL ${cluster.sessionTtlMs} ms)`);
        cluster.freeze(target);
        await sleep(frozenMs);
        cluster.thaw(target);
        event.endMs = Date.now();
      } else {
        const downMs = this.#ms(2_000, 8_000, rnd);
        const event = this.#begin(kind, null, `(down ${downMs} ms)`);
        try {
          await cluster.etcd.stop();
          await sleep(downMs);
          await cluster.etcd.restart();
        } catch (error) {
          event.problem = `etcd restart failed: ${(error as Error).message.split('\n')[0]}`;
          await cluster.etcd.restart().catch(() => {});
        }
        event.endMs = Date.now();
      }
    }
  }

  async #s3Lane(rnd: Random): Promise<void> {
    const { proxy, untilMs } = this.#options;
    const allowed = this.#allowed(S3_KINDS, S3_WEIGHTS);
    if (allowed.kinds.length === 0) return;
    const first = shuffled(allowed.kinds, rnd);
    while (Date.now() < untilMs) {
      await sleep(this.#ms(1_000, 5_000, rnd));
      if (Date.now() >= untilMs) break;
      const kind = first.shift() ?? weighted(allowed.weights, rnd);
      const durationMs = this.#ms(3_000, 10_000, rnd);
      let event: FaultEvent;
      if (kind === 's3-503') {
        const share = 0.5 + rnd.next() * 0.45;
        event = this.#begin(kind, null, `(${Math.round(share * 100)} % of PUTs for ${durationMs} ms)`);
        proxy.set({ put503Share: share });
      } else if (kind === 's3-delay') {
        const maxMs = rnd.int(300, 3_000);
        event = this.#begin(kind, null, `(50..${maxMs} ms per request for ${durationMs} ms)`);
        proxy.set({ delayMs: [50, maxMs] });
      } else {
        const share = 0.1 + rnd.next() * 0.3;
        event = this.#begin(kind, null, `(${Math.round(share * 100)} % of requests for ${durationMs} ms)`);
        proxy.set({ resetShare: share });
      }
      await sleep(durationMs);
      proxy.quiet();
      event.endMs = Date.now();
    }
  }
}
