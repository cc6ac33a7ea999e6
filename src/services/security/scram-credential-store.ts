/**
 * SCRAM credentials in the metadata store, one key per (user, mechanism) under
 * MetaKeys.scramCredentialsPrefix. Every broker mirrors the prefix through a watch, so a user created,
 * changed or deleted through any broker (or by `kafscale users` writing to the store directly) counts
 * on every broker as soon as the watch event arrives; authentication never reads the store itself.
 */
import type { Logger } from 'pino';
import type { MetadataStore } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { WatchedPrefix } from '../cluster/watched-prefix.ts';
import { isScramMechanism, SCRAM_MECHANISMS, type ScramCredential, type ScramMechanism } from './scram.ts';

export interface UserCredentialInfo {
  readonly user: string;
  readonly mechanisms: ReadonlyArray<{ readonly mechanism: ScramMechanism; readonly iterations: number }>;
}

interface StoredCredential {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

export function encodeCredential(credential: ScramCredential): Buffer {
  const stored: StoredCredential = {
    salt: credential.salt.toString('base64'),
    iterations: credential.iterations,
    storedKey: credential.storedKey.toString('base64'),
    serverKey: credential.serverKey.toString('base64'),
  };
  return Buffer.from(JSON.stringify(stored), 'utf8');
}

export function decodeCredential(value: Buffer): ScramCredential | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<StoredCredential>;
    if (typeof parsed.salt !== 'string' || typeof parsed.storedKey !== 'string' || typeof parsed.serverKey !== 'string' || !Number.isInteger(parsed.iterations)) return null;
    return {
      salt: Buffer.from(parsed.salt, 'base64'),
      iterations: parsed.iterations as number,
      storedKey: Buffer.from(parsed.storedKey, 'base64'),
      serverKey: Buffer.from(parsed.serverKey, 'base64'),
    };
  } catch {
    return null;
  }
}

/** Splits a credential key into (user, mechanism); null for anything else. */
export function parseCredentialKey(key: string): { user: string; mechanism: ScramMechanism } | null {
  if (!key.startsWith(MetaKeys.scramCredentialsPrefix)) return null;
  const rest = key.slice(MetaKeys.scramCredentialsPrefix.length);
  const slash = rest.lastIndexOf('/');
  if (slash <= 0) return null;
  const mechanism = rest.slice(slash + 1);
  if (!isScramMechanism(mechanism)) return null;
  try {
    return { user: decodeURIComponent(rest.slice(0, slash)), mechanism };
  } catch {
    return null;
  }
}

/** Reads and writes credentials; used by the broker (through ScramCredentialStore) and by the CLI directly. */
export class ScramCredentialWriter {
  readonly #store: MetadataStore;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /** Returns the revision of the write. */
  async upsert(user: string, mechanism: ScramMechanism, credential: ScramCredential): Promise<number> {
    return this.#store.put(MetaKeys.scramCredential(user, mechanism), encodeCredential(credential));
  }

  /** Whether a credential was deleted, and the revision of the deletion. */
  async delete(user: string, mechanism: ScramMechanism): Promise<{ deleted: boolean; revision: number }> {
    const result = await this.#store.txn({ compare: [], success: [{ type: 'delete', key: MetaKeys.scramCredential(user, mechanism) }] });
    return { deleted: (result.results[0] as number) > 0, revision: result.revision };
  }

  /** Every user with its mechanisms, read from the store. */
  async list(): Promise<UserCredentialInfo[]> {
    const { kvs } = await this.#store.range(MetaKeys.scramCredentialsPrefix);
    return groupByUser(kvs);
  }
}

function groupByUser(kvs: Iterable<{ readonly key: string; readonly value: Buffer }>): UserCredentialInfo[] {
  const users = new Map<string, Array<{ mechanism: ScramMechanism; iterations: number }>>();
  for (const kv of kvs) {
    const parsed = parseCredentialKey(kv.key);
    const credential = decodeCredential(kv.value);
    if (parsed === null || credential === null) continue;
    const list = users.get(parsed.user) ?? [];
    list.push({ mechanism: parsed.mechanism, iterations: credential.iterations });
    users.set(parsed.user, list);
  }
  return [...users.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([user, mechanisms]) => ({ user, mechanisms: mechanisms.sort((a, b) => SCRAM_MECHANISMS.indexOf(a.mechanism) - SCRAM_MECHANISMS.indexOf(b.mechanism)) }));
}

export class ScramCredentialStore {
  readonly #mirror: WatchedPrefix;
  readonly #writer: ScramCredentialWriter;

  private constructor(mirror: WatchedPrefix, writer: ScramCredentialWriter) {
    this.#mirror = mirror;
    this.#writer = writer;
  }

  static async open(store: MetadataStore, log: Logger): Promise<ScramCredentialStore> {
    const mirror = await WatchedPrefix.open(store, MetaKeys.scramCredentialsPrefix, log);
    return new ScramCredentialStore(mirror, new ScramCredentialWriter(store));
  }

  lookup(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    const kv = this.#mirror.get(MetaKeys.scramCredential(user, mechanism));
    return kv === undefined ? undefined : (decodeCredential(kv.value) ?? undefined);
  }

  /** Users as this broker sees them now (from the watched mirror). */
  users(): UserCredentialInfo[] {
    return groupByUser(this.#mirror.values());
  }

  async upsert(user: string, mechanism: ScramMechanism, credential: ScramCredential): Promise<void> {
    const key = MetaKeys.scramCredential(user, mechanism);
    const value = encodeCredential(credential);
    const revision = await this.#writer.upsert(user, mechanism, credential);
    const previous = this.#mirror.get(key);
    this.#mirror.applyLocal(key, { key, value, createRevision: previous?.createRevision ?? revision, modRevision: revision, version: (previous?.version ?? 0) + 1, lease: null }, revision);
  }

  async delete(user: string, mechanism: ScramMechanism): Promise<boolean> {
    const { deleted, revision } = await this.#writer.delete(user, mechanism);
    // Read our own write at once: the watch event would remove the key a moment later.
    if (deleted) this.#mirror.applyLocal(MetaKeys.scramCredential(user, mechanism), null, revision);
    return deleted;
  }

  async close(): Promise<void> {
    await this.#mirror.close();
  }
}
