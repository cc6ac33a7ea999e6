/**
 * MetadataStore on etcd v3 (etcd3 npm client). Every operation is one etcd Txn on the raw KV
 * service, so revisions, compares and branch results are etcd's own; the adapter only adds a
 * namespace prefix, limits, timeouts and error mapping.
 *
 * Resilience: etcd3's default fault handling (3 retries, a circuit breaker that opens for 5 s) is
 * replaced by pass-through policies — our callers retry on KSC_META_* retriable errors, and a
 * broken circuit would keep the store unusable after etcd is back. Watches reconnect by themselves
 * (etcd3 resumes from the last seen revision); if history was compacted meanwhile, onError fires.
 * Watches require a leader (etcd's WithRequireLeader): a member cut off from its cluster cancels them
 * instead of leaving them silently without events, and they reconnect (possibly to another member).
 */
import { Etcd3 } from 'etcd3';
import type { IKeyValue, IOptions, IRequestOp, IResponseOp, ICompare } from 'etcd3';
import type { Logger } from 'pino';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { callWithTimeout, isCompaction, isResponseTooLarge } from './etcd-call.ts';
import { connectError } from './etcd-connect-error.ts';
import { EtcdLease } from './etcd-lease.ts';
import { EtcdWatch, WATCH_CALL_OPTIONS } from './etcd-watch.ts';
import { monotonicNowMs } from './monotonic-clock.ts';
import type { Compare, KeyValue, Lease, MetadataStore, RangeResult, Txn, TxnOp, TxnOpResult, TxnResult, Watch, WatchHandler, WatchOptions } from './metadata-store.ts';
import { SingleOpWrites } from './single-op-writes.ts';
import { assertTxnWithinLimits, prefixEnd } from './txn-limits.ts';

export interface EtcdMetadataStoreOptions {
  readonly endpoints: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Prefix put in front of every key (e.g. '/kafscale/'); lets clusters and tests share one etcd. */
  readonly namespace?: string;
  /** Upper bound of every call; etcd unreachable → KSC_META_UNAVAILABLE / KSC_META_TIMEOUT within it. */
  readonly requestTimeoutMs: number;
  readonly log?: Logger;
}

const TARGETS = { value: 'Value', version: 'Version', createRevision: 'Create', modRevision: 'Mod', lease: 'Lease' } as const satisfies Record<Compare['target'], string>;
const RESULTS = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const satisfies Record<Compare['op'], string>;
const WATCH_RECONNECT_MS = 250;
const EMPTY = Buffer.alloc(0);

/** A fault policy that just runs the call (shape of cockatiel's IPolicy, which etcd3 expects). */
const passThrough = {
  execute: <T>(fn: (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal, attempt: 0 })),
};
const constantBackoff = { duration: WATCH_RECONNECT_MS, next() { return constantBackoff; } };
const NO_CALL_OPTIONS = {};

function toKeyValue(kv: IKeyValue, strip: (key: Buffer) => string): KeyValue {
  const lease = kv.lease === undefined || String(kv.lease) === '0' ? null : String(kv.lease);
  return {
    key: strip(kv.key),
    value: kv.value ?? EMPTY,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease,
  };
}

export class EtcdMetadataStore extends SingleOpWrites implements MetadataStore {
  readonly #client: Etcd3;
  readonly #prefix: Buffer;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #watches = new Set<EtcdWatch>();
  readonly #leases = new Set<EtcdLease>();
  #closed = false;

  private constructor(client: Etcd3, options: EtcdMetadataStoreOptions) {
    super();
    this.#client = client;
    this.#prefix = Buffer.from(options.namespace ?? '', 'utf8');
    this.#timeoutMs = options.requestTimeoutMs;
    this.#log = options.log;
  }

  /**
   * Connects and checks that etcd answers within requestTimeoutMs: else KSC_META_UNAVAILABLE /
   * _TIMEOUT (retriable), or non-retriable KSC_META_AUTH_FAILED (credentials, permissions) /
   * KSC_META_TLS_FAILED (certificates).
   */
  static async connect(options: EtcdMetadataStoreOptions): Promise<EtcdMetadataStore> {
    const clientOptions: IOptions = {
      hosts: [...options.endpoints],
      dialTimeout: options.requestTimeoutMs,
      faultHandling: {
        host: () => passThrough as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>,
        global: passThrough as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>,
        watchBackoff: constantBackoff,
      },
      defaultCallOptions: ((context: { service: string }) => (context.service === 'Watch' ? WATCH_CALL_OPTIONS : NO_CALL_OPTIONS)) as unknown as NonNullable<IOptions['defaultCallOptions']>,
    };
    if (options.username !== undefined) clientOptions.auth = { username: options.username, password: options.password ?? '' };
    if (options.tls !== undefined) {
      clientOptions.credentials = { rootCertificate: options.tls.ca, ...(options.tls.key ? { privateKey: options.tls.key } : {}), ...(options.tls.cert ? { certChain: options.tls.cert } : {}) };
    }
    const store = new EtcdMetadataStore(new Etcd3(clientOptions), options);
    try {
      await store.revision();
    } catch (error) {
      await store.close();
      throw await connectError(error, options);
    }
    return store;
  }

  #checkOpen(): void {
    if (this.#closed) throw new KafscaleError('KSC_META_CLOSED', 'etcd metadata store is closed');
  }

  #key(key: string): Buffer {
    return Buffer.concat([this.#prefix, Buffer.from(key, 'utf8')]);
  }

  readonly #strip = (key: Buffer): string => key.subarray(this.#prefix.length).toString('utf8');

  /** [key, range_end] covering every key that starts with prefix (inside the namespace). */
  #prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
    const start = this.#key(prefix);
    return { key: start.length === 0 ? Buffer.from([0]) : start, range_end: prefixEnd(start) };
  }

  #compare(compare: Compare): ICompare {
    const base: ICompare = { key: this.#key(compare.key), target: TARGETS[compare.target], result: RESULTS[compare.op] };
    switch (compare.target) {
      case 'value': return { ...base, value: Buffer.isBuffer(compare.value) ? compare.value : Buffer.from(String(compare.value ?? '')) };
      case 'lease': return { ...base, lease: compare.value === null || compare.value === '' ? 0 : String(compare.value) };
      case 'version': return { ...base, version: Number(compare.value) };
      case 'createRevision': return { ...base, create_revision: Number(compare.value) };
      case 'modRevision': return { ...base, mod_revision: Number(compare.value) };
    }
  }

  #op(op: TxnOp): IRequestOp {
    switch (op.type) {
      case 'get': return { request_range: { key: this.#key(op.key) } };
      case 'range': return { request_range: this.#prefixRange(op.prefix) };
      case 'put': return { request_put: { key: this.#key(op.key), value: op.value, ...(op.lease === undefined ? {} : { lease: op.lease }) } };
      case 'delete': return { request_delete_range: { key: this.#key(op.key) } };
      case 'deletePrefix': return { request_delete_range: this.#prefixRange(op.prefix) };
    }
  }

  #result(op: TxnOp, response: IResponseOp | undefined): TxnOpResult {
    switch (op.type) {
      case 'get': return response?.response_range.kvs[0] === undefined ? null : toKeyValue(response.response_range.kvs[0], this.#strip);
      case 'range': return (response?.response_range.kvs ?? []).map((kv) => toKeyValue(kv, this.#strip));
      case 'put': return 1;
      case 'delete':
      case 'deletePrefix': return Number(response?.response_delete_range.deleted ?? 0);
    }
  }

  async txn(txn: Txn): Promise<TxnResult> {
    this.#checkOpen();
    assertTxnWithinLimits(txn);
    const failure = txn.failure ?? [];
    const response = await callWithTimeout('transaction', this.#timeoutMs, (deadline) =>
      this.#client.kv.txn({
        compare: txn.compare.map((c) => this.#compare(c)),
        success: txn.success.map((op) => this.#op(op)),
        failure: failure.map((op) => this.#op(op)),
      }, { deadline }));
    const ops = response.succeeded ? txn.success : failure;
    return {
      succeeded: response.succeeded,
      revision: Number(response.header.revision),
      results: ops.map((op, i) => this.#result(op, response.responses[i])),
    };
  }

  async get(key: string): Promise<KeyValue | null> {
    return (await this.txn({ compare: [], success: [{ type: 'get', key }] })).results[0] as KeyValue | null;
  }

  async range(prefix: string, options?: { readonly limit?: number }): Promise<RangeResult> {
    this.#checkOpen();
    const response = await callWithTimeout('range', this.#timeoutMs, (deadline) =>
      this.#client.kv.range({ ...this.#prefixRange(prefix), ...(options?.limit === undefined ? {} : { limit: options.limit }) }, { deadline }));
    return { kvs: response.kvs.map((kv) => toKeyValue(kv, this.#strip)), revision: Number(response.header.revision) };
  }

  /**
   * Pages of `limit` keys, the first at the current revision and every later one pinned to it
   * (`revision`), each starting just after the previous page's last key.
   */
  async *rangePages(prefix: string, options: { readonly pageSize: number }): AsyncIterable<RangeResult> {
    this.#checkOpen();
    let pageSize = Math.max(1, options.pageSize);
    const { key: first, range_end } = this.#prefixRange(prefix);
    let key = first;
    let revision: number | undefined;
    for (;;) {
      const request = { key, range_end, limit: pageSize, ...(revision === undefined ? {} : { revision }) };
      let response;
      try {
        response = await callWithTimeout('range page', this.#timeoutMs, (deadline) => this.#client.kv.range(request, { deadline }));
      } catch (error) {
        // A page of large values can still pass the client's 4 MiB receive limit: halve and retry.
        if (pageSize > 1 && isResponseTooLarge(error)) {
          pageSize = Math.ceil(pageSize / 2);
          continue;
        }
        if (revision !== undefined && (isCompaction(error) || isCompaction((error as Error).cause))) {
          throw new KafscaleError('KSC_META_COMPACTED', `etcd compacted revision ${revision} while a paginated range over "${prefix}" was reading it; read it again`, { cause: error });
        }
        throw error;
      }
      revision ??= Number(response.header.revision);
      const kvs = response.kvs.map((kv) => toKeyValue(kv, this.#strip));
      yield { kvs, revision };
      const last = response.kvs.at(-1);
      if (!response.more || last === undefined) return;
      key = Buffer.concat([last.key, Buffer.from([0])]);
      this.#checkOpen();
    }
  }

  async revision(): Promise<number> {
    this.#checkOpen();
    const response = await callWithTimeout('revision read', this.#timeoutMs, (deadline) =>
      this.#client.kv.range({ ...this.#prefixRange(''), limit: 1, count_only: true }, { deadline }));
    return Number(response.header.revision);
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    this.#checkOpen();
    // etcd leases have whole-second TTLs; rounding up never makes the lease shorter than asked.
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const sentAt = monotonicNowMs();
    const response = await callWithTimeout('lease grant', this.#timeoutMs, (deadline) =>
      this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, { deadline }));
    if (this.#closed) throw new KafscaleError('KSC_META_CLOSED', 'etcd metadata store is closed');
    const lease = new EtcdLease(String(response.ID), ttlMs, sentAt, this.#client.leaseClient, this.#timeoutMs, this.#log);
    this.#leases.add(lease);
    void lease.lost.then(() => this.#leases.delete(lease));
    lease.start();
    return lease;
  }

  async watch(prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch> {
    this.#checkOpen();
    const { key, range_end } = this.#prefixRange(prefix);
    if (options.fromRevision !== undefined) {
      const compacted = await this.#compactedError(options.fromRevision);
      if (compacted !== null) {
        // Same contract as a watch that dies later: one onError, and the watch is dead.
        queueMicrotask(() => handler.onError(compacted));
        return { close: async () => undefined };
      }
    }
    const builder = this.#client.watch().inRange({ start: key, end: range_end });
    if (options.fromRevision !== undefined) builder.startRevision(String(options.fromRevision));
    const watcher = builder.watcher();
    const watch = new EtcdWatch(watcher, {
      onEvents: (events) => handler.onEvents(events),
      onError: (error) => {
        this.#watches.delete(watch);
        handler.onError(error);
      },
    }, (kv) => toKeyValue(kv, this.#strip), this.#log);
    this.#watches.add(watch);
    try {
      await callWithTimeout('watch start', this.#timeoutMs, () => new Promise<void>((resolve, reject) => {
        watcher.once('connected', () => resolve());
        watcher.once('error', reject);
      }));
    } catch (error) {
      this.#watches.delete(watch);
      await watch.close();
      throw error;
    }
    return {
      close: async () => {
        this.#watches.delete(watch);
        await watch.close();
      },
    };
  }

  /** etcd would cancel the watch right after creating it; checking first gives a clean, typed error. */
  async #compactedError(fromRevision: number): Promise<KafscaleError | null> {
    try {
      await callWithTimeout('watch history check', this.#timeoutMs, (deadline) =>
        this.#client.kv.range({ ...this.#prefixRange(''), limit: 1, count_only: true, revision: fromRevision }, { deadline }));
    } catch (error) {
      if (isCompaction(error) || isCompaction((error as Error).cause)) {
        return new KafscaleError('KSC_META_COMPACTED', `etcd history before revision ${fromRevision} is compacted; re-read the state and watch from its revision`, { cause: error });
      }
      // A future revision is fine (the watch waits for it); anything else is a real failure.
      if (!/future revision/.test(String((error as Error).cause ?? error))) throw error;
    }
    return null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new KafscaleError('KSC_META_CLOSED', 'etcd metadata store was closed');
    for (const watch of this.#watches) watch.fail(error);
    this.#watches.clear();
    for (const lease of this.#leases) lease.abandon();
    this.#leases.clear();
    this.#client.close();
  }
}
