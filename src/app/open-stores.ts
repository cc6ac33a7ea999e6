/** Opens the configured stores: embedded metadata or etcd, filesystem objects or S3 (adapters named only in app/). */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { KafscaleConfig } from '../config/index.ts';
import { EmbeddedMetadataStore } from '../storage/meta/embedded-metadata-store.ts';
import type { MetadataStore } from '../storage/meta/metadata-store.ts';
import { FsObjectStore } from '../storage/object/fs-object-store.ts';
import type { ObjectStore } from '../storage/object/object-store.ts';

export async function openMetadataStore(config: KafscaleConfig, log: Logger): Promise<MetadataStore> {
  const cfg = config.metadataStore;
  if (cfg.kind === 'embedded') {
    await mkdir(cfg.dir, { recursive: true });
    return EmbeddedMetadataStore.open({ dir: cfg.dir, log: log.child({ component: 'meta' }) });
  }
  const { openEtcdMetadataStore } = await import('./etcd-store-factory.ts');
  return openEtcdMetadataStore(cfg, log.child({ component: 'meta' }));
}

export async function openObjectStore(config: KafscaleConfig, log: Logger): Promise<ObjectStore> {
  const cfg = config.objectStore;
  if (cfg.kind === 'filesystem') {
    await mkdir(cfg.rootDir, { recursive: true });
    const store = new FsObjectStore({ root: cfg.rootDir });
    // Temp files of puts interrupted by a crash are garbage; remove them before the first put.
    const swept = await store.sweepTempFiles();
    if (swept > 0) log.info({ swept }, 'removed temp files left by an interrupted put');
    return store;
  }
  const { openS3ObjectStore } = await import('./s3-store-factory.ts');
  return openS3ObjectStore(cfg, log.child({ component: 'objects' }));
}
