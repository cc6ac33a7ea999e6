/**
 * Background merging of a partition's WAL ranges into per-partition segments (docs/design/storage.md,
 * "Merging"), on the partitions this broker owns.
 *
 * One merge: pick a contiguous run of entries (plan), GET their byte ranges, write ONE segment + index
 * (segment-format.ts) under a key never used before, then swap the entries in txns of ≤ SWAP_CHUNK
 * entries. Each txn replaces a contiguous range of entries by one entry (keyed by the range's base
 * offset) pointing at the range's bytes inside the segment, and compares the owner key (fencing) and the
 * mod revision of every entry it replaces (so an entry retention dropped meanwhile fails the swap instead
 * of coming back). The put comes before the deletes in each txn, so a reader applying its events one by one
 * sees overlapping entries with identical bytes — never a gap. Swaps run exclusively with trims
 * (LogTrimmer.exclusive). Replaced objects are not deleted here: the ObjectCollector deletes what no
 * entry references any more; a segment written by a merge that crashed before its swap is such an orphan.
 *
 * Bounded state under continuous load: WAL entries are merged once more than `maxWalEntries` exist (or the
 * oldest is `maxWalAgeMs` old), and earlier segments are re-merged size-tiered — a segment joins the merge
 * while it is at most twice the bytes collected so far and the result stays within the segment size — so
 * a partition holds O(log(segment size / merge size)) small segments plus full ones, and every byte is
 * rewritten O(log) times.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { splitBatches, lastOffset as batchLastOffset } from '../../protocol/records/index.ts';
import type { MetadataStore, TxnOp, Compare, KeyValue } from '../../storage/meta/metadata-store.ts';
import { packTxns } from '../../storage/meta/txn-packer.ts';
import type { ObjectStore } from '../../storage/object/object-store.ts';
import { topicConfigNumber } from '../cluster/topic-configs.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { liveProducerRows, PRODUCER_ID_EXPIRATION_MS_DEFAULT, type ProducerBatch } from '../producers/producer-state.ts';
import type { IoPriority } from './io-priority.ts';
import { MergeArena, type ArenaLease } from './merge-arena.ts';
import { encodeLogEntry, type LogEntry } from './log-entry.ts';
import type { PartitionLog } from './partition-log.ts';
import { SegmentEncoder, INDEX_INTERVAL_DEFAULT_BYTES, SEGMENT_FOOTER_BYTES, decodeSegmentIndex, segmentIndexKey, segmentKey, type EncodedSegment, type IndexEntry } from './segment-format.ts';

export interface MergePolicy {
  /** Merge when a partition has more WAL entries than this. */
  readonly maxWalEntries: number;
  /** … or when its oldest WAL entry was written this long ago. */
  readonly maxWalAgeMs: number;
  /** Segment size: min(topic segment.bytes, this). Bounds the memory and work of one merge. */
  readonly maxSegmentBytes: number;
  /** At most this many entries go into one merge (bounded work per pass). */
  readonly maxEntriesPerMerge: number;
}

export const MERGE_DEFAULTS = {
  maxWalEntries: 16,
  maxWalAgeMs: 60_000,
  maxSegmentBytes: 64 * 1024 * 1024,
  maxEntriesPerMerge: 1_000,
  intervalMs: 5_000,
} as const satisfies MergePolicy & { intervalMs: number };

/**
 * A merge's CPU work on the event loop (reading its inputs from the tail, the segment's CRC and index)
 * gives the loop back after this many bytes or entries, so a produce or fetch waits behind at most one
 * slice of a merge, not a whole segment (measured: one 1,000-entry, 5 MB merge held the loop ~8–10 ms).
 */
const MERGE_SLICE_BYTES = 512 * 1024;
const MERGE_SLICE_ENTRIES = 128;

/** GETs one merge keeps in flight (the rest of its inputs come from the owner's tail). */
const MERGE_READ_CONCURRENCY = 4;

/**
 * Merges of one partition in one pass at most. A partition that takes flushes faster than one merge per
 * pass absorbs (maxEntriesPerMerge entries or a segment's bytes) is merged again at once while its WAL is
 * over the threshold, so its entry count stays bounded under sustained load; the cap keeps one hot
 * partition from holding the pass for the others indefinitely.
 */
export const MAX_MERGES_PER_PARTITION_PER_PASS = 32;

/** Entries replaced per txn at most (packSwaps also keeps each txn within the store's limits). */
export const SWAP_CHUNK = 32;

/**
 * The read path's range cache, as a merge uses it (LogReader): inputs a reader has cached are taken
 * from there instead of GET again, and the merged entries that replaced them are cached in their turn,
 * so data consumers are reading stays in memory across the merge (docs/design/storage.md, "Merging").
 */
export interface MergeCache {
  cachedEntry(entry: LogEntry): Buffer | undefined;
  keepMerged(entry: LogEntry, index: readonly IndexEntry[], hot: readonly { start: number; end: number }[], bytesOf: (start: number, end: number) => Buffer | null, replaced: readonly LogEntry[]): Promise<void>;
}

export interface SegmentMergerOptions {
  readonly logs: {
    ownedLogs(): PartitionLog[];
    exclusive<T>(log: PartitionLog, task: () => Promise<T>): Promise<T>;
  };
  readonly store: MetadataStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  readonly namespace: string;
  /** The topic's config overrides, or undefined for a topic that no longer exists (skipped). */
  readonly topicConfigs: (topicId: string) => Readonly<Record<string, string>> | undefined;
  readonly policy?: Partial<MergePolicy>;
  /** Bytes of batches per index entry (= per read block). */
  readonly indexIntervalBytes?: number;
  readonly intervalMs?: number;
  readonly now?: () => number;
  /** producer.id.expiration.ms: producer rows idle this long are not carried into a merged entry. */
  readonly producerIdExpirationMs?: number;
  /** WAL flushes go first: the merger yields to them before each object-store step (io-priority.ts). */
  readonly io?: IoPriority;
  /** Hot inputs are read from and their merged entries kept in the read path's cache. */
  readonly cache?: MergeCache;
}

export interface MergeResult {
  /** 'none': nothing to merge; 'merged': every chunk swapped; 'partial': some swapped; 'conflict': none. */
  readonly outcome: 'none' | 'merged' | 'partial' | 'conflict' | 'fenced';
  readonly replacedEntries: number;
  readonly segmentKey?: string;
}

/** The WAL object key starts with its creation time (storage.md, "Object key"); null if it does not. */
export function walCreatedMs(objectKey: string): number | null {
  const m = /\/wal\/(\d{13})-/.exec(objectKey);
  return m === null ? null : Number(m[1]);
}

function entryBytes(e: LogEntry): number {
  return e.byteEnd - e.byteStart;
}

/**
 * The run of entries to merge now, as [from, to) indexes into `entries`, or null. Pure (tested alone).
 * WAL entries are the ones after the last segment entry; segments before them are taken back to front as
 * whole groups (consecutive entries of one segment object) under the size-tiered rule.
 */
export function planMerge(entries: readonly LogEntry[], logStartOffset: number, nowMs: number, policy: MergePolicy, segmentBytes: number): { from: number; to: number } | null {
  let walStart = entries.length;
  while (walStart > 0 && entries[walStart - 1]!.indexKey === undefined) walStart--;
  const walCount = entries.length - walStart;
  if (walCount === 0) return null;
  const oldestMs = walCreatedMs(entries[walStart]!.objectKey);
  const old = oldestMs !== null && nowMs - oldestMs >= policy.maxWalAgeMs;
  if (walCount <= policy.maxWalEntries && !old) return null;
  let to = walStart;
  let bytes = 0;
  while (to < entries.length && to - walStart < policy.maxEntriesPerMerge) {
    const size = entryBytes(entries[to]!);
    if (to > walStart && bytes + size > segmentBytes) break;
    bytes += size;
    to++;
  }
  let from = walStart;
  while (from > 0) {
    const last = entries[from - 1]!;
    if (last.lastOffset < logStartOffset) break; // retention drops it anyway
    let groupStart = from - 1;
    while (groupStart > 0 && entries[groupStart - 1]!.objectKey === last.objectKey) groupStart--;
    let groupBytes = 0;
    for (let i = groupStart; i < from; i++) groupBytes += entryBytes(entries[i]!);
    if (groupBytes > 2 * bytes || bytes + groupBytes > segmentBytes || to - groupStart > policy.maxEntriesPerMerge) break;
    bytes += groupBytes;
    from = groupStart;
  }
  for (let i = from + 1; i < to; i++) if (entries[i]!.baseOffset !== entries[i - 1]!.lastOffset + 1) return null;
  return { from, to };
}

export class SegmentMerger {
  readonly #o: SegmentMergerOptions;
  readonly #policy: MergePolicy;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #closed = false;
  /** What merges read their GET inputs into, so that they allocate nothing (merge-arena.ts). */
  readonly #arena: MergeArena;
  /** Segments written and entries replaced since start (tests, logs). */
  segmentsWritten = 0;
  entriesReplaced = 0;

  constructor(options: SegmentMergerOptions) {
    this.#o = options;
    this.#policy = { ...MERGE_DEFAULTS, ...options.policy };
    this.#now = options.now ?? Date.now;
    this.#arena = new MergeArena(this.#policy.maxSegmentBytes);
  }

  /** Bytes the merge arena holds (tests, metrics). */
  get arenaBytes(): number {
    return this.#arena.capacityBytes;
  }

  start(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#arena.reserve(this.#now());
    this.#timer = setInterval(() => {
      if (this.#running !== null) return;
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
      });
    }, this.#o.intervalMs ?? MERGE_DEFAULTS.intervalMs);
    this.#timer.unref();
  }

  /**
   * One pass over the owned partitions, each merged until its policy is satisfied (at most
   * MAX_MERGES_PER_PARTITION_PER_PASS times); returns the merges done. Failures are logged, not thrown.
   */
  async runOnce(): Promise<number> {
    let merged = 0;
    for (const log of this.#o.logs.ownedLogs()) {
      if (this.#closed) break;
      try {
        for (let round = 0; round < MAX_MERGES_PER_PARTITION_PER_PASS && !this.#closed; round++) {
          const result = await this.mergeOnce(log);
          if (result.outcome !== 'merged' && result.outcome !== 'partial') break;
          merged++;
          if (result.outcome === 'partial') break;
        }
      } catch (error) {
        this.#o.log.warn({ err: error, topicId: log.topicId, partition: log.partition }, 'merge failed; retrying on the next pass');
      }
    }
    this.#arena.trim(this.#now());
    return merged;
  }

  /** Merges one owned partition if its policy asks for it. Throws on object/metadata store faults. */
  async mergeOnce(log: PartitionLog): Promise<MergeResult> {
    const none: MergeResult = { outcome: 'none', replacedEntries: 0 };
    if (log.status !== 'active' || this.#closed) return none;
    const configs = this.#o.topicConfigs(log.topicId);
    if (configs === undefined) return none;
    const segmentBytes = Math.min(topicConfigNumber(configs, 'segment.bytes'), this.#policy.maxSegmentBytes);
    const state = log.state;
    const snapshot = state.entries.slice();
    const plan = planMerge(snapshot, state.logStartOffset, this.#now(), this.#policy, segmentBytes);
    if (plan === null) return none;
    const inputs = snapshot.slice(plan.from, plan.to);
    const revisions = inputs.map((e) => state.entryRevision(e.baseOffset));
    if (revisions.includes(0)) return none;

    const read = await this.#readInputs(log, inputs);
    if (read.batches === null) return none;
    try {
      return await this.#mergeInputs(log, inputs, revisions, read.batches, read.firstBatchOf, read.cached);
    } finally {
      // The inputs may be views of the merge arena: no view of them outlives the merge (the cache keeps copies).
      read.lease?.release();
    }
  }

  /** Writes the segment of a merge whose inputs are read, and swaps its entries in. */
  async #mergeInputs(log: PartitionLog, inputs: readonly LogEntry[], revisions: readonly number[], batches: readonly Buffer[], firstBatchOf: readonly number[], cached: readonly boolean[]): Promise<MergeResult> {
    const { segment, key } = await this.#writeSegment(log, batches);
    const indexKey = segmentIndexKey(key);

    const nowMs = this.#now();
    const byteOf = (batchIndex: number): number => segment.positions[batchIndex] ?? segment.sizeBytes - SEGMENT_FOOTER_BYTES;
    /** Swapped entries that replaced cached inputs: kept in the cache once the swaps are done. */
    const keep: { entry: LogEntry; hot: { start: number; end: number }[]; replaced: LogEntry[] }[] = [];
    const swapped = await this.#o.logs.exclusive(log, async () => {
      let done = 0;
      for (const chunk of packSwaps(log, inputs)) {
        if (log.status !== 'active') return { done, fenced: true };
        const i = done;
        const chunkRevisions = revisions.slice(i, i + chunk.length);
        const first = chunk[0]!;
        const last = chunk.at(-1)!;
        const producers: ProducerBatch[] = [];
        for (const e of chunk) if (e.producers !== undefined) producers.push(...e.producers);
        const entry: LogEntry = {
          baseOffset: first.baseOffset,
          lastOffset: last.lastOffset,
          objectKey: key,
          byteStart: byteOf(firstBatchOf[i]!),
          byteEnd: byteOf(firstBatchOf[i + chunk.length] ?? batches.length),
          maxTimestamp: Math.max(...chunk.map((e) => e.maxTimestamp)),
          batchCount: chunk.reduce((n, e) => n + e.batchCount, 0),
          epoch: log.epoch,
          ...(producers.length > 0 ? { producers: liveProducerRows(producers, nowMs, this.#o.producerIdExpirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT) } : {}),
          indexKey,
        };
        await this.#o.io?.yieldToForeground();
        const ok = await this.#swap(log, chunk, chunkRevisions, entry);
        if (ok === 'fenced') return { done, fenced: true };
        if (ok === 'conflict') return { done, fenced: false };
        const hot: { start: number; end: number }[] = [];
        const replaced: LogEntry[] = [];
        for (let k = i; k < i + chunk.length; k++) {
          if (cached[k] !== true) continue;
          hot.push({ start: byteOf(firstBatchOf[k]!), end: byteOf(firstBatchOf[k + 1] ?? batches.length) });
          replaced.push(inputs[k]!);
        }
        if (hot.length > 0) keep.push({ entry, hot, replaced });
        done += chunk.length;
      }
      return { done, fenced: false };
    });
    this.entriesReplaced += swapped.done;
    if (keep.length > 0) await this.#keepHot(segment, batches, keep);
    const outcome = swapped.fenced ? 'fenced' : swapped.done === inputs.length ? 'merged' : swapped.done > 0 ? 'partial' : 'conflict';
    this.#o.log.info({ topicId: log.topicId, partition: log.partition, segment: key, replaced: swapped.done, of: inputs.length, bytes: segment.sizeBytes, outcome, fromCache: cached.filter(Boolean).length }, 'merged log entries into a segment');
    return { outcome, replacedEntries: swapped.done, segmentKey: key };
  }

  /** Encodes `batches` as one segment and PUTs it and its index under a new key (both orphans until the swap). */
  async #writeSegment(log: PartitionLog, batches: readonly Buffer[]): Promise<{ segment: EncodedSegment; key: string }> {
    const encoder = new SegmentEncoder(this.#now(), this.#o.indexIntervalBytes ?? INDEX_INTERVAL_DEFAULT_BYTES);
    let sliceBytes = 0;
    for (const batch of batches) {
      encoder.add(batch);
      sliceBytes += batch.length;
      if (sliceBytes < MERGE_SLICE_BYTES) continue;
      sliceBytes = 0;
      await nextTurn();
    }
    const segment = encoder.finish();
    const key = segmentKey(this.#o.namespace, log.topicId, log.partition, segment.baseOffset, log.epoch);
    // Both objects exist before any entry names them; until the swap they are orphans the collector
    // leaves alone for orphanGraceMs.
    const io = this.#o.io;
    const yieldToFlushes = io === undefined ? undefined : (): Promise<void> => io.yieldToForeground();
    const putOptions = { background: true, ...(yieldToFlushes === undefined ? {} : { beforeStep: yieldToFlushes }) } as const;
    await yieldToFlushes?.();
    await this.#o.objects.put(segmentIndexKey(key), segment.index, putOptions);
    await yieldToFlushes?.();
    await this.#o.objects.put(key, segment.chunks, putOptions);
    this.segmentsWritten++;
    return { segment, key };
  }

  /** Caches the merged entries that replaced cached inputs (MergeCache); a failure only costs later GETs. */
  async #keepHot(segment: EncodedSegment, batches: readonly Buffer[], keep: readonly { entry: LogEntry; hot: { start: number; end: number }[]; replaced: LogEntry[] }[]): Promise<void> {
    const cache = this.#o.cache;
    if (cache === undefined) return;
    const footer = segment.sizeBytes - SEGMENT_FOOTER_BYTES;
    /** The batch starting at `position` (batches.length at the footer), or -1. */
    const batchAt = (position: number): number => {
      if (position === footer) return batches.length;
      let lo = 0;
      let hi = segment.positions.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const p = segment.positions[mid]!;
        if (p === position) return mid;
        if (p < position) lo = mid + 1;
        else hi = mid - 1;
      }
      return -1;
    };
    const bytesOf = (start: number, end: number): Buffer | null => {
      const from = batchAt(start);
      const to = batchAt(end);
      if (from === -1 || to === -1 || to <= from) return null;
      const parts = batches.slice(from, to);
      let length = 0;
      for (const part of parts) length += part.length;
      // Never cache bytes that are not exactly the segment's (concat would pad or cut to the length).
      return length === end - start ? Buffer.concat(parts, length) : null;
    };
    try {
      const index = decodeSegmentIndex(segment.index).entries;
      for (const { entry, hot, replaced } of keep) await cache.keepMerged(entry, index, hot, bytesOf, replaced);
    } catch (error) {
      this.#o.log.warn({ err: error, segment: keep[0]?.entry.objectKey }, 'could not cache a merged segment; its readers GET it');
    }
  }

  /**
   * The input entries' batches in order, and per input entry the index of its first batch; null if
   * inconsistent; `cached[i]`: input i came from the read path's cache (MergeCache). Recent entries come
   * from the owner's in-memory tail, cached ones from the cache, the rest are read with a few GETs at a
   * time — a merge is background work and must not queue the foreground flush PUTs behind hundreds of
   * its own GETs (measured: unbounded GETs pushed the produce p95 on S3 from 26 ms to 730 ms). The GETs
   * read into the merge arena (merge-arena.ts) when it has room: the lease comes back with the batches
   * and must be released once nothing uses them.
   */
  async #readInputs(log: PartitionLog, inputs: readonly LogEntry[]): Promise<{ batches: Buffer[] | null; firstBatchOf: number[]; cached: boolean[]; lease: ArenaLease | null }> {
    const parts: Buffer[][] = [];
    const cached: boolean[] = [];
    /** Indexes of the inputs read with a GET. */
    const missing: number[] = [];
    for (let i = 0; i < inputs.length; i++) {
      if (i > 0 && i % MERGE_SLICE_ENTRIES === 0) await nextTurn();
      const e = inputs[i]!;
      const fromTail: Buffer[] = [];
      const got = log.tail.read(e.baseOffset, e.lastOffset + 1, Number.MAX_SAFE_INTEGER, fromTail);
      if (got !== null && got.nextOffset === e.lastOffset + 1) {
        parts.push(fromTail);
        continue;
      }
      const data = this.#o.cache?.cachedEntry(e);
      if (data === undefined) {
        parts.push([]);
        missing.push(i);
        continue;
      }
      cached[i] = true;
      const split = splitBatches(data);
      parts.push(split.trailing === null ? split.batches : []);
    }
    const lease = missing.length === 0 ? null : this.#arena.lease(missing.map((i) => entryBytes(inputs[i]!)), this.#now());
    let next = 0;
    const failures: unknown[] = [];
    const fetchMissing = async (): Promise<void> => {
      while (next < missing.length) {
        const slot = next++;
        const i = missing[slot]!;
        const e = inputs[i]!;
        try {
          await this.#o.io?.yieldToForeground();
          const target = lease?.slots[slot];
          const range = { start: e.byteStart, end: e.byteEnd };
          let data = await this.#o.objects.get(e.objectKey, target === undefined ? { range } : { range, into: target });
          if (target !== undefined && data !== target && data.length === target.length) {
            // An adapter that cannot read into the arena: copied, so its Buffer dies young.
            data.copy(target);
            data = target;
          }
          const split = splitBatches(data);
          parts[i] = split.trailing === null ? split.batches : [];
        } catch (error) {
          failures.push(error);
          next = missing.length; // the other readers stop too
        }
      }
    };
    // Every GET has settled before the lease can end: one still reading into the arena would write into
    // the next merge's inputs.
    await Promise.all(Array.from({ length: Math.min(MERGE_READ_CONCURRENCY, missing.length) }, fetchMissing));
    if (failures.length > 0) {
      lease?.release();
      throw failures[0];
    }
    const batches: Buffer[] = [];
    const firstBatchOf: number[] = [];
    for (let i = 0; i < inputs.length; i++) {
      if (i > 0 && i % MERGE_SLICE_ENTRIES === 0) await nextTurn();
      const e = inputs[i]!;
      const entryBatches = parts[i]!;
      const first = entryBatches[0];
      const last = entryBatches.at(-1);
      if (first === undefined || last === undefined
        || Number(first.readBigInt64BE(0)) !== e.baseOffset || Number(batchLastOffset(last)) !== e.lastOffset || !contiguous(entryBatches)) {
        // Never write a segment that disagrees with its entries: the log stays as it is.
        this.#o.log.error({ objectKey: e.objectKey, baseOffset: e.baseOffset, lastOffset: e.lastOffset }, 'log entry bytes do not match the entry; not merging this partition');
        lease?.release();
        return { batches: null, firstBatchOf, cached, lease: null };
      }
      firstBatchOf.push(batches.length);
      batches.push(...entryBatches);
    }
    return { batches, firstBatchOf, cached, lease };
  }

  /** One guarded txn replacing `chunk` by `entry`; applies it to the owner's state on success. */
  async #swap(log: PartitionLog, chunk: readonly LogEntry[], revisions: readonly number[], entry: LogEntry): Promise<'ok' | 'conflict' | 'fenced'> {
    const { claim, state } = log;
    const compare: Compare[] = [ownerGuard(log)];
    const success: TxnOp[] = [];
    success.push({ type: 'put', key: MetaKeys.partitionLogEntry(claim.topicId, claim.partition, entry.baseOffset), value: encodeLogEntry(entry) });
    for (let i = 0; i < chunk.length; i++) {
      const key = MetaKeys.partitionLogEntry(claim.topicId, claim.partition, chunk[i]!.baseOffset);
      compare.push({ key, target: 'modRevision', op: '==', value: revisions[i]! });
      if (i > 0) success.push({ type: 'delete', key });
    }
    const result = await this.#o.store.txn({ compare, success, failure: ownerRead(log) });
    if (!result.succeeded) {
      const owner = result.results[0] as KeyValue | null | undefined;
      if (owner === null || owner === undefined || owner.modRevision !== claim.ownerModRevision) {
        log.fence('owner key changed while merging log entries');
        return 'fenced';
      }
      return 'conflict';
    }
    const rev = result.revision;
    // Read-your-writes, in the txn's order (put first); the watch's copies are ignored by revision.
    state.applyEntry(entry.baseOffset, entry, rev);
    for (let i = 1; i < chunk.length; i++) state.applyEntry(chunk[i]!.baseOffset, null, rev);
    state.notify();
    return 'ok';
  }

  /** Stops the timer and waits for a pass in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

/**
 * Each batch starts right after the one before: a cheap check that an input's bytes are the entry's, in
 * the middle as well as at both ends (offsets are assigned contiguously, and an entry covers a run).
 */
function contiguous(batches: readonly Buffer[]): boolean {
  for (let k = 1; k < batches.length; k++) {
    if (batches[k]!.readBigInt64BE(0) !== batchLastOffset(batches[k - 1]!) + 1n) return false;
  }
  return true;
}

function ownerGuard(log: PartitionLog): Compare {
  return { key: log.claim.ownerKey, target: 'modRevision', op: '==', value: log.claim.ownerModRevision };
}

function ownerRead(log: PartitionLog): TxnOp[] {
  return [{ type: 'get', key: log.claim.ownerKey }];
}

/**
 * The swap txns of a merge: ≤ SWAP_CHUNK entries each, every entry a compare of its mod revision and a
 * delete (the first one's key gets the merged entry's put instead), beside the owner guard. The merged
 * entry's value is not counted: its producer rows are capped (MAX_PRODUCER_ROWS_PER_ENTRY, ≈ 350 KB).
 */
function packSwaps(log: PartitionLog, inputs: readonly LogEntry[]): LogEntry[][] {
  const { topicId, partition } = log.claim;
  return packTxns(inputs, (e) => {
    const key = MetaKeys.partitionLogEntry(topicId, partition, e.baseOffset);
    return { compare: [{ key, target: 'modRevision', op: '==', value: 0 }], success: [{ type: 'delete', key }] };
  }, { shared: { compare: [ownerGuard(log)], failure: ownerRead(log) }, maxItems: SWAP_CHUNK });
}
