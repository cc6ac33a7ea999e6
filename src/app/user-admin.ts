/**
 * The `kafscale users` commands' access to the metadata store: opens the store the broker would open
 * (same settings: KAFSCALE_DATA_DIR, KAFSCALE_ETCD_*), without starting a broker.
 */
import { mkdir } from 'node:fs/promises';
import type { OpenUserAdmin, UserAdmin, UserMechanism } from '../cli/commands/users-command.ts';
import { loadConfig } from '../config/index.ts';
import { createScramCredential } from '../services/security/scram.ts';
import { ScramCredentialWriter } from '../services/security/scram-credential-store.ts';
import { EmbeddedMetadataStore } from '../storage/meta/embedded-metadata-store.ts';
import type { MetadataStore } from '../storage/meta/metadata-store.ts';
import { createLogger } from '../telemetry/logger.ts';

export function userAdminOpener(env: Readonly<Record<string, string | undefined>>, cwd: string): OpenUserAdmin {
  return async () => {
    const config = loadConfig({ argv: [], env, cwd });
    const log = createLogger({ level: 'warn' });
    const cfg = config.metadataStore;
    let store: MetadataStore;
    let target: string;
    if (cfg.kind === 'embedded') {
      await mkdir(cfg.dir, { recursive: true });
      store = await EmbeddedMetadataStore.open({ dir: cfg.dir, log });
      target = `the embedded metadata store ${cfg.dir}`;
    } else {
      const { openEtcdMetadataStore } = await import('./etcd-store-factory.ts');
      store = await openEtcdMetadataStore(cfg, log);
      target = `etcd ${cfg.endpoints.join(',')}`;
    }
    return new StoreUserAdmin(store, target);
  };
}

class StoreUserAdmin implements UserAdmin {
  readonly target: string;
  readonly #store: MetadataStore;
  readonly #writer: ScramCredentialWriter;

  constructor(store: MetadataStore, target: string) {
    this.#store = store;
    this.#writer = new ScramCredentialWriter(store);
    this.target = target;
  }

  async set(user: string, mechanism: UserMechanism, password: string, iterations: number): Promise<void> {
    await this.#writer.upsert(user, mechanism, createScramCredential(mechanism, password, iterations));
  }

  list(): ReturnType<UserAdmin['list']> {
    return this.#writer.list();
  }

  async delete(user: string, mechanism: UserMechanism | null): Promise<number> {
    let deleted = 0;
    for (const m of mechanism === null ? (['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) : [mechanism]) {
      if ((await this.#writer.delete(user, m)).deleted) deleted++;
    }
    return deleted;
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
