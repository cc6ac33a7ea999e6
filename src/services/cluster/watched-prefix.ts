import type { Logger } from 'pino';
import type { KeyValue, MetadataStore, Watch, WatchEvent } from '../../storage/meta/metadata-store.ts';
import { WatchRecovery } from './watch-recovery.ts';

export interface PrefixChange {
  readonly key: string;
  /** The new value, or null when the key was deleted. */
  readonly kv: KeyValue | null;
}

/**
 * An in-memory mirror of every key under one prefix of the metadata store, kept current by a watch —
 * never by polling. When the watch dies (history compacted, store reconnected) the mirror re-reads the
 * prefix and watches again, reporting the differences as changes, so listeners never miss a transition.
 *
 * Local writers call `applyLocal` after a successful transaction so that a broker reads its own writes
 * at once, before its watch delivers the same event; revisions make the two paths idempotent.
 */
export class WatchedPrefix {
  readonly prefix: string;
  readonly #store: MetadataStore;
  readonly #onChange: (changes: readonly PrefixChange[]) => void;
  readonly #entries = new Map<string, KeyValue>();
  /** Highest revision seen per key, deletions included, so stale events are ignored. */
  readonly #keyRevision = new Map<string, number>();
  readonly #recovery: WatchRecovery;
  #watch: Watch | null = null;
  #closed = false;
  #revision = 0;

  private constructor(store: MetadataStore, prefix: string, log: Logger, onChange: (changes: readonly PrefixChange[]) => void) {
    this.#store = store;
    this.prefix = prefix;
    this.#onChange = onChange;
    this.#recovery = new WatchRecovery({
      log,
      resync: () => this.#sync(),
      lostMessage: 'metadata watch lost; re-reading the prefix',
      retryMessage: 'metadata re-sync failed; retrying',
      context: { prefix },
    });
  }

  static async open(
    store: MetadataStore,
    prefix: string,
    log: Logger,
    onChange: (changes: readonly PrefixChange[]) => void = () => {},
  ): Promise<WatchedPrefix> {
    const mirror = new WatchedPrefix(store, prefix, log, onChange);
    await mirror.#sync();
    return mirror;
  }

  get(key: string): KeyValue | undefined {
    return this.#entries.get(key);
  }

  values(): IterableIterator<KeyValue> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Store revision up to which this mirror is known to be current. */
  get revision(): number {
    return this.#revision;
  }

  /** Records the outcome of this broker's own transaction (revision = the transaction's revision). */
  applyLocal(key: string, kv: KeyValue | null, revision: number): void {
    this.#apply([{ key, kv }], revision);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#recovery.close();
    const watch = this.#watch;
    this.#watch = null;
    await watch?.close();
  }

  async #sync(): Promise<void> {
    const { kvs, revision } = await this.#store.range(this.prefix);
    const seen = new Set<string>();
    const changes: PrefixChange[] = [];
    for (const kv of kvs) {
      seen.add(kv.key);
      const known = this.#entries.get(kv.key);
      if (known === undefined || known.modRevision !== kv.modRevision) changes.push({ key: kv.key, kv });
    }
    for (const key of this.#entries.keys()) if (!seen.has(key)) changes.push({ key, kv: null });
    this.#apply(changes, revision, true);
    if (this.#closed) return;
    this.#watch = await this.#store.watch(this.prefix, { fromRevision: revision + 1 }, {
      onEvents: (events) => this.#onEvents(events),
      onError: (error) => this.#onWatchError(error),
    });
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const changes: PrefixChange[] = [];
    let revision = this.#revision;
    for (const event of events) {
      changes.push({ key: event.key, kv: event.type === 'put' ? event.kv : null });
      if (event.revision > revision) revision = event.revision;
    }
    this.#apply(changes, revision);
  }

  #apply(changes: readonly PrefixChange[], revision: number, authoritative = false): void {
    const applied: PrefixChange[] = [];
    for (const change of changes) {
      const changeRevision = change.kv?.modRevision ?? revision;
      const known = this.#keyRevision.get(change.key) ?? 0;
      // A full re-read is the truth at its revision; a single event must be newer than what we hold.
      if (!authoritative && changeRevision <= known) continue;
      if (authoritative && changeRevision < known) continue;
      this.#keyRevision.set(change.key, changeRevision);
      if (change.kv === null) {
        if (!this.#entries.delete(change.key)) continue;
      } else {
        this.#entries.set(change.key, change.kv);
      }
      applied.push(change);
    }
    if (revision > this.#revision) this.#revision = revision;
    if (applied.length > 0) this.#onChange(applied);
  }

  #onWatchError(error: Error): void {
    if (this.#recovery.lost(error)) this.#watch = null;
  }
}
