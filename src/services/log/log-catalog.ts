/**
 * Committed partition state for the read path on every broker. A partition is loaded with one range read
 * of its prefix on first use; one broker-wide watch on `/kafscale/partitions/` keeps every loaded partition
 * current (never polling). Watch events apply to a partition's state at once, even while it loads: the
 * range read is merged by per-key revision (PartitionState.merge), so events, the owner's own commits and
 * range reads combine in any order and the state never moves back to an older revision. A dead watch is
 * re-established and every loaded partition re-read.
 */
import type { Logger } from 'pino';
import type { KeyValue, MetadataStore, Watch, WatchEvent } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MetaKeys, parsePartitionKey } from '../cluster/meta-keys.ts';
import { WatchRecovery } from '../cluster/watch-recovery.ts';
import { PartitionState } from './partition-state.ts';

interface Loading {
  readonly promise: Promise<PartitionState>;
  readonly state: PartitionState;
}

function partitionId(topicId: string, partition: number): string {
  return `${topicId}/${partition}`;
}

export class LogCatalog {
  readonly #store: MetadataStore;
  readonly #states = new Map<string, PartitionState>();
  readonly #loading = new Map<string, Loading>();
  readonly #recovery: WatchRecovery;
  #watch: Watch | null = null;

  private constructor(store: MetadataStore, log: Logger) {
    this.#store = store;
    this.#recovery = new WatchRecovery({
      log,
      resync: () => this.#resync(),
      lostMessage: 'partition-state watch lost; re-reading loaded partitions',
      retryMessage: 'partition-state re-sync failed; retrying',
    });
  }

  static async open(store: MetadataStore, log: Logger): Promise<LogCatalog> {
    const catalog = new LogCatalog(store, log);
    await catalog.#startWatch();
    return catalog;
  }

  /** The partition's committed state, loading it on first use. */
  state(topicId: string, partition: number): Promise<PartitionState> {
    const id = partitionId(topicId, partition);
    const known = this.#states.get(id);
    if (known !== undefined) return Promise.resolve(known);
    const loading = this.#loading.get(id);
    if (loading !== undefined) return loading.promise;
    return this.#load(topicId, partition, new PartitionState(topicId, partition));
  }

  peek(topicId: string, partition: number): PartitionState | undefined {
    return this.#states.get(partitionId(topicId, partition));
  }

  /**
   * Re-reads one partition from the store, e.g. after an ambiguous commit or an acquire. The same state
   * object is kept so that owners and waiters holding it see the new truth. The read is a NEW range read
   * started after this call (never one already in flight, which may predate the caller's acquire or
   * fence) and at a store revision ≥ `atLeastRevision` (issue 10, item 6).
   */
  async reload(topicId: string, partition: number, atLeastRevision = 0): Promise<PartitionState> {
    const id = partitionId(topicId, partition);
    for (let reads = 0; ; ) {
      const pending = this.#loading.get(id);
      if (pending !== undefined) {
        // One load at a time per partition; its result is merged, ours follows it.
        await pending.promise.catch(() => undefined);
        continue;
      }
      const state = await this.#load(topicId, partition, this.#states.get(id) ?? new PartitionState(topicId, partition));
      if (state.loadedRevision >= atLeastRevision) return state;
      // Range reads are linearizable (etcd) or local (embedded): an older answer means a lagging store.
      if (++reads >= 5) {
        throw new KafscaleError('KSC_META_UNAVAILABLE', `metadata store answered partition ${topicId}/${partition} at revision ${state.loadedRevision}, older than ${atLeastRevision}; retry`, { retriable: true });
      }
    }
  }

  /**
   * Takes a read of the partition's keys the caller made itself, at `revision` (an acquire that read
   * them inside its claim txn), as a load: merged by per-key revision like any range read.
   */
  adopt(topicId: string, partition: number, kvs: readonly KeyValue[], revision: number): PartitionState {
    const id = partitionId(topicId, partition);
    const state = this.#states.get(id) ?? this.#loading.get(id)?.state ?? new PartitionState(topicId, partition);
    state.merge(kvs, MetaKeys.partitionPrefix(topicId, partition).length, revision);
    this.#states.set(id, state);
    return state;
  }

  /** Drops partitions of a deleted topic from memory. */
  forgetTopic(topicId: string): void {
    for (const [id, state] of this.#states) {
      if (state.topicId === topicId) {
        this.#states.delete(id);
        state.wakeAll();
      }
    }
  }

  async close(): Promise<void> {
    this.#recovery.close();
    const watch = this.#watch;
    this.#watch = null;
    await watch?.close();
    for (const state of this.#states.values()) state.wakeAll();
  }

  #load(topicId: string, partition: number, state: PartitionState): Promise<PartitionState> {
    const id = partitionId(topicId, partition);
    const prefix = MetaKeys.partitionPrefix(topicId, partition);
    const promise = (async () => {
      try {
        const { kvs, revision } = await this.#store.range(prefix);
        state.merge(kvs, prefix.length, revision);
        this.#states.set(id, state);
        return state;
      } finally {
        this.#loading.delete(id);
      }
    })();
    this.#loading.set(id, { promise, state });
    return promise;
  }

  #applyEvent(state: PartitionState, event: WatchEvent): void {
    const suffix = event.key.slice(MetaKeys.partitionPrefix(state.topicId, state.partition).length);
    const kv: KeyValue | null = event.type === 'put' ? event.kv : null;
    state.apply(suffix, kv, event.type === 'put' ? event.kv.modRevision : event.revision);
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const touched = new Set<PartitionState>();
    for (const event of events) {
      const parsed = parsePartitionKey(event.key);
      if (parsed === null) continue;
      const id = partitionId(parsed.topicId, parsed.partition);
      // A partition still loading takes events too: the range read's merge keeps whichever is newer.
      const state = this.#states.get(id) ?? this.#loading.get(id)?.state;
      if (state === undefined) continue;
      this.#applyEvent(state, event);
      touched.add(state);
    }
    for (const state of touched) state.notify();
  }

  async #startWatch(): Promise<void> {
    const revision = await this.#store.revision();
    this.#watch = await this.#store.watch(MetaKeys.partitionsPrefix, { fromRevision: revision + 1 }, {
      onEvents: (events) => this.#onEvents(events),
      onError: (error) => this.#onWatchError(error),
    });
  }

  #onWatchError(error: Error): void {
    const dead = this.#watch;
    if (this.#recovery.lost(error) && this.#watch === dead) this.#watch = null;
  }

  /** Watches again, then re-reads every loaded partition (events in between are merged by revision). */
  async #resync(): Promise<void> {
    try {
      await this.#startWatch();
      await Promise.all([...this.#states.values()].map((s) => this.reload(s.topicId, s.partition)));
    } catch (error) {
      const watch = this.#watch;
      this.#watch = null;
      await watch?.close().catch(() => undefined);
      throw error;
    }
  }
}
