/**
 * The committed state of one partition as this broker knows it: log entries (sorted, contiguous), log
 * start offset, leader-epoch history and owner. Filled by LogCatalog from a range read and kept current by
 * watch events and by the owner's own commits; per-key mod revisions make those two paths idempotent.
 * Also the notification point for long polls: waiters wake when the high watermark moves.
 */
import type { KeyValue } from '../../storage/meta/metadata-store.ts';
import { LogKeys } from '../cluster/meta-keys.ts';
import { decodeJson, decodeLogEntry, type EpochStart, type LogEntry, type OwnerRecord } from './log-entry.ts';

interface Waiter {
  readonly offset: number;
  readonly resolve: (woken: boolean) => void;
}

export class PartitionState {
  readonly topicId: string;
  readonly partition: number;
  entries: LogEntry[] = [];
  logStartOffset = 0;
  epochs: EpochStart[] = [];
  owner: OwnerRecord | null = null;
  ownerModRevision = 0;
  /** Highest revision applied per key (deletions included), so a stale event never undoes a newer one. */
  readonly #keyRevision = new Map<string, number>();
  #revision = 0;
  #loadedRevision = 0;
  readonly #waiters = new Set<Waiter>();

  constructor(topicId: string, partition: number) {
    this.topicId = topicId;
    this.partition = partition;
  }

  /** Next offset after the last committed batch: nothing at or above it is readable. */
  get highWatermark(): number {
    const last = this.entries.at(-1);
    return last === undefined ? this.logStartOffset : Math.max(last.lastOffset + 1, this.logStartOffset);
  }

  /** Highest store revision applied here (range reads, watch events, the owner's own writes). */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Merges the result of a range read of the partition prefix taken at `revision`. Never moves a key to
   * an older revision than it has applied: a key the read shows at an older mod revision than a put or
   * delete already applied here is kept as it is, and a key missing from the read is dropped only if
   * what is known of it is older than the read (it was deleted meanwhile). So a slow read answered after
   * a newer commit (the owner's own, or a watch event) cannot take that commit back — the high
   * watermark never goes backwards (issue 10, item 6).
   */
  merge(kvs: readonly KeyValue[], prefixLength: number, revision: number): void {
    const present = new Set<string>();
    for (const kv of kvs) {
      const suffix = kv.key.slice(prefixLength);
      present.add(suffix);
      this.apply(suffix, kv, kv.modRevision);
    }
    for (const [suffix, known] of [...this.#keyRevision]) {
      if (!present.has(suffix) && known < revision) this.apply(suffix, null, revision);
    }
    if (revision > this.#revision) this.#revision = revision;
    this.#loadedRevision = Math.max(this.#loadedRevision, revision);
    this.notify();
  }

  /** Revision of the newest range read merged here (0: never loaded). */
  get loadedRevision(): number {
    return this.#loadedRevision;
  }

  /** Applies one put (kv) or delete (null) of the key `suffix`; returns whether anything changed. */
  apply(suffix: string, kv: KeyValue | null, revision: number): boolean {
    if (!this.#advance(suffix, revision)) return false;
    const baseOffset = LogKeys.parseSuffix(suffix);
    if (baseOffset !== null) {
      this.#setEntry(baseOffset, kv === null ? null : decodeLogEntry(kv.value));
    } else if (suffix === 'start') {
      this.logStartOffset = kv === null ? 0 : decodeJson<{ logStartOffset: number }>(kv.value).logStartOffset;
    } else if (suffix === 'epochs') {
      this.epochs = kv === null ? [] : decodeJson<EpochStart[]>(kv.value);
    } else if (suffix === 'owner') {
      this.owner = kv === null ? null : decodeJson<OwnerRecord>(kv.value);
      this.ownerModRevision = kv === null ? 0 : kv.modRevision;
    }
    return true;
  }

  /**
   * Applies this broker's own put (entry) or delete (null) of the log entry at `baseOffset`, committed
   * at `revision` — the entry object itself, never re-decoded; returns whether anything changed.
   */
  applyEntry(baseOffset: number, entry: LogEntry | null, revision: number): boolean {
    if (!this.#advance(LogKeys.suffix(baseOffset), revision)) return false;
    this.#setEntry(baseOffset, entry);
    return true;
  }

  /** Applies this broker's own write of the log start offset, committed at `revision`. */
  applyLogStart(logStartOffset: number, revision: number): boolean {
    if (!this.#advance('start', revision)) return false;
    this.logStartOffset = logStartOffset;
    return true;
  }

  /**
   * Mod revision of the entry key at `baseOffset` as applied here (0 = unknown): the merger guards its
   * swap with it, so an entry changed or dropped meanwhile (retention) makes the swap fail, not undo it.
   */
  entryRevision(baseOffset: number): number {
    return this.#keyRevision.get(LogKeys.suffix(baseOffset)) ?? 0;
  }

  /**
   * Null when the entries are sorted, each non-empty, and contiguous without overlap (each entry starts
   * right after the previous one ends); else what is wrong. On the owner this holds after every commit,
   * merge swap and trim; a non-owner may see a merge's put before its deletes (identical bytes overlap).
   */
  checkEntries(): string | null {
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i] as LogEntry;
      if (entry.lastOffset < entry.baseOffset) return `entry ${entry.baseOffset}..${entry.lastOffset} is empty`;
      const previous = this.entries[i - 1];
      if (previous !== undefined && entry.baseOffset !== previous.lastOffset + 1) {
        return `entry ${entry.baseOffset}..${entry.lastOffset} follows ${previous.baseOffset}..${previous.lastOffset} (${entry.baseOffset <= previous.lastOffset ? 'overlap' : 'gap'})`;
      }
    }
    return null;
  }

  /** Index of the entry holding `offset`, or -1. */
  entryIndexOf(offset: number): number {
    const entries = this.entries;
    let lo = 0;
    let hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const entry = entries[mid] as LogEntry;
      if (offset < entry.baseOffset) hi = mid - 1;
      else if (offset > entry.lastOffset) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /**
   * Resolves true once the high watermark passes `offset` (or the offset falls below the log start),
   * false when `signal` aborts or the state is dropped. Woken by commits and watch events, never by timers.
   */
  waitForData(offset: number, signal?: AbortSignal): Promise<boolean> {
    if (this.highWatermark > offset || offset < this.logStartOffset) return Promise.resolve(true);
    if (signal?.aborted === true) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        resolve(false);
      };
      const waiter: Waiter = {
        offset,
        resolve: (woken) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(woken);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  notify(): void {
    if (this.#waiters.size === 0) return;
    const hwm = this.highWatermark;
    for (const waiter of this.#waiters) {
      if (hwm > waiter.offset || waiter.offset < this.logStartOffset) {
        this.#waiters.delete(waiter);
        waiter.resolve(true);
      }
    }
  }

  /** Wakes every waiter (state dropped or re-read): they re-check against the truth. */
  wakeAll(): void {
    for (const waiter of this.#waiters) waiter.resolve(true);
    this.#waiters.clear();
  }

  /** Records that `suffix` changed at `revision`; false when what is applied here is as new or newer. */
  #advance(suffix: string, revision: number): boolean {
    const known = this.#keyRevision.get(suffix) ?? 0;
    if (revision <= known) return false;
    this.#keyRevision.set(suffix, revision);
    if (revision > this.#revision) this.#revision = revision;
    return true;
  }

  #setEntry(baseOffset: number, entry: LogEntry | null): void {
    if (entry === null) this.#removeEntry(baseOffset);
    else this.#upsertEntry(entry);
  }

  #find(baseOffset: number): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as LogEntry).baseOffset < baseOffset) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: lo < this.entries.length && (this.entries[lo] as LogEntry).baseOffset === baseOffset };
  }

  #upsertEntry(entry: LogEntry): void {
    const { index, found } = this.#find(entry.baseOffset);
    // The common case — a new entry at the end — is a push.
    if (!found && index === this.entries.length) this.entries.push(entry);
    else this.entries.splice(index, found ? 1 : 0, entry);
  }

  #removeEntry(baseOffset: number): void {
    const { index, found } = this.#find(baseOffset);
    if (found) this.entries.splice(index, 1);
  }
}
