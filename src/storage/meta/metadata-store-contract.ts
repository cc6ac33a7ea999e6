/**
 * The shared contract every MetadataStore adapter must pass. Each adapter's test file calls
 * runMetadataStoreContract with a factory that yields a fresh, empty store (a new directory, or a
 * new etcd namespace). Revisions are store-wide, so assertions on them are relative, never absolute.
 *
 * The tests live in three parts beside this file and run in this order: keys and transactions, leases, watches.
 */
import { contractTest, type ContractFactory } from './metadata-store-contract-support.ts';
import { kvContract } from './metadata-store-contract-kv.ts';
import { leaseContract } from './metadata-store-contract-leases.ts';
import { watchContract } from './metadata-store-contract-watches.ts';

export { reconnectingFixture, type ContractFactory, type ContractFixture } from './metadata-store-contract-support.ts';

export function runMetadataStoreContract(name: string, factory: ContractFactory): void {
  const it = contractTest(name, factory);
  kvContract(it);
  leaseContract(it);
  watchContract(it);
}
