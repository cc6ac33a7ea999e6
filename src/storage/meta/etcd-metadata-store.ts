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
import { Etcd3, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError } from 'etcd3';
import type { IKeyValue, IOptions, IRequestOp, IResponseOp, ICompare, Watcher, IWatchResponse } from 'etcd3';
import type { Logger } from 'pino';
import { isKafscaleError, KafscaleError } from '../../telemetry/kafscale-error.ts';
import { callWithTimeout } from './etcd-call.ts';
import { EtcdLease } from './etcd-lease.ts';
import { monotonicNowMs } from './monotonic-clock.ts';
import type { Compare, KeyValue, Lease, MetadataStore, RangeResult, Txn, TxnOp, TxnOpResult, TxnResult, Watch, WatchEvent, WatchHandler, WatchOptions } from './metadata-store.ts';
import { probeTls } from './tls-probe.ts';
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

/** The parts of grpc-js' Metadata and InterceptingCall the interceptor touches (grpc-js is etcd3's dependency, not ours). */
interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}
interface GrpcInterceptingCall {
  start(metadata: GrpcMetadata, listener?: unknown): void;
}

/**
 * etcd's require-leader (clientv3.WithRequireLeader): metadata `hasleader: true` makes the member end a
 * watch stream with "etcdserver: no leader" once it has lost its leader, rather than keep a watch that
 * will never see another event while the rest of the cluster moves on. etcd3 then reconnects it from
 * the last revision it saw.
 */
function requireLeader(options: unknown, nextCall: (options: unknown) => GrpcInterceptingCall): GrpcInterceptingCall {
  const call = nextCall(options);
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    // A copy: with auth, etcd3 shares one Metadata object between all calls.
    const own = metadata.clone();
    own.set('hasleader', 'true');
    start(own, listener);
  };
  return call;
}

const WATCH_CALL_OPTIONS = { interceptors: [requireLeader] };
const NO_CALL_OPTIONS = {};

/** Bounds the TLS question asked after a failed connect (a handshake takes milliseconds). */
const TLS_PROBE_TIMEOUT_MS = 500;
/** OpenSSL/Node wording of a refused or unverifiable certificate (alert 42 bad_certificate, 116 certificate_required). */
const CLIENT_CERT_REFUSED = /bad certificate|certificate required|alert number (42|116)/i;
const SERVER_CERT_UNTRUSTED = /unable to verify|self[- ]signed|certificate (has expired|is not yet valid)|unable to get (local )?issuer|Hostname\/IP does not match/i;

/**
 * A failing first call is usually configuration, not an outage: wrong credentials or certificates
 * never heal by retrying, so they get their own non-retriable codes and say what to fix. Anything
 * else keeps the retriable code it had (etcd may just not be up yet).
 */
async function connectError(error: unknown, options: EtcdMetadataStoreOptions): Promise<unknown> {
  const cause = error instanceof KafscaleError && error.cause !== undefined ? error.cause : error;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const where = options.endpoints.join(',');
  if (cause instanceof EtcdAuthenticationFailedError) {
    return new KafscaleError('KSC_META_AUTH_FAILED', `etcd at ${where} rejected user "${options.username ?? ''}": wrong user name or password (${detail}); fix the etcd username and password`, { cause: error });
  }
  if (cause instanceof EtcdPermissionDeniedError || cause instanceof EtcdInvalidAuthTokenError) {
    const why = options.username === undefined
      ? 'etcd has authentication enabled and no username/password was given'
      : `user "${options.username}" may not read the key range of namespace "${options.namespace ?? ''}"; grant one of its roles readwrite on it`;
    return new KafscaleError('KSC_META_AUTH_FAILED', `etcd at ${where} denied access (${detail}): ${why}`, { cause: error });
  }
  if (CLIENT_CERT_REFUSED.test(detail)) {
    const why = options.tls?.cert === undefined
      ? 'etcd requires a client certificate and none was given; set a client certificate and key'
      : 'etcd refused the client certificate; it must be signed by a CA in etcd\'s --trusted-ca-file';
    return new KafscaleError('KSC_META_TLS_FAILED', `TLS handshake with etcd at ${where} failed: ${why} (${detail.trim()})`, { cause: error });
  }
  if (SERVER_CERT_UNTRUSTED.test(detail) && options.endpoints.some((endpoint) => endpoint.startsWith('https://'))) {
    const why = options.tls === undefined ? 'no CA was given to verify the etcd server certificate' : 'the etcd server certificate does not verify against the given CA (or is not issued for this host)';
    return new KafscaleError('KSC_META_TLS_FAILED', `TLS handshake with etcd at ${where} failed: ${why} (${detail.trim()})`, { cause: error });
  }
  if (isKafscaleError(error) && (error.code === 'KSC_META_UNAVAILABLE' || error.code === 'KSC_META_TIMEOUT') && !/ECONNREFUSED/.test(detail)) {
    // Something listens but did not answer gRPC. Whether it speaks TLS was asked directly (probeTls),
    // so the hint does not depend on which error the load produced (issue 15, item 8). The error stays
    // retriable and only gains a hint.
    const served = await probeTls(options.endpoints[0] ?? '', Math.min(options.requestTimeoutMs, TLS_PROBE_TIMEOUT_MS));
    if (served !== 'plain' && options.endpoints.every((endpoint) => endpoint.startsWith('http://'))) {
      return new KafscaleError(error.code, `${error.message}; if etcd serves TLS, use https:// endpoints and give its CA`, { cause: error.cause, retriable: error.retriable });
    }
    if (served !== 'tls' && options.endpoints.every((endpoint) => endpoint.startsWith('https://'))) {
      return new KafscaleError(error.code, `${error.message}; if etcd does not serve TLS, use http:// endpoints`, { cause: error.cause, retriable: error.retriable });
    }
  }
  return error;
}

function isCompaction(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // etcd cancels a watch on a compacted revision with compact_revision set and an empty reason.
  return /compact/i.test(message) || /^Watcher canceled: ?$/.test(message.trim());
}

/** grpc-js refusing a response over its receive limit ("Received message larger than max"). */
function isResponseTooLarge(error: unknown): boolean {
  const text = `${String(error)} ${String((error as Error).cause ?? '')}`;
  return /larger than max|RESOURCE_EXHAUSTED/i.test(text) || (error as { code?: string }).code === 'KSC_META_TXN_TOO_LARGE';
}

class EtcdWatch implements Watch {
  #watcher: Watcher;
  #handler: WatchHandler;
  #strip: (key: Buffer) => string;
  #dead = false;
  #log: Logger | undefined;

  constructor(watcher: Watcher, handler: WatchHandler, strip: (key: Buffer) => string, log: Logger | undefined) {
    this.#watcher = watcher;
    this.#handler = handler;
    this.#strip = strip;
    this.#log = log;
    watcher.on('data', (res: IWatchResponse) => this.#onData(res));
    watcher.on('error', (error: Error) => {
      this.fail(isCompaction(error)
        ? new KafscaleError('KSC_META_COMPACTED', 'etcd history needed by a metadata watch was compacted; re-read the state and watch from its revision', { cause: error })
        : new KafscaleError('KSC_META_UNAVAILABLE', `etcd ended a metadata watch: ${error.message}`, { cause: error, retriable: true }));
    });
    watcher.on('disconnected', (error: Error) => this.#log?.warn({ err: error }, 'etcd watch disconnected; reconnecting'));
  }

  #onData(res: IWatchResponse): void {
    if (this.#dead) return;
    // One etcd response may hold several revisions: deliver one batch per transaction.
    let batch: WatchEvent[] = [];
    for (const event of res.events) {
      const revision = Number(event.kv.mod_revision);
      if (batch.length > 0 && batch[0]?.revision !== revision) {
        this.#deliver(batch);
        batch = [];
      }
      const kv = toKeyValue(event.kv, this.#strip);
      batch.push({ type: event.type === 'Delete' ? 'delete' : 'put', key: kv.key, kv: event.type === 'Delete' ? { ...kv, value: EMPTY } : kv, revision });
    }
    if (batch.length > 0) this.#deliver(batch);
  }

  #deliver(events: WatchEvent[]): void {
    try {
      this.#handler.onEvents(events);
    } catch (error) {
      this.#log?.error({ err: error }, 'metadata watch handler threw; continuing');
    }
  }

  fail(error: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#watcher.cancel().catch(() => undefined);
    this.#handler.onError(error);
  }

  async close(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    await this.#watcher.cancel().catch(() => undefined);
  }
}

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

export class EtcdMetadataStore implements MetadataStore {
  readonly #client: Etcd3;
  readonly #prefix: Buffer;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #watches = new Set<EtcdWatch>();
  readonly #leases = new Set<EtcdLease>();
  #closed = false;

  private constructor(client: Etcd3, options: EtcdMetadataStoreOptions) {
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

  async put(key: string, value: Buffer, options?: { readonly lease?: string }): Promise<number> {
    const op: TxnOp = options?.lease === undefined ? { type: 'put', key, value } : { type: 'put', key, value, lease: options.lease };
    return (await this.txn({ compare: [], success: [op] })).revision;
  }

  async delete(key: string): Promise<number> {
    return (await this.txn({ compare: [], success: [{ type: 'delete', key }] })).results[0] as number;
  }

  async deletePrefix(prefix: string): Promise<number> {
    return (await this.txn({ compare: [], success: [{ type: 'deletePrefix', prefix }] })).results[0] as number;
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
    }, this.#strip, this.#log);
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
