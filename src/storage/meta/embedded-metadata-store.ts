/**
 * Embedded MetadataStore: single node, durable on local disk in LMDB (lmdb npm package).
 *
 * Layout (one LMDB environment under `dir`, named sub-databases):
 *   kv        utf-8 key bytes            → { v: value, c: createRevision, m: modRevision, n: version, l: lease|null }
 *   state     'revision' | 'nextLease'   → number
 *   leases    lease id                   → { ttlMs }
 *   leaseKeys `${leaseId}\0${key}` bytes → 1   (index: the keys to delete when a lease ends)
 *   changelog revision                   → StoredEvent[]  (the last `historyRevisions` revisions, for watch replay)
 *
 * txn() runs its compares and writes as an LMDB child transaction inside lmdb-js's asynchronous write
 * batch: the callback runs on the JS thread (so compare-and-write is atomic and revisions are assigned
 * in call order), while the commit and its fsync run on lmdb-js's write thread. Txns issued in the
 * same event turn share one commit (group commit), and the event loop is not blocked for the fsync —
 * a synchronous commit (transactionSync) stalled every produce and fetch of the broker for the disk's
 * sync time, once per flush. With noSync and overlappingSync off the promise still resolves only after
 * the commit is fsynced: durable across kill -9 and power loss. Leases still commit synchronously
 * (rare); a sequencer delivers watch events strictly in revision order whichever path committed them.
 */
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import type { Logger } from 'pino';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { DirectoryLock } from './directory-lock.ts';
import { EmbeddedLease } from './embedded-lease.ts';
import { matchesCompare, toKeyValue, type StoredEvent, type StoredRecord } from './embedded-record.ts';
import { EmbeddedWatchHub } from './embedded-watch-hub.ts';
import type { KeyValue, Lease, MetadataStore, RangeResult, Txn, TxnOp, TxnOpResult, TxnResult, Watch, WatchHandler, WatchOptions } from './metadata-store.ts';
import { SingleOpWrites } from './single-op-writes.ts';
import { assertTxnWithinLimits, prefixEnd } from './txn-limits.ts';

export interface EmbeddedMetadataStoreOptions {
  /** Directory holding the LMDB files and the lock file; created if missing. */
  readonly dir: string;
  readonly log?: Logger;
  /** How many past revisions watches can replay from; older → KSC_META_COMPACTED. */
  readonly historyRevisions?: number;
}

/** LMDB's compiled key limit is 1978 bytes; the lease index prefixes keys with the lease id. */
const MAX_KEY_BYTES = 1900;
const EMPTY = Buffer.alloc(0);

function keyBytes(key: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_KEY_BYTES) {
    throw new KafscaleError('KSC_META_TXN_TOO_LARGE', `metadata key of ${bytes.length} bytes is longer than the embedded store's limit of ${MAX_KEY_BYTES}: ${key.slice(0, 80)}…`);
  }
  return bytes;
}

export class EmbeddedMetadataStore extends SingleOpWrites implements MetadataStore {
  readonly dir: string;
  readonly log: Logger | undefined;
  readonly #historyRevisions: number;
  readonly #lock: DirectoryLock;
  readonly #root: RootDatabase;
  readonly #kv: Database<StoredRecord, Buffer>;
  readonly #state: Database<number, string>;
  readonly #leases: Database<{ ttlMs: number }, string>;
  readonly #leaseKeys: Database<number, Buffer>;
  readonly #changelog: Database<StoredEvent[], number>;
  readonly #watches: EmbeddedWatchHub;
  readonly #liveLeases = new Map<string, EmbeddedLease>();
  readonly #orphanTimers = new Set<NodeJS.Timeout>();
  #closed = false;

  private constructor(options: EmbeddedMetadataStoreOptions, lock: DirectoryLock) {
    super();
    this.dir = options.dir;
    this.log = options.log;
    this.#historyRevisions = options.historyRevisions ?? 10_000;
    this.#lock = lock;
    this.#root = open({ path: options.dir, maxDbs: 8, overlappingSync: false, noSync: false, noMetaSync: false });
    this.#kv = this.#root.openDB({ name: 'kv', keyEncoding: 'binary', encoding: 'msgpack' });
    this.#state = this.#root.openDB({ name: 'state', encoding: 'msgpack' });
    this.#leases = this.#root.openDB({ name: 'leases', encoding: 'msgpack' });
    this.#leaseKeys = this.#root.openDB({ name: 'leaseKeys', keyEncoding: 'binary', encoding: 'msgpack' });
    this.#changelog = this.#root.openDB({ name: 'changelog', encoding: 'msgpack' });
    this.#watches = new EmbeddedWatchHub(options.log, this.#currentRevision());
  }

  /** Opens (creating if needed) the store in `dir`; refuses a directory held by another live process. */
  static async open(options: EmbeddedMetadataStoreOptions): Promise<EmbeddedMetadataStore> {
    const lock = DirectoryLock.acquire(options.dir);
    let store: EmbeddedMetadataStore;
    try {
      store = new EmbeddedMetadataStore(options, lock);
    } catch (error) {
      lock.release();
      throw new KafscaleError('KSC_META_UNAVAILABLE', `cannot open embedded metadata store in ${options.dir}: ${(error as Error).message}`, { cause: error });
    }
    store.#scheduleOrphanLeases();
    return store;
  }

  /**
   * Leases found on open belong to a previous holder of the directory lock, which is dead or closed
   * (the lock admits one live process), so nobody can act on them any more: they are expired at once.
   * Waiting a TTL would only keep a restarted broker from re-acquiring its own partitions.
   */
  #scheduleOrphanLeases(): void {
    for (const { key: id } of this.#leases.getRange()) {
      const timer = setTimeout(() => {
        this.#orphanTimers.delete(timer);
        if (!this.#closed) this.endLease(id);
      }, 0);
      timer.unref();
      this.#orphanTimers.add(timer);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new KafscaleError('KSC_META_CLOSED', `embedded metadata store in ${this.dir} is closed`);
  }

  /** Like etcd, an empty store is at revision 1 and its first write is revision 2. */
  #currentRevision(): number {
    return this.#state.get('revision') ?? 1;
  }

  async get(key: string): Promise<KeyValue | null> {
    this.#checkOpen();
    const record = this.#kv.get(keyBytes(key));
    return record === undefined ? null : toKeyValue(key, record);
  }

  #range(prefix: string, limit?: number): KeyValue[] {
    const start = Buffer.from(prefix, 'utf8');
    const options = prefix === '' ? {} : { start, end: prefixEnd(start) };
    const kvs: KeyValue[] = [];
    // As in etcd, a limit of 0 means no limit.
    for (const { key, value } of this.#kv.getRange(limit === undefined || limit <= 0 ? options : { ...options, limit })) {
      kvs.push(toKeyValue(key.toString('utf8'), value));
    }
    return kvs;
  }

  async range(prefix: string, options?: { readonly limit?: number }): Promise<RangeResult> {
    this.#checkOpen();
    return { kvs: this.#range(prefix, options?.limit), revision: this.#currentRevision() };
  }

  /** One LMDB read transaction (a snapshot) serves every page; it is released when iteration ends. */
  async *rangePages(prefix: string, options: { readonly pageSize: number }): AsyncIterable<RangeResult> {
    this.#checkOpen();
    const pageSize = Math.max(1, options.pageSize);
    const transaction = this.#root.useReadTransaction();
    try {
      const revision = this.#state.get('revision', { transaction }) ?? 1;
      const start = Buffer.from(prefix, 'utf8');
      const bounds = prefix === '' ? {} : { start, end: prefixEnd(start) };
      let page: KeyValue[] = [];
      let yielded = false;
      for (const { key, value } of this.#kv.getRange({ ...bounds, transaction })) {
        page.push(toKeyValue(key.toString('utf8'), value));
        if (page.length === pageSize) {
          yield { kvs: page, revision };
          yielded = true;
          page = [];
          this.#checkOpen();
        }
      }
      if (page.length > 0 || !yielded) yield { kvs: page, revision };
    } finally {
      transaction.done();
    }
  }

  async revision(): Promise<number> {
    this.#checkOpen();
    return this.#currentRevision();
  }

  async txn(txn: Txn): Promise<TxnResult> {
    this.#checkOpen();
    assertTxnWithinLimits(txn);
    const events: StoredEvent[] = [];
    // A child transaction: a callback that throws (lease lost, key too long) rolls back only itself, not
    // the other txns batched into the same commit. The promise resolves after the durable commit.
    const outcome = await this.#root.childTransaction(() => {
      events.length = 0;
      const revision = this.#currentRevision() + 1;
      const succeeded = txn.compare.every((c) => matchesCompare(this.#kv.get(keyBytes(c.key)), c));
      const ops = succeeded ? txn.success : (txn.failure ?? []);
      const results = ops.map((op) => this.#apply(op, revision, events));
      if (events.length > 0) this.#commitRevision(revision, events);
      return { succeeded, results, revision: events.length > 0 ? revision : revision - 1 };
    }) as TxnResult;
    this.#watches.fanOut(outcome.revision, events);
    return outcome;
  }

  #apply(op: TxnOp, revision: number, events: StoredEvent[]): TxnOpResult {
    switch (op.type) {
      case 'get': {
        const record = this.#kv.get(keyBytes(op.key));
        return record === undefined ? null : toKeyValue(op.key, record);
      }
      case 'range':
        return this.#range(op.prefix);
      case 'put': {
        const lease = op.lease ?? null;
        if (lease !== null && (!this.#liveLeases.has(lease) || this.#leases.get(lease) === undefined)) {
          // Throwing aborts the LMDB transaction: nothing of this txn is written.
          throw new KafscaleError('KSC_META_LEASE_LOST', `metadata lease ${lease} does not exist or has expired; grant a new lease`);
        }
        const bytes = keyBytes(op.key);
        const previous = this.#kv.get(bytes);
        if (previous?.l != null && previous.l !== lease) this.#leaseKeys.removeSync(Buffer.from(`${previous.l}\0${op.key}`));
        if (lease !== null) this.#leaseKeys.putSync(Buffer.from(`${lease}\0${op.key}`), 1);
        const record: StoredRecord = previous === undefined
          ? { v: op.value, c: revision, m: revision, n: 1, l: lease }
          : { v: op.value, c: previous.c, m: revision, n: previous.n + 1, l: lease };
        this.#kv.putSync(bytes, record);
        events.push({ t: 'put', k: op.key, r: record });
        return 1;
      }
      case 'delete':
        return this.#deleteKey(op.key, revision, events) ? 1 : 0;
      case 'deletePrefix': {
        let count = 0;
        for (const kv of this.#range(op.prefix)) if (this.#deleteKey(kv.key, revision, events)) count++;
        return count;
      }
    }
  }

  #deleteKey(key: string, revision: number, events: StoredEvent[]): boolean {
    const bytes = keyBytes(key);
    const previous = this.#kv.get(bytes);
    if (previous === undefined) return false;
    if (previous.l !== null) this.#leaseKeys.removeSync(Buffer.from(`${previous.l}\0${key}`));
    this.#kv.removeSync(bytes);
    events.push({ t: 'delete', k: key, r: { v: EMPTY, c: 0, m: revision, n: 0, l: null } });
    return true;
  }

  /** Inside the write transaction: bump the revision and append to the bounded changelog. */
  #commitRevision(revision: number, events: StoredEvent[]): void {
    this.#state.putSync('revision', revision);
    this.#changelog.putSync(revision, events);
    // Revisions are dense, so dropping exactly one old entry per write keeps the log bounded.
    const drop = revision - this.#historyRevisions;
    if (drop >= 2) this.#changelog.removeSync(drop);
  }

  async watch(prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch> {
    this.#checkOpen();
    const current = this.#currentRevision();
    const from = options.fromRevision;
    if (from !== undefined && from <= current) {
      const oldest = Math.max(2, current - this.#historyRevisions + 1);
      if (from < oldest) {
        return this.#watches.failed(prefix, handler, new KafscaleError('KSC_META_COMPACTED', `metadata history before revision ${oldest} is compacted (asked for ${from}); re-read the state and watch from its revision`));
      }
    }
    // Replay and registration happen in the same synchronous turn: no write can slip between them.
    const history = from !== undefined && from <= current
      ? Array.from(this.#changelog.getRange({ start: from, end: current + 1 }), ({ key, value }) => ({ revision: key, events: value }))
      : [];
    // Committed revisions up to `current` are replayed (or precede the watch); their fan-out may still
    // be pending behind an async commit's promise and must not reach this watch a second time.
    return this.#watches.add(prefix, handler, Math.max(current, (from ?? 0) - 1), history);
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    this.#checkOpen();
    if (!(ttlMs >= 1)) throw new KafscaleError('KSC_INTERNAL', `lease TTL must be at least 1 ms, got ${ttlMs}`);
    const id = this.#root.transactionSync(() => {
      const next = (this.#state.get('nextLease') ?? 0) + 1;
      this.#state.putSync('nextLease', next);
      const leaseId = String(next);
      this.#leases.putSync(leaseId, { ttlMs });
      return leaseId;
    });
    const lease = new EmbeddedLease(id, ttlMs, this);
    this.#liveLeases.set(id, lease);
    lease.start();
    return lease;
  }

  /** @internal Deletes a lease and its keys in one transaction (one revision) and notifies watchers. */
  endLease(id: string): void {
    this.#liveLeases.delete(id);
    if (this.#closed) return;
    const events: StoredEvent[] = [];
    const revision = this.#root.transactionSync(() => {
      const next = this.#currentRevision() + 1;
      const prefix = Buffer.from(`${id}\0`);
      const keys: string[] = [];
      for (const indexKey of this.#leaseKeys.getKeys({ start: prefix, end: prefixEnd(prefix) })) {
        keys.push(indexKey.subarray(prefix.length).toString('utf8'));
      }
      for (const key of keys) this.#deleteKey(key, next, events);
      this.#leases.removeSync(id);
      if (events.length > 0) this.#commitRevision(next, events);
      return next;
    });
    this.#watches.fanOut(revision, events);
    if (events.length > 0) this.log?.info({ lease: id, keys: events.length }, 'metadata lease ended; its keys were deleted');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new KafscaleError('KSC_META_CLOSED', `embedded metadata store in ${this.dir} was closed`);
    this.#watches.failAll(error);
    // Leases are left in the database: the next open expires them one TTL later.
    for (const lease of this.#liveLeases.values()) lease.abandon();
    this.#liveLeases.clear();
    for (const timer of this.#orphanTimers) clearTimeout(timer);
    this.#orphanTimers.clear();
    await this.#root.close();
    this.#lock.release();
  }
}
