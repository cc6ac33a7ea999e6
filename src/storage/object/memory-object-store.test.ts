import { it } from 'node:test';
import assert from 'node:assert/strict';
import { KafscaleError, isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { MemoryObjectStore } from './memory-object-store.ts';
import { runObjectStoreContract } from './object-store-contract.ts';

runObjectStoreContract('memory', async () => new MemoryObjectStore());

it('memory store: beforeOperation injects faults per operation', async () => {
  let failPuts = true;
  const store = new MemoryObjectStore({
    beforeOperation: (operation) => {
      if (operation === 'put' && failPuts) throw new KafscaleError('KSC_OBJECT_UNAVAILABLE', 'injected', { retriable: true });
    },
  });
  await assert.rejects(store.put('k', Buffer.from('x')), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE'));
  assert.equal(store.size, 0);
  failPuts = false;
  await store.put('k', Buffer.from('x'));
  assert.equal(store.size, 1);
  await store.close();
  await assert.rejects(store.get('k'), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE'));
});
