/**
 * Fault injection for the partition-log write path (issue 10): an object store whose PUTs a test holds,
 * fails or releases one by one, and a metadata store whose txns (or gets / ranges) a test can make fail
 * in the ways etcd can — lost, applied-then-timed-out, held until released — at the exact step. Used by
 * the unit tests beside src/services/log and by the etcd end-to-end checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../../src/storage/meta/embedded-metadata-store.ts';
import type { KeyValue, MetadataStore, RangeResult, Txn, TxnResult, Watch, WatchEvent, WatchHandler, WatchOptions } from '../../src/storage/meta/metadata-store.ts';
import { MemoryObjectStore, type ObjectStoreOperation } from '../../src/storage/object/memory-object-store.ts';
import { KafscaleError } from '../../src/telemetry/kafscale-error.ts';
import type { PartitionLog } from '../../src/services/log/partition-log.ts';
import { waitFor } from './wait-for.ts';

export const silentLog = pino({ level: 'silent' });

/** A PUT the test decides about: `release()` lets it write, `fail()` makes it throw (503 SlowDown). */
export interface HeldPut {
  readonly key: string;
  release(): void;
  fail(message?: string): void;
}

/**
 * PUTs pass through unless `holdPuts` is on; then each one waits in `held` (in arrival order) until the
 * test releases or fails it.
 */
export class ControlledObjects {
  readonly objects: MemoryObjectStore;
  readonly puts: string[] = [];
  readonly held: HeldPut[] = [];
  holdPuts = false;
  readonly #arrivals: Array<() => void> = [];

  constructor() {
    this.objects = new MemoryObjectStore({ beforeOperation: (operation, key) => this.#before(operation, key) });
  }

  async #before(operation: ObjectStoreOperation, key: string): Promise<void> {
    if (operation !== 'put' || !key.includes('/wal/')) return;
    this.puts.push(key);
    if (!this.holdPuts) return;
    await new Promise<void>((resolve, reject) => {
      this.held.push({
        key,
        release: () => resolve(),
        fail: (message = 'injected 503 SlowDown') => reject(new KafscaleError('KSC_OBJECT_UNAVAILABLE', message, { retriable: true })),
      });
      for (const wake of this.#arrivals.splice(0)) wake();
    });
  }

  /** Resolves once `count` PUTs are held. */
  async waitForHeld(count: number, timeoutMs = 5_000): Promise<HeldPut[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.held.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} held PUTs (have ${this.held.length})`);
      await new Promise<void>((resolve) => {
        this.#arrivals.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
    return this.held.slice(0, count);
  }
}

export type TxnFault =
  /** Throws a timeout without applying. */
  | 'lost'
  /** Applies, then throws a timeout (the client never learns it applied). */
  | 'applied-then-timeout'
  /** Throws a timeout now and applies the txn later, when the test calls `applyLate()`. */
  | 'timeout-then-apply-later';

/** Decides per txn whether (and how) it fails; null = pass through. */
export type TxnFaultRule = (txn: Txn) => TxnFault | null;

/** A metadata store wrapper injecting txn and read faults at the exact step. */
export class FaultyMetadataStore {
  readonly store: MetadataStore;
  readonly txns: Txn[] = [];
  rule: TxnFaultRule = () => null;
  /** Make get/range throw a timeout while true (catalog reloads, ambiguous resolution). */
  failReads = false;
  /** Make range reads (partition loads) throw a timeout while true; gets still work. */
  failRanges = false;
  /** Txns timed out by 'timeout-then-apply-later', still waiting to apply. */
  readonly late: Array<{ txn: Txn; apply: () => Promise<TxnResult> }> = [];
  /**
   * While true, a range read runs at once (its snapshot is taken now) but its answer is held in
   * `heldRanges` until the test calls `release()`: a slow response carrying an old revision.
   */
  holdRanges = false;
  readonly heldRanges: Array<{ prefix: string; result: RangeResult; release: () => void }> = [];
  /** While true, watch events are queued instead of delivered (a lagging watch); `deliverWatchEvents()` flushes them. */
  holdWatch = false;
  readonly #heldEvents: Array<{ handler: WatchHandler; events: readonly WatchEvent[] }> = [];

  constructor(inner: MetadataStore) {
    const self = this;
    this.store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'txn') return (txn: Txn) => self.#txn(target, txn);
        if (prop === 'get') return (key: string) => self.#read(() => target.get(key));
        if (prop === 'range') return (prefix: string, options?: { limit?: number }) => self.#range(target, prefix, options);
        if (prop === 'watch') return (prefix: string, options: WatchOptions, handler: WatchHandler) => self.#watch(target, prefix, options, handler);
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  async #read<T extends KeyValue | null | RangeResult>(read: () => Promise<T>): Promise<T> {
    if (this.failReads) throw new KafscaleError('KSC_META_TIMEOUT', 'injected read timeout', { retriable: true });
    return read();
  }

  async #range(target: MetadataStore, prefix: string, options?: { limit?: number }): Promise<RangeResult> {
    if (this.failRanges) throw new KafscaleError('KSC_META_TIMEOUT', 'injected range timeout', { retriable: true });
    const result = await this.#read(() => target.range(prefix, options));
    if (!this.holdRanges) return result;
    return new Promise<RangeResult>((resolve) => {
      this.heldRanges.push({ prefix, result, release: () => resolve(result) });
    });
  }

  #watch(target: MetadataStore, prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch> {
    return target.watch(prefix, options, {
      onEvents: (events) => {
        if (this.holdWatch) this.#heldEvents.push({ handler, events });
        else handler.onEvents(events);
      },
      onError: (error) => handler.onError(error),
    });
  }

  /** Delivers the watch events held while `holdWatch` was on, in order, and stops holding. */
  deliverWatchEvents(): void {
    this.holdWatch = false;
    for (const { handler, events } of this.#heldEvents.splice(0)) handler.onEvents(events);
  }

  async #txn(target: MetadataStore, txn: Txn): Promise<TxnResult> {
    this.txns.push(txn);
    const fault = this.rule(txn);
    if (fault === 'lost') throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout', { retriable: true });
    if (fault === 'applied-then-timeout') {
      await target.txn(txn);
      throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout after apply', { retriable: true });
    }
    if (fault === 'timeout-then-apply-later') {
      this.late.push({ txn, apply: () => target.txn(txn) });
      throw new KafscaleError('KSC_META_TIMEOUT', 'injected timeout; the txn applies later', { retriable: true });
    }
    return target.txn(txn);
  }
}

/** True for a flush commit (puts a log entry under the owner guard). */
export function isLogCommit(txn: Txn): boolean {
  return txn.success.some((op) => op.type === 'put' && op.key.includes('/log/')) && txn.compare.some((c) => c.key.endsWith('/owner'));
}

/** A rule that answers the first flush commit with `fault` (then calls `onFire`, if given) and lets everything else through. */
export function onFirstLogCommit(fault: TxnFault, onFire: () => void = () => {}): TxnFaultRule {
  let fired = false;
  return (txn) => {
    if (fired || !isLogCommit(txn)) return null;
    fired = true;
    onFire();
    return fault;
  };
}

/** True for an acquire txn (puts the owner key). */
export function isAcquire(txn: Txn): boolean {
  return txn.success.some((op) => op.type === 'put' && op.key.endsWith('/owner')) && txn.success.some((op) => op.type === 'put' && op.key.endsWith('/epoch'));
}

/** An embedded metadata store in a temp directory, closed and removed after the test. */
export async function embeddedStore(t: TestContext): Promise<EmbeddedMetadataStore> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-log-faults-'));
  const store = await EmbeddedMetadataStore.open({ dir, log: silentLog });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

/** A record batch of `count` records named `${prefix}-${i}`. */
export function batchOf(prefix: string, count: number, timestamp = 1_000n): Buffer {
  return encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ value: `${prefix}-${i}`, timestamp: timestamp + BigInt(i) })) });
}

/** [offset, value] of every record of the batches. */
export function recordsOf(batches: readonly Buffer[]): Array<[number, string]> {
  return batches.flatMap((b) => decodeRecordBatch(b).records.map((r): [number, string] => [Number(r.offset), r.value?.toString() ?? '']));
}

/** Collects invariant violations of partition logs; a test asserts the list stays empty. */
export class InvariantRecorder {
  readonly violations: string[] = [];
  readonly hook = (log: PartitionLog, violation: string): void => {
    this.violations.push(`${log.topicId}/${log.partition}: ${violation}`);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms until true (or throws after timeoutMs). */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(what, condition, { timeoutMs, intervalMs: 5 });
}
