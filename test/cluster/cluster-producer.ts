/**
 * An acks=all producer over the project's wire client that follows partition leadership across a
 * cluster the way a Kafka client does: it sends each partition's batches to the leader named by
 * Metadata and refreshes Metadata after an error or a dropped connection. Every attempt is recorded
 * (partition, broker, send and answer time, error code or 'network'), so tests can check exactly what
 * was acknowledged, which errors clients saw, and how long each partition had no writable owner.
 * One lane per partition, one request in flight per lane: acknowledgements of a partition are in send
 * order, so "offsets rise in acknowledgement order" is a real check of per-partition ordering.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch } from '../../src/protocol/records/index.ts';
import type { TestCluster } from '../helpers/cluster.ts';
import { WireClient } from '../helpers/wire-client.ts';
import type { Ack } from '../fault/crash-produce-run.ts';

const PRODUCE_VERSION = 9;
const ACKS_ALL = -1;

export interface ProduceAttempt {
  readonly partition: number;
  readonly brokerId: number;
  readonly sentMs: number;
  readonly answeredMs: number;
  /** Kafka error code, or 'network' for a refused/dropped connection or a timeout (outcome unknown). */
  readonly outcome: number | 'network';
  readonly ack: Ack | null;
  readonly values: readonly string[];
}

export interface ClusterProducerOptions {
  readonly cluster: TestCluster;
  readonly topic: string;
  readonly partitions: number;
  readonly recordsPerBatch: number;
  /** Distinguishes this producer's record values from other writers'. */
  readonly valuePrefix: string;
  /** How long one request may take before its outcome counts as unknown; default 8 s. */
  readonly requestTimeoutMs?: number;
  /** Pause of a lane after a failed attempt; default 50 ms. */
  readonly retryBackoffMs?: number;
  /** Optional pause between successful sends (0: as fast as acknowledgements come). */
  readonly pauseMs?: number;
  /** Bytes of padding appended to each value (throughput runs); default 0. */
  readonly padBytes?: number;
}

export class ClusterProducer {
  readonly attempts: ProduceAttempt[] = [];
  readonly #options: ClusterProducerOptions;
  readonly #connections = new Map<number, Promise<WireClient>>();
  readonly #leaders = new Map<number, number>();
  readonly #lanes: Promise<void>[] = [];
  #refreshing: Promise<void> | null = null;
  #stopped = false;
  #sequence = 0;
  readonly #padding: string;

  constructor(options: ClusterProducerOptions) {
    this.#options = options;
    this.#padding = 'x'.repeat(options.padBytes ?? 0);
  }

  start(): void {
    for (let partition = 0; partition < this.#options.partitions; partition++) this.#lanes.push(this.#lane(partition));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#lanes);
    for (const pending of this.#connections.values()) void pending.then((client) => client.close(), () => {});
    this.#connections.clear();
  }

  acks(): Ack[] {
    return this.attempts.flatMap((attempt) => (attempt.ack === null ? [] : [attempt.ack]));
  }

  /** Attempts answered (or given up on) in [fromMs, toMs]. */
  between(fromMs: number, toMs: number): ProduceAttempt[] {
    return this.attempts.filter((a) => a.sentMs >= fromMs && a.answeredMs <= toMs);
  }

  /**
   * Per partition, the longest time between two consecutive acknowledgements within [fromMs, toMs]
   * (the window's ends count as acknowledgements): how long the partition had no writable owner.
   */
  longestGapMs(fromMs: number, toMs: number): Map<number, number> {
    const gaps = new Map<number, number>();
    for (let partition = 0; partition < this.#options.partitions; partition++) {
      const times = this.attempts
        .filter((a) => a.partition === partition && a.ack !== null && a.answeredMs >= fromMs && a.answeredMs <= toMs)
        .map((a) => a.answeredMs)
        .sort((a, b) => a - b);
      let previous = fromMs;
      let longest = 0;
      for (const time of [...times, toMs]) {
        longest = Math.max(longest, time - previous);
        previous = time;
      }
      gaps.set(partition, longest);
    }
    return gaps;
  }

  /** First acknowledgement of `partition` answered at or after `fromMs`; null if none. */
  firstAckAfter(partition: number, fromMs: number): ProduceAttempt | null {
    let first: ProduceAttempt | null = null;
    for (const a of this.attempts) {
      if (a.partition === partition && a.ack !== null && a.answeredMs >= fromMs && (first === null || a.answeredMs < first.answeredMs)) first = a;
    }
    return first;
  }

  /** The leader this producer currently sends `partition` to (after a refresh, Metadata's answer). */
  leaderOf(partition: number): number | undefined {
    return this.#leaders.get(partition);
  }

  async #lane(partition: number): Promise<void> {
    const { topic, recordsPerBatch, valuePrefix } = this.#options;
    const timeoutMs = this.#options.requestTimeoutMs ?? 8_000;
    const backoffMs = this.#options.retryBackoffMs ?? 50;
    while (!this.#stopped) {
      let leader = this.#leaders.get(partition);
      if (leader === undefined) {
        await this.#refresh();
        leader = this.#leaders.get(partition);
        if (leader === undefined) {
          await sleep(backoffMs);
          continue;
        }
      }
      const sequence = this.#sequence++;
      const values = Array.from({ length: recordsPerBatch }, (_, i) => `${valuePrefix}-p${partition}-s${sequence}-r${i}${this.#padding}`);
      const batch = encodeRecordBatch({ records: values.map((value) => ({ key: `k${partition}`, value })) });
      const sentMs = Date.now();
      let outcome: number | 'network';
      let baseOffset = -1n;
      try {
        const client = await this.#connection(leader);
        try {
          const response = await client.send(
            0,
            PRODUCE_VERSION,
            { transactionalId: null, acks: ACKS_ALL, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] },
            timeoutMs,
          );
          const result = response.responses[0]?.partitionResponses[0];
          outcome = result?.errorCode ?? -1;
          baseOffset = result?.baseOffset ?? -1n;
        } catch (error) {
          // A timed-out request may still be answered later and desynchronise the connection's
          // response order: drop the connection, as Kafka clients do.
          this.#drop(leader, client);
          throw error;
        }
      } catch {
        outcome = 'network';
      }
      const ack = outcome === 0 ? { partition, baseOffset, values } : null;
      this.attempts.push({ partition, brokerId: leader, sentMs, answeredMs: Date.now(), outcome, ack, values });
      if (outcome !== 0) {
        this.#leaders.delete(partition);
        await sleep(backoffMs);
      } else if ((this.#options.pauseMs ?? 0) > 0) {
        await sleep(this.#options.pauseMs ?? 0);
      }
    }
  }

  async #connection(brokerId: number): Promise<WireClient> {
    let pending = this.#connections.get(brokerId);
    if (pending !== undefined) {
      const client = await pending.catch(() => null);
      if (client !== null && !client.isClosed) return client;
      if (this.#connections.get(brokerId) === pending) this.#connections.delete(brokerId);
    }
    const broker = this.#options.cluster.brokers[brokerId];
    if (broker === undefined) throw new Error(`no broker ${brokerId}`);
    pending = WireClient.connect(broker.host, broker.port, `cluster-producer-${this.#options.valuePrefix}`);
    this.#connections.set(brokerId, pending);
    return pending;
  }

  #drop(brokerId: number, client: WireClient): void {
    client.close();
    const pending = this.#connections.get(brokerId);
    if (pending !== undefined) {
      void pending.then((current) => {
        if (current === client && this.#connections.get(brokerId) === pending) this.#connections.delete(brokerId);
      }, () => {});
    }
  }

  /** One Metadata refresh shared by every lane that needs it. */
  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const seen = await this.#options.cluster.metadata(this.#options.topic);
        for (const p of seen.partitions) {
          if (p.errorCode === 0 && seen.brokerIds.includes(p.leaderId)) this.#leaders.set(p.partition, p.leaderId);
        }
      } catch {
        // no broker answered: the lanes back off and ask again
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }
}

/** Per partition, acknowledged base offsets must rise in the order the acknowledgements came. */
export function outOfOrderAcks(attempts: readonly ProduceAttempt[]): string[] {
  const problems: string[] = [];
  const last = new Map<number, bigint>();
  for (const a of [...attempts].sort((x, y) => x.answeredMs - y.answeredMs)) {
    if (a.ack === null) continue;
    const previous = last.get(a.partition);
    if (previous !== undefined && a.ack.baseOffset <= previous) problems.push(`partition ${a.partition}: ack at ${a.ack.baseOffset} after ack at ${previous}`);
    last.set(a.partition, a.ack.baseOffset);
  }
  return problems;
}
