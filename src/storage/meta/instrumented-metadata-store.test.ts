import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafscaleMetrics } from '../../telemetry/metrics.ts';
import { EmbeddedMetadataStore } from './embedded-metadata-store.ts';
import { InstrumentedMetadataStore } from './instrumented-metadata-store.ts';
import { reconnectingFixture, runMetadataStoreContract } from './metadata-store-contract.ts';
import { tempDirs } from '../../../test/helpers/temp-dir.ts';

const tempDir = tempDirs('kafscale-meta-instr-');

// The decorator must be invisible: the whole port contract holds through it.
runMetadataStoreContract('instrumented(embedded)', () => {
  const dir = tempDir();
  return reconnectingFixture(async () => new InstrumentedMetadataStore(await EmbeddedMetadataStore.open({ dir }), new KafscaleMetrics()));
});

test('every call is counted by operation and outcome, and timed', async (t) => {
  const metrics = new KafscaleMetrics();
  const inner = await EmbeddedMetadataStore.open({ dir: tempDir() });
  const store = new InstrumentedMetadataStore(inner, metrics);
  t.after(() => store.close());
  await store.put('/a', Buffer.from('1'));
  await store.get('/a');
  await store.range('/');
  await store.txn({ compare: [], success: [{ type: 'put', key: '/b', value: Buffer.from('2') }] });
  await store.delete('/b');
  await store.revision();
  await store.close();
  await assert.rejects(store.get('/a'));

  const counts = new Map((await metrics.metadataStoreRequestsTotal.get()).values.map((v) => [`${v.labels.operation}/${v.labels.outcome}`, v.value]));
  assert.equal(counts.get('put/ok'), 1);
  assert.equal(counts.get('get/ok'), 1);
  assert.equal(counts.get('get/error'), 1, 'a call on a closed store is an error');
  assert.equal(counts.get('range/ok'), 1);
  assert.equal(counts.get('txn/ok'), 1);
  assert.equal(counts.get('delete/ok'), 1);
  assert.equal(counts.get('revision/ok'), 1);
  const durations = (await metrics.metadataStoreRequestDurationSeconds.get()).values.filter((v) => v.metricName === 'kafscale_metadata_store_request_duration_seconds_count');
  assert.equal(durations.find((v) => v.labels.operation === 'get')?.value, 2);
});
