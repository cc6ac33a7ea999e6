/**
 * Packs work into metadata transactions by measured size: each transaction gets as many items as fit
 * under MAX_TXN_OPS per list (compare, success, failure) and MAX_TXN_BYTES in total, measured exactly as
 * assertTxnWithinLimits measures (txn-limits.ts) — so every packed transaction is one the store accepts,
 * and the one margin is the one inside MAX_TXN_BYTES (etcd's 1.5 MiB request limit minus framing).
 * Every service that splits a batch of writes into transactions uses this instead of its own chunk size.
 */
import { MAX_TXN_BYTES, MAX_TXN_OPS } from './metadata-store.ts';
import type { Compare, TxnOp } from './metadata-store.ts';
import { compareBytes, opBytes } from './txn-limits.ts';

/** What one item (or the shared part of every transaction) puts into a transaction. */
export interface TxnPart {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export interface TxnPackOptions {
  /** Part of every transaction besides the items: guards (an owner-key compare), a failure-branch get. */
  readonly shared?: TxnPart;
  /** A lower cap on each list than MAX_TXN_OPS (bounding the work of one transaction); never above it. */
  readonly maxOps?: number;
  /** A lower byte budget than MAX_TXN_BYTES; never above it. */
  readonly maxBytes?: number;
  /** At most this many items per transaction, when an item is a unit of work the caller bounds. */
  readonly maxItems?: number;
}

interface Size {
  compare: number;
  success: number;
  failure: number;
  bytes: number;
}

/**
 * Splits `items`, in order, into groups such that each group's parts plus `shared` fit one transaction.
 * An item too big to share a transaction gets one of its own (the store then refuses it with
 * KSC_META_TXN_TOO_LARGE, naming the limit): the packer never drops or reorders anything.
 */
export function packTxns<T>(items: readonly T[], partOf: (item: T) => TxnPart, options: TxnPackOptions = {}): T[][] {
  const maxOps = Math.min(options.maxOps ?? MAX_TXN_OPS, MAX_TXN_OPS);
  const maxBytes = Math.min(options.maxBytes ?? MAX_TXN_BYTES, MAX_TXN_BYTES);
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  const shared = sizeOf(options.shared ?? {});
  const groups: T[][] = [];
  let group: T[] = [];
  let used = { ...shared };
  for (const item of items) {
    const part = sizeOf(partOf(item));
    const fits = group.length < maxItems && used.compare + part.compare <= maxOps && used.success + part.success <= maxOps
      && used.failure + part.failure <= maxOps && used.bytes + part.bytes <= maxBytes;
    if (group.length > 0 && !fits) {
      groups.push(group);
      group = [];
      used = { ...shared };
    }
    group.push(item);
    used.compare += part.compare;
    used.success += part.success;
    used.failure += part.failure;
    used.bytes += part.bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The common case: `ops` as the success lists of as few transactions as fit beside `shared`. */
export function packOps(ops: readonly TxnOp[], options: TxnPackOptions = {}): TxnOp[][] {
  return packTxns(ops, (op) => ({ success: [op] }), options);
}

function sizeOf(part: TxnPart): Size {
  let bytes = 0;
  for (const compare of part.compare ?? []) bytes += compareBytes(compare);
  for (const op of part.success ?? []) bytes += opBytes(op);
  for (const op of part.failure ?? []) bytes += opBytes(op);
  return { compare: part.compare?.length ?? 0, success: part.success?.length ?? 0, failure: part.failure?.length ?? 0, bytes };
}
