import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafscaleMetrics } from '../../telemetry/metrics.ts';
import { InstrumentedObjectStore } from './instrumented-object-store.ts';
import { MemoryObjectStore } from './memory-object-store.ts';

test('every object-store call is counted by operation and outcome, and timed; a listing counts once', async () => {
  const metrics = new KafscaleMetrics();
  const store = new InstrumentedObjectStore(new MemoryObjectStore(), metrics);
  await store.put('a/1', Buffer.from('one'));
  await store.put('a/2', Buffer.from('two'));
  assert.equal((await store.get('a/1')).toString(), 'one');
  await assert.rejects(store.get('missing'));
  await store.head('a/2');
  const listed: string[] = [];
  for await (const info of store.list('a/')) listed.push(info.key);
  assert.deepEqual(listed, ['a/1', 'a/2']);
  await store.delete(['a/1']);

  const counts = Object.fromEntries((await metrics.objectStoreRequestsTotal.get()).values.map((v) => [`${v.labels.operation}/${v.labels.outcome}`, v.value]));
  // A missing object is an error; a listing is one call however many objects it yields.
  assert.deepEqual(counts, { 'put/ok': 2, 'get/ok': 1, 'get/error': 1, 'head/ok': 1, 'list/ok': 1, 'delete/ok': 1 });
  const durations = (await metrics.objectStoreRequestDurationSeconds.get()).values.filter((v) => v.metricName === 'kafscale_object_store_request_duration_seconds_count');
  assert.equal(durations.find((v) => v.labels.operation === 'get')?.value, 2);
  assert.equal(durations.find((v) => v.labels.operation === 'list')?.value, 1);
  await store.close();
});
