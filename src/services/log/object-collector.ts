/**
 * Removes data nobody can read any more (docs/design/storage.md, "Retention, DeleteRecords and object
 * collection"):
 *
 * 1. Deleted topics: for every `/kafscale/deleted-topics/{topicId}` marker, the topic incarnation's
 *    partition keys are deleted — owner keys first (so no owner can commit into the topic again: every
 *    commit compares its owner key), then the rest in txns of ≤128 ops. The marker goes only once the
 *    prefix stayed empty for a whole grace period, so a late straggler (a broker that had not yet seen the
 *    deletion) is swept too.
 * 2. Objects, by mark and sweep: list the namespace's WAL objects and segments, then read every log entry
 *    under `/kafscale/partitions/` (the mark), in pages at one metadata revision (rangePages). An object no
 *    entry references is deleted once this collector has seen it unreferenced for `deleteDelayMs`
 *    (file.delete.delay.ms: a Fetch that resolved an entry just before retention dropped it can still GET
 *    the range) if it saw it referenced before, and otherwise for `orphanGraceMs` (an upload whose commit
 *    may still be running is never touched). Ages are measured on the collector's monotonic clock from
 *    its own observations, not from object mtimes: a skewed clock (broker or object store) can delay a
 *    deletion, never hasten it (docs/design/storage.md). That one rule covers retention, DeleteRecords,
 *    DeleteTopics and orphans of crashed flushes alike, with no reference counts to keep consistent.
 *
 * Listing before marking is what makes it safe: an object committed before the mark is seen referenced;
 * one committed after it was uploaded less than a commit timeout before, far inside `orphanGraceMs`.
 * One broker at a time runs it: a key under the broker's session lease elects the collector.
 */
import type { Logger } from 'pino';
import type { Lease, MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { packOps } from '../../storage/meta/txn-packer.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { LogKeys, MetaKeys, parsePartitionKey } from '../cluster/meta-keys.ts';
import { decodeLogEntry, encodeJson } from './log-entry.ts';
import type { IoPriority } from './io-priority.ts';
import { segmentsPrefix } from './segment-format.ts';

export interface ObjectCollectorOptions {
  readonly store: MetadataStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  readonly brokerId: number;
  /** The broker's session lease: the collector role lives and dies with it. */
  readonly lease: Lease;
  /** Object key prefix (KAFSCALE_S3_NAMESPACE). */
  readonly namespace: string;
  /** An unreferenced object younger than this may be an upload whose commit is running (default 10 min). */
  readonly orphanGraceMs?: number;
  /** How long an object stays after it was first seen unreferenced (default file.delete.delay.ms = 60 s). */
  readonly deleteDelayMs?: number;
  readonly intervalMs?: number;
  /**
   * The clock object ages are measured on: monotonic by default (performance.now), never compared
   * with object-store mtimes or another broker's clock. Deleted-topic markers use the wall clock.
   */
  readonly now?: () => number;
  readonly wallNow?: () => number;
  /** WAL flushes go first: the collector yields to them before each batch of deletes (io-priority.ts). */
  readonly io?: IoPriority;
}

/** Keys per delete call: small enough that a batch of unlinks does not hold the disk in front of a flush. */
export const DELETE_BATCH_KEYS = 250;

export interface CollectResult {
  /** False when another broker holds the collector role. */
  readonly ran: boolean;
  readonly deletedObjects: number;
  readonly deletedPartitionKeys: number;
  readonly deletedTopicMarkers: number;
}

function monotonicNowMs(): number {
  return performance.now();
}

export const COLLECTOR_DEFAULTS = {
  orphanGraceMs: 10 * 60_000,
  deleteDelayMs: 60_000,
  intervalMs: 60_000,
} as const;

/** Keys read per range while emptying a deleted topic. */
const RANGE_CHUNK = 1_000;
/** Keys per page of the mark: log entries are a few hundred bytes, so a page stays far below 4 MiB. */
const MARK_PAGE_KEYS = 1_000;

interface DeletedTopicMarker {
  readonly id: string;
  readonly name?: string;
  readonly deletedMs?: number;
  /** First time this collector found the topic's prefix empty. */
  emptySinceMs?: number;
}

export class ObjectCollector {
  readonly #o: ObjectCollectorOptions;
  readonly #now: () => number;
  readonly #wallNow: () => number;
  readonly #orphanGraceMs: number;
  readonly #deleteDelayMs: number;
  /** Object key → when it was first seen unreferenced (by this broker, while it held the role). */
  readonly #unreferencedSince = new Map<string, number>();
  /** Objects the previous pass found referenced, and unreferenced ones that were referenced before. */
  #referencedLastPass = new Set<string>();
  #unreferencedAfterUse = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #closed = false;

  constructor(options: ObjectCollectorOptions) {
    this.#o = options;
    this.#now = options.now ?? monotonicNowMs;
    // Markers are shared by successive collectors, so their times are wall-clock; a skew there only
    // moves when an empty marker is dropped, never when data goes.
    this.#wallNow = options.wallNow ?? options.now ?? Date.now;
    this.#orphanGraceMs = options.orphanGraceMs ?? COLLECTOR_DEFAULTS.orphanGraceMs;
    this.#deleteDelayMs = options.deleteDelayMs ?? COLLECTOR_DEFAULTS.deleteDelayMs;
  }

  start(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#running !== null) return;
      this.#running = this.runOnce()
        .catch((error: unknown) => this.#o.log.warn({ err: error }, 'object collection failed; retrying on the next pass'))
        .finally(() => {
          this.#running = null;
        });
    }, this.#o.intervalMs ?? COLLECTOR_DEFAULTS.intervalMs);
    this.#timer.unref();
  }

  /** One pass: deleted topics, then objects. Throws on store faults (the timer logs and retries). */
  async runOnce(): Promise<CollectResult> {
    if (!(await this.#holdRole())) {
      // Another broker collects; our observations would be stale later.
      this.#unreferencedSince.clear();
      this.#referencedLastPass = new Set();
      this.#unreferencedAfterUse = new Set();
      return { ran: false, deletedObjects: 0, deletedPartitionKeys: 0, deletedTopicMarkers: 0 };
    }
    const topics = await this.#collectDeletedTopics();
    const deletedObjects = await this.#collectObjects();
    return { ran: true, deletedObjects, ...topics };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #holdRole(): Promise<boolean> {
    const { store, lease, brokerId } = this.#o;
    if (!lease.isAlive()) return false;
    const result = await store.txn({
      compare: [{ key: MetaKeys.objectCollector, target: 'createRevision', op: '==', value: 0 }],
      success: [{ type: 'put', key: MetaKeys.objectCollector, value: encodeJson({ brokerId }), lease: lease.id }],
      failure: [{ type: 'get', key: MetaKeys.objectCollector }],
    });
    if (result.succeeded) return true;
    const held = result.results[0];
    return held !== null && held !== undefined && typeof held === 'object' && !Array.isArray(held) && held.lease === lease.id;
  }

  async #collectDeletedTopics(): Promise<{ deletedPartitionKeys: number; deletedTopicMarkers: number }> {
    const { store } = this.#o;
    const { kvs: markers } = await store.range(MetaKeys.deletedTopicsPrefix);
    let deletedPartitionKeys = 0;
    let deletedTopicMarkers = 0;
    for (const kv of markers) {
      if (this.#closed) break;
      const marker = JSON.parse(kv.value.toString('utf8')) as DeletedTopicMarker;
      const topicId = kv.key.slice(MetaKeys.deletedTopicsPrefix.length);
      const removed = await this.#emptyPrefix(MetaKeys.partitionsOfTopicPrefix(topicId));
      deletedPartitionKeys += removed;
      const nowMs = this.#wallNow();
      if (removed > 0 || marker.emptySinceMs === undefined) {
        // Remember (in the marker, guarded by its revision) when the prefix was first seen empty.
        await store.txn({
          compare: [{ key: kv.key, target: 'modRevision', op: '==', value: kv.modRevision }],
          success: [{ type: 'put', key: kv.key, value: encodeJson({ ...marker, emptySinceMs: nowMs }) }],
        });
        this.#o.log.info({ topicId, topic: marker.name, deletedKeys: removed }, 'deleted topic: partition metadata removed');
      } else if (nowMs - marker.emptySinceMs >= this.#orphanGraceMs) {
        const done = await store.txn({ compare: [{ key: kv.key, target: 'modRevision', op: '==', value: kv.modRevision }], success: [{ type: 'delete', key: kv.key }] });
        if (done.succeeded) deletedTopicMarkers++;
      }
    }
    return { deletedPartitionKeys, deletedTopicMarkers };
  }

  /**
   * Deletes every key under the prefix, owner keys first (per page), in txns within the store's limits.
   * Pages come from rangePages, which keeps each response under the client's size limit whatever the
   * entries hold; rounds repeat until a whole pass finds nothing (a straggler's late writes included).
   */
  async #emptyPrefix(prefix: string): Promise<number> {
    const { store } = this.#o;
    let removed = 0;
    for (let round = 0; round < 1_000_000 && !this.#closed; round++) {
      let seen = 0;
      for await (const page of store.rangePages(prefix, { pageSize: RANGE_CHUNK })) {
        const keys = page.kvs.map((kv) => kv.key);
        seen += keys.length;
        // Fence every owner before its log disappears under it.
        const ordered = [...keys.filter((k) => k.endsWith('/owner')), ...keys.filter((k) => !k.endsWith('/owner'))];
        for (const ops of packOps(ordered.map((key): TxnOp => ({ type: 'delete', key })))) {
          await store.txn({ compare: [], success: ops });
          removed += ops.length;
        }
        if (this.#closed) break;
      }
      if (seen === 0) break;
    }
    return removed;
  }

  async #collectObjects(): Promise<number> {
    const { store, objects, log, namespace } = this.#o;
    // List first, then mark (see the file comment for why this order is safe).
    const listed: string[] = [];
    // Segments (and their indexes) of the merger follow the same rule as WAL objects.
    for (const prefix of [`${namespace}/wal/`, segmentsPrefix(namespace)]) for await (const info of objects.list(prefix)) listed.push(info.key);
    const referenced = new Set<string>();
    // Pages at one revision: one response for every entry of every partition would pass grpc-js' 4 MiB
    // receive limit at a few thousand partitions, and a pass that always fails frees nothing.
    for await (const page of store.rangePages(MetaKeys.partitionsPrefix, { pageSize: MARK_PAGE_KEYS })) {
      for (const kv of page.kvs) {
        const parsed = parsePartitionKey(kv.key);
        if (parsed === null || LogKeys.parseSuffix(parsed.suffix) === null) continue;
        const entry = decodeLogEntry(kv.value);
        referenced.add(entry.objectKey);
        if (entry.indexKey !== undefined) referenced.add(entry.indexKey);
      }
      if (this.#closed) return 0;
    }
    const nowMs = this.#now();
    const doomed: string[] = [];
    const stillUnreferenced = new Map<string, number>();
    for (const key of listed) {
      if (referenced.has(key)) continue;
      const since = this.#unreferencedSince.get(key) ?? nowMs;
      // An object this collector saw referenced last pass was committed: only readers that resolved its
      // entry just before it was dropped need it (file.delete.delay.ms). Any other may be an upload whose
      // commit is still running, so it also waits out orphanGraceMs. Both ages are measured on this
      // process's monotonic clock from its own observations, never from the object's mtime, so a
      // broker or object-store clock that is off cannot make a fresh upload look old.
      const waitMs = this.#referencedLastPass.has(key) || this.#unreferencedAfterUse.has(key) ? this.#deleteDelayMs : Math.max(this.#orphanGraceMs, this.#deleteDelayMs);
      if (nowMs - since >= waitMs) doomed.push(key);
      else stillUnreferenced.set(key, since);
    }
    // Forget objects that are gone or referenced again; keep the clock of the others.
    const afterUse = new Set<string>();
    for (const key of stillUnreferenced.keys()) if (this.#referencedLastPass.has(key) || this.#unreferencedAfterUse.has(key)) afterUse.add(key);
    this.#unreferencedAfterUse = afterUse;
    this.#unreferencedSince.clear();
    for (const [key, since] of stillUnreferenced) this.#unreferencedSince.set(key, since);
    this.#referencedLastPass = referenced;
    for (let i = 0; i < doomed.length; i += DELETE_BATCH_KEYS) {
      await this.#o.io?.yieldToForeground();
      await objects.delete(doomed.slice(i, i + DELETE_BATCH_KEYS));
    }
    if (doomed.length > 0) log.info({ objects: doomed.length }, 'deleted objects no log entry references');
    return doomed.length;
  }
}
