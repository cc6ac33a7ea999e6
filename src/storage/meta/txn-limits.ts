/**
 * Size limits shared by every MetadataStore adapter. Both adapters enforce them before anything is
 * written so that a caller developing against the embedded store cannot build transactions that
 * etcd would later refuse (etcd: --max-txn-ops 128 per branch, --max-request-bytes 1.5 MiB).
 */
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { MAX_TXN_BYTES, MAX_TXN_OPS } from './metadata-store.ts';
import type { Compare, Txn, TxnOp } from './metadata-store.ts';

/** Bytes one op adds to a transaction as txnBytes counts them (its key or prefix, and a put's value and lease). */
export function opBytes(op: TxnOp): number {
  switch (op.type) {
    case 'put':
      return Buffer.byteLength(op.key) + op.value.length + (op.lease === undefined ? 0 : 8);
    case 'delete':
    case 'get':
      return Buffer.byteLength(op.key);
    case 'deletePrefix':
    case 'range':
      return Buffer.byteLength(op.prefix);
  }
}

/** Bytes one compare adds to a transaction as txnBytes counts them. */
export function compareBytes(compare: Compare): number {
  const value = compare.value;
  return Buffer.byteLength(compare.key) + (Buffer.isBuffer(value) ? value.length : 8);
}

/** Approximate encoded size of a transaction: keys and values, the part that can grow without bound. */
export function txnBytes(txn: Txn): number {
  let total = 0;
  for (const compare of txn.compare) total += compareBytes(compare);
  for (const op of txn.success) total += opBytes(op);
  for (const op of txn.failure ?? []) total += opBytes(op);
  return total;
}

/** Throws KSC_META_TXN_TOO_LARGE when a transaction exceeds MAX_TXN_OPS per list or MAX_TXN_BYTES in total. */
export function assertTxnWithinLimits(txn: Txn): void {
  const lists = [['compare', txn.compare.length], ['success', txn.success.length], ['failure', txn.failure?.length ?? 0]] as const;
  for (const [list, count] of lists) {
    if (count > MAX_TXN_OPS) {
      throw new KafscaleError(
        'KSC_META_TXN_TOO_LARGE',
        `metadata transaction has ${count} ${list} operations, more than the limit of ${MAX_TXN_OPS}; split it into several transactions`,
      );
    }
  }
  const bytes = txnBytes(txn);
  if (bytes > MAX_TXN_BYTES) {
    throw new KafscaleError(
      'KSC_META_TXN_TOO_LARGE',
      `metadata transaction carries ${bytes} bytes of keys and values, more than the limit of ${MAX_TXN_BYTES}; split it into several transactions`,
    );
  }
}

/** The exclusive end of a prefix range: the prefix with its last byte incremented (etcd's range_end rule). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] as number;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): the range runs to the end of the keyspace; etcd encodes that as a single 0 byte.
  return Buffer.from([0]);
}
