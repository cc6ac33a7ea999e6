/**
 * Watches consumer groups' committed offsets while the chaos runs: about once a second, per group,
 * FindCoordinator at any broker that is up, then OffsetFetch at the coordinator. A committed offset
 * lower than one read before for the same group and partition is a regression (a consumer restarting
 * from it would read records again, or a coordinator served stale state). Unanswered polls are
 * counted, never fatal: brokers and etcd are being taken away on purpose.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestCluster } from '../../helpers/cluster.ts';
import { WireClient } from '../../helpers/wire-client.ts';

const FIND_COORDINATOR_VERSION = 3;
const OFFSET_FETCH_VERSION = 7;
const REQUEST_TIMEOUT_MS = 3_000;

export interface OffsetRegression {
  readonly group: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
  readonly atMs: number;
  /** Broker id of the coordinator that answered the lower value. */
  readonly coordinator: number;
}

export class CommittedOffsetsMonitor {
  readonly regressions: OffsetRegression[] = [];
  /** group → partition → highest committed offset read so far. */
  readonly highest = new Map<string, Map<number, bigint>>();
  polls = 0;
  failedPolls = 0;
  readonly #cluster: TestCluster;
  readonly #topic: string;
  readonly #partitions: number;
  readonly #groups: readonly string[];
  readonly #intervalMs: number;
  /** The low value last reported per group/partition, so one regression read again is reported once. */
  readonly #lastLow = new Map<string, bigint>();
  #loop: Promise<void> | null = null;
  #stopped = false;

  constructor(options: { cluster: TestCluster; topic: string; partitions: number; groups: readonly string[]; intervalMs?: number }) {
    this.#cluster = options.cluster;
    this.#topic = options.topic;
    this.#partitions = options.partitions;
    this.#groups = options.groups;
    this.#intervalMs = options.intervalMs ?? 1_000;
    for (const group of options.groups) this.highest.set(group, new Map());
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** One poll of every group now (also used for the final reading). */
  async pollOnce(): Promise<void> {
    for (const group of this.#groups) {
      this.polls++;
      try {
        await this.#poll(group);
      } catch {
        this.failedPolls++;
      }
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      await this.pollOnce();
      await sleep(this.#intervalMs);
    }
  }

  async #anyBroker(): Promise<WireClient> {
    const ids = this.#cluster.brokers.map((_, id) => id).filter((id) => !this.#cluster.isFrozen(id));
    let lastError: unknown = new Error('no broker is up');
    for (const id of ids) {
      const broker = this.#cluster.brokers[id];
      if (broker === undefined) continue;
      try {
        return await WireClient.connect(broker.host, broker.port, 'chaos-offsets-monitor');
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  async #poll(group: string): Promise<void> {
    let coordinator: { nodeId: number; host: string; port: number };
    const finder = await this.#anyBroker();
    try {
      const found = await finder.send(10, FIND_COORDINATOR_VERSION, { key: group, keyType: 0 }, REQUEST_TIMEOUT_MS);
      if (found.errorCode !== 0) throw new Error(`FindCoordinator ${group}: error ${found.errorCode}`);
      coordinator = { nodeId: found.nodeId, host: found.host, port: found.port };
    } finally {
      finder.close();
    }
    if (this.#cluster.isFrozen(coordinator.nodeId)) throw new Error('the coordinator is frozen');
    const client = await WireClient.connect(coordinator.host, coordinator.port, 'chaos-offsets-monitor');
    try {
      const partitionIndexes = Array.from({ length: this.#partitions }, (_, p) => p);
      const response = await client.send(
        9,
        OFFSET_FETCH_VERSION,
        { groupId: group, topics: [{ name: this.#topic, partitionIndexes }], requireStable: true },
        REQUEST_TIMEOUT_MS,
      );
      if (response.errorCode !== 0) throw new Error(`OffsetFetch ${group}: error ${response.errorCode}`);
      const highest = this.highest.get(group) ?? new Map<number, bigint>();
      for (const topic of response.topics) {
        for (const p of topic.partitions) {
          if (p.errorCode !== 0 || p.committedOffset < 0n) continue;
          const before = highest.get(p.partitionIndex);
          const lastKey = `${group}/${p.partitionIndex}`;
          const repeated = this.#lastLow.get(lastKey) === p.committedOffset;
          if (before !== undefined && p.committedOffset < before && !repeated) {
            this.regressions.push({ group, partition: p.partitionIndex, from: before, to: p.committedOffset, atMs: Date.now(), coordinator: coordinator.nodeId });
          }
          if (before !== undefined && p.committedOffset < before) this.#lastLow.set(lastKey, p.committedOffset);
          else this.#lastLow.delete(lastKey);
          if (before === undefined || p.committedOffset > before) highest.set(p.partitionIndex, p.committedOffset);
        }
      }
    } finally {
      client.close();
    }
  }
}
