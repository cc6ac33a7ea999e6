import type { Logger } from 'pino';
import type { MetadataStore, TxnOp } from '../../storage/meta/metadata-store.ts';
import { MAX_TXN_OPS } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { WatchedPrefix } from '../cluster/watched-prefix.ts';
import { filterMatches, type AclBinding, type AclBindingFilter } from './acl.ts';

/**
 * The cluster's ACL bindings, one metadata key per binding (docs/design/metadata.md), mirrored in memory
 * by a watch. Every broker's mirror follows every other broker's writes within a watch round trip, and
 * `onChange` hands the new set to the authorizer. The key is derived from the whole binding, so creating
 * an existing binding again is a no-op (as in Kafka) and deleting names exact keys.
 */
export class AclStore {
  readonly #store: MetadataStore;
  readonly #log: Logger;
  readonly #mirror: WatchedPrefix;
  #bindings: AclBinding[] = [];
  readonly #listeners = new Set<(bindings: readonly AclBinding[]) => void>();

  private constructor(store: MetadataStore, log: Logger, mirror: WatchedPrefix) {
    this.#store = store;
    this.#log = log;
    this.#mirror = mirror;
  }

  static async open(store: MetadataStore, log: Logger): Promise<AclStore> {
    let acls: AclStore | null = null;
    const mirror = await WatchedPrefix.open(store, MetaKeys.aclsPrefix, log, () => {
      if (acls !== null) acls.#rebuild();
    });
    acls = new AclStore(store, log, mirror);
    acls.#rebuild();
    return acls;
  }

  /** Every binding now known to this broker. */
  list(filter?: AclBindingFilter): AclBinding[] {
    return filter === undefined ? [...this.#bindings] : this.#bindings.filter((b) => filterMatches(filter, b));
  }

  /** Calls `listener` with the full set now and after every change; returns the unsubscribe function. */
  subscribe(listener: (bindings: readonly AclBinding[]) => void): () => void {
    this.#listeners.add(listener);
    listener(this.#bindings);
    return () => this.#listeners.delete(listener);
  }

  /** Stores the bindings (already validated); existing ones are rewritten unchanged. */
  async create(bindings: readonly AclBinding[]): Promise<void> {
    for (let start = 0; start < bindings.length; start += MAX_TXN_OPS) {
      const chunk = bindings.slice(start, start + MAX_TXN_OPS);
      const ops: TxnOp[] = chunk.map((b) => ({ type: 'put', key: MetaKeys.acl(b), value: encode(b) }));
      const result = await this.#store.txn({ compare: [], success: ops });
      for (const b of chunk) {
        const key = MetaKeys.acl(b);
        const previous = this.#mirror.get(key);
        this.#mirror.applyLocal(key, { key, value: encode(b), createRevision: previous?.createRevision ?? result.revision, modRevision: result.revision, version: (previous?.version ?? 0) + 1, lease: null }, result.revision);
      }
    }
  }

  /** Deletes every binding a filter matches; returns, per filter, the bindings it deleted. */
  async delete(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    const matched = filters.map((f) => this.list(f));
    const keys = [...new Set(matched.flat().map((b) => MetaKeys.acl(b)))];
    for (let start = 0; start < keys.length; start += MAX_TXN_OPS) {
      const chunk = keys.slice(start, start + MAX_TXN_OPS);
      const result = await this.#store.txn({ compare: [], success: chunk.map((key) => ({ type: 'delete', key })) });
      for (const key of chunk) this.#mirror.applyLocal(key, null, result.revision);
    }
    return matched;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#mirror.close();
  }

  #rebuild(): void {
    const bindings: AclBinding[] = [];
    for (const kv of this.#mirror.values()) {
      const binding = decode(kv.value);
      if (binding !== null) bindings.push(binding);
      else this.#log.error({ key: kv.key }, 'unreadable ACL binding in the metadata store; it is ignored until rewritten (delete it and create it again)');
    }
    this.#bindings = bindings;
    for (const listener of this.#listeners) listener(bindings);
  }
}

function encode(binding: AclBinding): Buffer {
  const { resourceType, resourceName, patternType, principal, host, operation, permission } = binding;
  return Buffer.from(JSON.stringify({ resourceType, resourceName, patternType, principal, host, operation, permission }));
}

function decode(value: Buffer): AclBinding | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as AclBinding;
    return typeof parsed.resourceName === 'string' && typeof parsed.principal === 'string' ? parsed : null;
  } catch {
    return null;
  }
}
