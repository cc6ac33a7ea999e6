/**
 * Read-ahead of object ranges for sequential consumers (docs/design/read-ahead.md).
 *
 * A cold consumer otherwise pays one GET latency per range, one range after another per partition. The log
 * reader names, per reading stream, the ranges that come next (`plan`); this class GETs them in the
 * background, several at a time across partitions, and hands each one over when the reader asks for it
 * (`take`). Two bounds hold at every moment:
 *  - bytes: ranges queued, in flight and held unread together never exceed `budgetBytes` (a range's size
 *    is known before its GET, so it is reserved up front); a range is released when the reader has taken
 *    it and its GET has settled, when a new plan of its stream no longer names it, or when it has been held
 *    unread for `holdMs`;
 *  - GETs: at most `maxConcurrentGets` in flight, each marked `background` so the S3 adapter serves flush
 *    PUTs and foreground GETs first.
 * A range is named by object key and byte span; objects are immutable (every key is written once), so the
 * bytes of a range are right for every log entry that names it. A merge or trim changes which ranges the
 * reader asks for, never what a range holds: stale ranges are simply never taken and are dropped by the
 * next plan of their stream (or after `holdMs`). A failed read-ahead is only a missed one: `take` then
 * rejects and the reader GETs the range itself.
 */
import type { Logger } from 'pino';

export interface ObjectSpan {
  readonly objectKey: string;
  /** First byte, inclusive. */
  readonly start: number;
  /** End, exclusive. */
  readonly end: number;
}

export type ReadAheadLoader = (span: ObjectSpan, signal: AbortSignal) => Promise<Buffer>;

export interface ReadAheadOptions {
  /** Bytes queued + in flight + held unread, at most; 0 disables read-ahead. */
  readonly budgetBytes: number;
  readonly maxConcurrentGets: number;
  /** A range not taken this long after its GET finished is dropped (its reader has gone). */
  readonly holdMs: number;
  readonly load: ReadAheadLoader;
  readonly log: Logger;
  readonly now?: () => number;
}

export function spanKey(span: ObjectSpan): string {
  return `${span.objectKey}@${span.start}-${span.end}`;
}

type State = 'queued' | 'loading' | 'ready' | 'failed';

class Prefetch {
  readonly key: string;
  readonly span: ObjectSpan;
  readonly bytes: number;
  readonly stream: string;
  readonly controller = new AbortController();
  state: State = 'queued';
  /** Set when the GET starts. */
  promise: Promise<Buffer> | null = null;
  readyMs = 0;
  /** Taken by the reader: released when the GET settles. */
  taken = false;

  constructor(key: string, span: ObjectSpan, stream: string) {
    this.key = key;
    this.span = span;
    this.bytes = span.end - span.start;
    this.stream = stream;
  }
}

export class ReadAhead {
  readonly budgetBytes: number;
  readonly #maxConcurrentGets: number;
  readonly #holdMs: number;
  readonly #load: ReadAheadLoader;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Not yet taken, by span key (queued, loading, ready or failed). */
  readonly #byKey = new Map<string, Prefetch>();
  /** Span keys per stream, in plan order. */
  readonly #byStream = new Map<string, Set<string>>();
  readonly #queue: Prefetch[] = [];
  #loading = 0;
  #reservedBytes = 0;
  #closed = false;
  /** GETs started. */
  gets = 0;
  /** Reads served by a read-ahead (taken while loading or ready). */
  hits = 0;
  /** Bytes GET but dropped unread (their stream moved elsewhere, or they waited longer than holdMs). */
  wastedBytes = 0;

  constructor(options: ReadAheadOptions) {
    this.budgetBytes = options.budgetBytes;
    this.#maxConcurrentGets = Math.max(1, options.maxConcurrentGets);
    this.#holdMs = options.holdMs;
    this.#load = options.load;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.budgetBytes > 0 && !this.#closed;
  }

  /** Bytes reserved: queued, in flight, or held unread (≤ budgetBytes). */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  get inFlight(): number {
    return this.#loading;
  }

  /** Ranges queued, loading or held, not yet taken. */
  get pending(): number {
    return this.#byKey.size;
  }

  has(span: ObjectSpan): boolean {
    return this.#byKey.has(spanKey(span));
  }

  /**
   * The ranges `stream` will read next, in order: each one not yet read ahead is queued while it fits the
   * budget (`skip` says which need no read-ahead, e.g. cached ones); the stream's earlier ranges that this
   * plan no longer names are dropped. Stops at the first range that does not fit: read-ahead stays in order.
   */
  plan(stream: string, spans: readonly ObjectSpan[], skip: (span: ObjectSpan) => boolean): void {
    if (!this.enabled) return;
    this.#expire();
    const wanted = new Set<string>();
    for (const span of spans) wanted.add(spanKey(span));
    const previous = this.#byStream.get(stream);
    if (previous !== undefined) {
      for (const key of previous) if (!wanted.has(key)) this.#drop(key);
    }
    for (const span of spans) {
      const key = spanKey(span);
      if (this.#byKey.has(key) || span.end <= span.start || skip(span)) continue;
      if (this.#reservedBytes + (span.end - span.start) > this.budgetBytes) break;
      const prefetch = new Prefetch(key, span, stream);
      this.#reservedBytes += prefetch.bytes;
      this.#byKey.set(key, prefetch);
      let keys = this.#byStream.get(stream);
      if (keys === undefined) this.#byStream.set(stream, (keys = new Set()));
      keys.add(key);
      this.#queue.push(prefetch);
    }
    this.#pump();
  }

  /**
   * The read-ahead bytes of `span`, handed over to the reader (undefined when none is loading or held; a
   * queued one is dropped, since the reader's own GET now comes first). Rejects when the read-ahead GET
   * failed: the caller then reads the range itself.
   */
  take(span: ObjectSpan): Promise<Buffer> | undefined {
    const key = spanKey(span);
    const prefetch = this.#byKey.get(key);
    if (prefetch === undefined) return undefined;
    if (prefetch.state === 'queued' || prefetch.promise === null) {
      this.#drop(key);
      return undefined;
    }
    this.#forget(prefetch);
    this.hits++;
    prefetch.taken = true;
    // Released once settled: until then the bytes are still arriving into memory we promised to bound.
    if (prefetch.state === 'ready') this.#reservedBytes -= prefetch.bytes;
    return prefetch.promise;
  }

  /** Drops everything (abort GETs in flight); later plans are ignored. */
  close(): void {
    this.#closed = true;
    for (const key of [...this.#byKey.keys()]) this.#drop(key);
  }

  #pump(): void {
    while (this.#loading < this.#maxConcurrentGets) {
      const prefetch = this.#queue.shift();
      if (prefetch === undefined) return;
      if (prefetch.state !== 'queued' || this.#byKey.get(prefetch.key) !== prefetch) continue; // dropped meanwhile
      this.#start(prefetch);
    }
  }

  #start(prefetch: Prefetch): void {
    prefetch.state = 'loading';
    this.#loading++;
    this.gets++;
    const promise = this.#load(prefetch.span, prefetch.controller.signal);
    prefetch.promise = promise;
    promise.then(
      () => this.#settled(prefetch, 'ready'),
      (error: unknown) => {
        if (!prefetch.controller.signal.aborted) this.#log.debug({ err: error, objectKey: prefetch.span.objectKey }, 'read-ahead GET failed; the reader will GET the range itself');
        this.#settled(prefetch, 'failed');
      },
    );
  }

  #settled(prefetch: Prefetch, state: 'ready' | 'failed'): void {
    this.#loading--;
    prefetch.state = state;
    prefetch.readyMs = this.#now();
    if (prefetch.taken || this.#byKey.get(prefetch.key) !== prefetch) {
      this.#reservedBytes -= prefetch.bytes; // taken or dropped while loading: its reservation ends now
    } else if (state === 'failed') {
      this.#forget(prefetch); // nothing to hold: the reader will GET the range itself
      this.#reservedBytes -= prefetch.bytes;
    }
    this.#pump();
  }

  /** Removes a prefetch the reader no longer needs; its GET is aborted, its reservation ends when it settles. */
  #drop(key: string): void {
    const prefetch = this.#byKey.get(key);
    if (prefetch === undefined) return;
    this.#forget(prefetch);
    if (prefetch.state === 'loading') {
      prefetch.controller.abort(new Error('read-ahead no longer needed'));
      return; // #settled releases it
    }
    // Queued: never started (the queue skips it). Ready: its bytes are let go.
    if (prefetch.state === 'ready') this.wastedBytes += prefetch.bytes;
    this.#reservedBytes -= prefetch.bytes;
  }

  #forget(prefetch: Prefetch): void {
    this.#byKey.delete(prefetch.key);
    const keys = this.#byStream.get(prefetch.stream);
    keys?.delete(prefetch.key);
    if (keys?.size === 0) this.#byStream.delete(prefetch.stream);
  }

  /** Drops ranges held unread longer than holdMs (their reader stopped or went elsewhere). */
  #expire(): void {
    const oldest = this.#now() - this.#holdMs;
    for (const prefetch of [...this.#byKey.values()]) {
      if (prefetch.state === 'ready' && prefetch.readyMs < oldest) this.#drop(prefetch.key);
    }
  }
}
