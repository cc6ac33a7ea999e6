/**
 * The one-key writes of the MetadataStore port, the same for every adapter: each is a transaction of
 * one op, so limits, lease checks, revisions and watch events are the transaction's own.
 */
import type { TxnOp, Txn, TxnResult } from './metadata-store.ts';

export abstract class SingleOpWrites {
  abstract txn(txn: Txn): Promise<TxnResult>;

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
}
