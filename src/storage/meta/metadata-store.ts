/**
 * MetadataStore port: a small etcd-shaped key/value store with revisions, compare-and-swap
 * transactions, leases and watches. Adapters: embedded (LMDB, single node) and etcd.
 * Keys are strings (the key schema lives in services/cluster/meta-keys.ts); values are bytes.
 *
 * Revisions are store-wide, start at 1 and rise by one per successful write transaction
 * (etcd semantics). They stay < 2^53 for the life of any realistic cluster, so they are numbers.
 *
 * Failures: infrastructure faults throw KafscaleError with code KSC_META_UNAVAILABLE /
 * KSC_META_TIMEOUT (retriable). A transaction over the limits (MAX_TXN_OPS, MAX_TXN_BYTES) throws
 * KSC_META_TXN_TOO_LARGE before anything is sent — callers must split.
 */
export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  /** Revision of the transaction that created this key (since its last deletion). */
  readonly createRevision: number;
  /** Revision of the last transaction that modified it. */
  readonly modRevision: number;
  /** Number of modifications since creation; 1 after the first put. */
  readonly version: number;
  /** Id of the lease the key is attached to, or null. */
  readonly lease: string | null;
}

export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';
export type CompareOp = '==' | '!=' | '<' | '>';

/**
 * A guard of a transaction. For a missing key: version, createRevision and modRevision are 0,
 * lease is null ('' compares equal to null), value never matches.
 */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  /** Buffer for 'value', number for revisions/version, string|null for 'lease'. */
  readonly value: Buffer | number | string | null;
}

export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Buffer; readonly lease?: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'deletePrefix'; readonly prefix: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'range'; readonly prefix: string };

/** One response per op in the branch that ran: get → KeyValue|null, range → KeyValue[], put/delete → number of keys affected. */
export type TxnOpResult = KeyValue | null | KeyValue[] | number;

export interface Txn {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  readonly revision: number;
  readonly results: readonly TxnOpResult[];
}

export interface RangeResult {
  /** Sorted by key (byte order). */
  readonly kvs: readonly KeyValue[];
  /** Store revision at which the range was read. */
  readonly revision: number;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** For delete: value is empty, modRevision is the revision of the deletion. */
  readonly kv: KeyValue;
  readonly revision: number;
}

export interface WatchOptions {
  /** Deliver events with revision >= fromRevision. Omitted: only events after the watch starts. */
  readonly fromRevision?: number;
}

export interface Watch {
  /** Stops delivery; idempotent. */
  close(): Promise<void>;
}

/**
 * Handler receives events in revision order, batched per transaction. If the watch cannot continue
 * (history compacted past fromRevision, store closed, connection lost beyond recovery) onError is
 * called once and the watch is dead; the caller re-reads state and starts a new watch.
 */
export interface WatchHandler {
  onEvents(events: readonly WatchEvent[]): void;
  onError(error: Error): void;
}

export interface Lease {
  readonly id: string;
  readonly ttlMs: number;
  /**
   * Resolves when the lease is lost: expired, revoked, or keep-alive failed beyond the TTL.
   * Never rejects. After it resolves, every transaction comparing this lease fails.
   */
  readonly lost: Promise<void>;
  /** Whether the lease is believed alive (keep-alive succeeded within the TTL). */
  isAlive(): boolean;
  /** Revokes the lease (deleting its keys) and stops keep-alive; idempotent. */
  revoke(): Promise<void>;
}

export const MAX_TXN_OPS = 128;
export const MAX_TXN_BYTES = 1_400_000; // etcd's default request limit is 1.5 MiB; leave room for framing.

export interface MetadataStore {
  get(key: string): Promise<KeyValue | null>;
  range(prefix: string, options?: { readonly limit?: number }): Promise<RangeResult>;
  /**
   * Every key under `prefix`, in key order, `pageSize` keys per page, all pages read at ONE revision
   * (the first page's): a consistent snapshot however many keys there are and whatever is written
   * meanwhile. For prefixes too large for one response (etcd clients refuse responses over 4 MiB).
   * Throws KSC_META_COMPACTED when the store dropped that revision before the last page was read
   * (etcd compaction); the caller starts over. Stop iterating early to release the snapshot.
   */
  rangePages(prefix: string, options: { readonly pageSize: number }): AsyncIterable<RangeResult>;
  put(key: string, value: Buffer, options?: { readonly lease?: string }): Promise<number>;
  /** Returns the number of keys deleted. */
  delete(key: string): Promise<number>;
  deletePrefix(prefix: string): Promise<number>;
  txn(txn: Txn): Promise<TxnResult>;
  /** Grants a lease kept alive in the background until revoked, lost or the store is closed. */
  grantLease(ttlMs: number): Promise<Lease>;
  watch(prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch>;
  /** Current store revision. */
  revision(): Promise<number>;
  /** Closes watches and connections; leases are left to expire (not revoked). Idempotent. */
  close(): Promise<void>;
}
