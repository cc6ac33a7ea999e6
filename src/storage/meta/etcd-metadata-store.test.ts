import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdServer } from '../../../test/helpers/etcd-server.ts';
import type { EtcdServer } from '../../../test/helpers/etcd-server.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { EtcdMetadataStore } from './etcd-metadata-store.ts';
import { runMetadataStoreContract } from './metadata-store-contract.ts';
import type { WatchEvent } from './metadata-store.ts';

let server: EtcdServer;
before(async () => {
  server = await startEtcdServer();
});
after(() => server.close());

let namespaces = 0;
async function connect(namespace: string, requestTimeoutMs = 2000): Promise<EtcdMetadataStore> {
  return await EtcdMetadataStore.connect({ endpoints: [server.endpoint], namespace, requestTimeoutMs });
}

runMetadataStoreContract('etcd', async () => {
  // A fresh namespace per test keeps tests apart on one etcd; revisions stay store-wide.
  const namespace = `/test-${process.pid}-${namespaces++}/`;
  const stores: EtcdMetadataStore[] = [];
  const store = await connect(namespace);
  stores.push(store);
  return {
    store,
    reopen: async () => {
      const again = await connect(namespace);
      stores.push(again);
      return again;
    },
    cleanup: async () => {
      for (const s of stores) await s.close();
    },
  };
});
