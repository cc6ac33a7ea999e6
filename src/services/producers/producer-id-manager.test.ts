import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { MAX_PRODUCER_EPOCH, ProducerIdManager } from './producer-id-manager.ts';

const log = pino({ level: 'silent' });

test('producer ids are unique across brokers sharing a store and across restarts (block allocation by CAS)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-pid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let store = await EmbeddedMetadataStore.open({ dir, log });
  const a = new ProducerIdManager(store, 10);
  const b = new ProducerIdManager(store, 10);
  // Concurrent requests on both "brokers" race for blocks of the same counter.
  const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).nextId()));
  assert.equal(new Set(ids).size, 60);
  await store.close();
  store = await EmbeddedMetadataStore.open({ dir, log });
  t.after(() => store.close());
  const restarted = new ProducerIdManager(store, 10);
  const after = await restarted.nextId();
  assert.ok(ids.every((id) => id < after), 'a restarted broker never reuses an id handed out before');
});

test('InitProducerId: new id at epoch 0, KIP-360 re-init bumps the epoch, an exhausted epoch gets a new id', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-pid-'));
  const store = await EmbeddedMetadataStore.open({ dir, log });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const ids = new ProducerIdManager(store);
  const first = await ids.initProducer(null);
  assert.equal(first.epoch, 0);
  assert.deepEqual(await ids.initProducer({ producerId: first.producerId, epoch: 0 }), { producerId: first.producerId, epoch: 1 });
  assert.deepEqual(await ids.initProducer({ producerId: -1n, epoch: -1 }), { producerId: first.producerId + 1n, epoch: 0 });
  const exhausted = await ids.initProducer({ producerId: first.producerId, epoch: MAX_PRODUCER_EPOCH });
  assert.notEqual(exhausted.producerId, first.producerId);
  assert.equal(exhausted.epoch, 0);
});
