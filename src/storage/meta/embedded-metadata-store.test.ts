import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedMetadataStore } from './embedded-metadata-store.ts';
import { runMetadataStoreContract } from './metadata-store-contract.ts';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-meta-'));
  roots.push(dir);
  return dir;
}

runMetadataStoreContract('embedded', async () => {
  const dir = tempDir();
  const stores: EmbeddedMetadataStore[] = [];
  const store = await EmbeddedMetadataStore.open({ dir });
  stores.push(store);
  return {
    store,
    reopen: async () => {
      const again = await EmbeddedMetadataStore.open({ dir });
      stores.push(again);
      return again;
    },
    cleanup: async () => {
      for (const s of stores) await s.close();
    },
  };
});
