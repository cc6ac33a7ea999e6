/**
 * Who owns every partition right now, on every broker (docs/design/cluster.md, "Owner directory").
 * Placement says where a partition *should* live; the owner key says where it *does* — during a
 * handover, before a dead broker's lease expires, or while a newcomer has not acquired yet, the two
 * differ, and Metadata, Produce's NOT_LEADER_OR_FOLLOWER `currentLeader` and the leader-epoch checks
 * must name the actual owner and its epoch.
 *
 * The directory mirrors two small keys per partition (`owner`, leased; `epoch`, unleased) and nothing
 * else: topics are loaded with batched `get` transactions, then one watch on the partitions prefix keeps
 * them current (events of other partition keys, such as log entries, are skipped without allocation
 * beyond the parse). Per-key revisions make the load and the watch idempotent whatever their order.
 * Lookups are two array reads — no allocation on the request path.
 */
import type { Logger } from 'pino';
import type { MetadataStore, TxnOp, Watch, WatchEvent } from '../../storage/meta/metadata-store.ts';
import { packTxns } from '../../storage/meta/txn-packer.ts';
import { MetaKeys, parsePartitionKey } from './meta-keys.ts';
import type { TopicRegistry } from './topic-registry.ts';
import { WatchRecovery } from './watch-recovery.ts';

/** -1: nobody owns the partition (never acquired, released, or the owner's session ended). */
export const NO_OWNER = -1;

/** Per-topic slots, indexed by partition; grown when CreatePartitions adds partitions. */
class TopicOwners {
  owner: number[] = [];
  /** Epoch of the current owner, else the last epoch handed out (epochs never go backwards for clients). */
  epoch: number[] = [];
  ownerRevision: number[] = [];
  epochRevision: number[] = [];

  ensure(partition: number): void {
    while (this.owner.length <= partition) {
      this.owner.push(NO_OWNER);
      this.epoch.push(0);
      this.ownerRevision.push(0);
      this.epochRevision.push(0);
    }
  }
}

export type OwnerChangeListener = (topicId: string, partition: number, ownerBrokerId: number) => void;

export class OwnerDirectory {
  readonly #store: MetadataStore;
  readonly #topics: TopicRegistry;
  readonly #byTopic = new Map<string, TopicOwners>();
  readonly #listeners = new Set<OwnerChangeListener>();
  readonly #recovery: WatchRecovery;
  #watch: Watch | null = null;
  #unsubscribe: (() => void) | null = null;
  #closed = false;

  private constructor(store: MetadataStore, topics: TopicRegistry, log: Logger) {
    this.#store = store;
    this.#topics = topics;
    this.#recovery = new WatchRecovery({
      log,
      resync: () => this.#resync(),
      lostMessage: 'owner directory watch lost; re-reading owners',
      retryMessage: 'owner directory re-sync failed; retrying',
    });
  }

  /** Loads the owners of every known topic and starts the watch; later topics are loaded as they appear. */
  static async open(store: MetadataStore, topics: TopicRegistry, log: Logger): Promise<OwnerDirectory> {
    const directory = new OwnerDirectory(store, topics, log);
    directory.#unsubscribe = topics.onChange((changes) => {
      for (const change of changes) {
        if (change.before !== null && (change.after === null || change.after.id !== change.before.id)) directory.#byTopic.delete(change.before.id);
        const after = change.after;
        // New topic or more partitions: owners acquired before our watch started would otherwise be missed.
        if (after !== null && (change.before === null || change.before.id !== after.id || change.before.partitions !== after.partitions)) {
          directory.#loadTopic(after.id, after.partitions).catch((error: unknown) => directory.#onWatchError(error as Error));
        }
      }
    });
    await directory.#startWatch();
    await directory.#loadAll();
    return directory;
  }

  /** The owning broker's id, or NO_OWNER. */
  ownerOf(topicId: string, partition: number): number {
    return this.#byTopic.get(topicId)?.owner[partition] ?? NO_OWNER;
  }

  /** The owner's epoch; with no owner, the last epoch handed out (0 if the partition never had an owner). */
  epochOf(topicId: string, partition: number): number {
    return this.#byTopic.get(topicId)?.epoch[partition] ?? 0;
  }

  /** Partitions owned by `brokerId` according to the directory (CLI, tests). */
  countOwnedBy(brokerId: number): number {
    let count = 0;
    for (const owners of this.#byTopic.values()) for (const owner of owners.owner) if (owner === brokerId) count++;
    return count;
  }

  /** Called with every change of a partition's owner (acquired, released, expired). */
  onChange(listener: OwnerChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#recovery.close();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    const watch = this.#watch;
    this.#watch = null;
    await watch?.close();
  }

  async #startWatch(): Promise<void> {
    const revision = await this.#store.revision();
    this.#watch = await this.#store.watch(MetaKeys.partitionsPrefix, { fromRevision: revision + 1 }, {
      onEvents: (events) => this.#onEvents(events),
      onError: (error) => this.#onWatchError(error),
    });
  }

  async #loadAll(): Promise<void> {
    for (const topic of this.#topics.list()) await this.#loadTopic(topic.id, topic.partitions);
  }

  /** Reads `owner` and `epoch` of every partition, in as few `get` transactions as the store's limits allow. */
  async #loadTopic(topicId: string, partitions: number): Promise<void> {
    const all = Array.from({ length: partitions }, (_, p) => p);
    const gets = (p: number): TxnOp[] => [{ type: 'get', key: MetaKeys.partitionOwner(topicId, p) }, { type: 'get', key: MetaKeys.partitionEpoch(topicId, p) }];
    for (const chunk of packTxns(all, (p) => ({ success: gets(p) }))) {
      if (this.#closed) return;
      const result = await this.#store.txn({ compare: [], success: chunk.flatMap(gets) });
      // The topic may have been deleted while we read.
      if (this.#topics.getById(topicId) === undefined) return;
      for (let i = 0; i < chunk.length; i++) {
        const p = chunk[i] as number;
        const owner = result.results[2 * i];
        const epoch = result.results[2 * i + 1];
        const ownerKv = owner !== null && owner !== undefined && typeof owner === 'object' && !Array.isArray(owner) ? owner : null;
        const epochKv = epoch !== null && epoch !== undefined && typeof epoch === 'object' && !Array.isArray(epoch) ? epoch : null;
        this.#applyOwner(topicId, p, ownerKv?.value ?? null, ownerKv?.modRevision ?? result.revision, true);
        this.#applyEpoch(topicId, p, epochKv?.value ?? null, epochKv?.modRevision ?? result.revision, true);
      }
    }
  }

  #onEvents(events: readonly WatchEvent[]): void {
    for (const event of events) {
      // Cheap pre-filter: most events under the prefix are log entries.
      const key = event.key;
      const isOwner = key.endsWith('/owner');
      if (!isOwner && !key.endsWith('/epoch')) continue;
      const parsed = parsePartitionKey(key);
      if (parsed === null || (parsed.suffix !== 'owner' && parsed.suffix !== 'epoch')) continue;
      const value = event.type === 'put' ? event.kv.value : null;
      const revision = event.type === 'put' ? event.kv.modRevision : event.revision;
      if (isOwner) this.#applyOwner(parsed.topicId, parsed.partition, value, revision, false);
      else this.#applyEpoch(parsed.topicId, parsed.partition, value, revision, false);
    }
  }

  #slots(topicId: string, partition: number): TopicOwners {
    let owners = this.#byTopic.get(topicId);
    if (owners === undefined) {
      owners = new TopicOwners();
      this.#byTopic.set(topicId, owners);
    }
    owners.ensure(partition);
    return owners;
  }

  #applyOwner(topicId: string, partition: number, value: Buffer | null, revision: number, authoritative: boolean): void {
    const slots = this.#slots(topicId, partition);
    const known = slots.ownerRevision[partition] ?? 0;
    if (authoritative ? revision < known : revision <= known) return;
    slots.ownerRevision[partition] = revision;
    const record = value === null ? null : decodeOwner(value);
    const before = slots.owner[partition];
    slots.owner[partition] = record === null ? NO_OWNER : record.brokerId;
    if (record !== null && record.epoch > (slots.epoch[partition] ?? 0)) slots.epoch[partition] = record.epoch;
    if (before !== slots.owner[partition]) for (const listener of this.#listeners) listener(topicId, partition, slots.owner[partition] ?? NO_OWNER);
  }

  #applyEpoch(topicId: string, partition: number, value: Buffer | null, revision: number, authoritative: boolean): void {
    if (value === null) return; // deleted only with the topic
    const slots = this.#slots(topicId, partition);
    const known = slots.epochRevision[partition] ?? 0;
    if (authoritative ? revision < known : revision <= known) return;
    slots.epochRevision[partition] = revision;
    const epoch = decodeEpoch(value);
    if (epoch > (slots.epoch[partition] ?? 0)) slots.epoch[partition] = epoch;
  }

  /** Watch lost, or a topic's load failed: watch again and re-read every owner. */
  #onWatchError(error: Error): void {
    const dead = this.#watch;
    if (!this.#recovery.lost(error)) return;
    if (this.#watch === dead) this.#watch = null;
    void dead?.close().catch(() => undefined);
  }

  async #resync(): Promise<void> {
    try {
      await this.#startWatch();
      await this.#loadAll();
    } catch (error) {
      const watch = this.#watch;
      this.#watch = null;
      await watch?.close().catch(() => undefined);
      throw error;
    }
  }
}

function decodeOwner(value: Buffer): { brokerId: number; epoch: number } | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as { brokerId?: unknown; epoch?: unknown };
    return typeof parsed.brokerId === 'number' && typeof parsed.epoch === 'number' ? { brokerId: parsed.brokerId, epoch: parsed.epoch } : null;
  } catch {
    return null;
  }
}

function decodeEpoch(value: Buffer): number {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as { epoch?: unknown };
    return typeof parsed.epoch === 'number' ? parsed.epoch : 0;
  } catch {
    return 0;
  }
}
