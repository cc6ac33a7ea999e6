/**
 * The flush linger applies while flushes are in flight; an idle pipeline waits only `idleLingerMs`
 * (flush-pipeline.ts). At light load, waiting on an idle pipeline rarely saves a PUT and always costs
 * latency; under load, data arriving behind a running flush still lingers and shares an object.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { LogService, type LogServiceOptions, type TopicRef } from './log-service.ts';
import { batchOf, ControlledObjects, embeddedStore, silentLog } from '../../../test/helpers/log-faults.ts';

async function open(t: TestContext, controlled: ControlledObjects, flush: LogServiceOptions['flush']): Promise<{ service: LogService; tp: TopicRef }> {
  const store = await embeddedStore(t);
  const service = await LogService.open({ store, objects: controlled.objects, log: silentLog, brokerId: 1, lease: await store.grantLease(10_000), namespace: 'ns', merge: false, ...(flush === undefined ? {} : { flush }) });
  t.after(() => service.close());
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  return { service, tp };
}

test('idle pipeline: an append is flushed at once (idleLingerMs 0), not after the 400 ms linger', async (t) => {
  const controlled = new ControlledObjects();
  const { service, tp } = await open(t, controlled, { lingerMs: 400, idleLingerMs: 0 });
  const started = performance.now();
  const result = await service.append(tp, 0, [batchOf('a', 1)]);
  const elapsed = performance.now() - started;
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.ok(elapsed < 300, `acknowledged after ${elapsed.toFixed(0)} ms`);
});

test('behind a running flush, appends linger and share one object', async (t) => {
  const controlled = new ControlledObjects();
  const { service, tp } = await open(t, controlled, { lingerMs: 150, idleLingerMs: 0, maxInflight: 4 });
  controlled.holdPuts = true;
  const first = service.append(tp, 0, [batchOf('first', 1)]);
  const [held] = await controlled.waitForHeld(1);
  // A flush is in flight: these three linger 150 ms (a slot is free, so only the linger holds them).
  const later = [service.append(tp, 0, [batchOf('b', 1)]), service.append(tp, 0, [batchOf('c', 1)])];
  await new Promise((r) => setTimeout(r, 50));
  later.push(service.append(tp, 0, [batchOf('d', 1)]));
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(controlled.puts.length, 1, 'nothing flushed before the linger ends');
  const [, second] = await controlled.waitForHeld(2);
  held!.release();
  second!.release();
  for (const r of await Promise.all([first, ...later])) assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(controlled.puts.length, 2, 'the three lingering appends shared one WAL object');
});

test('without idleLingerMs the linger applies on an idle pipeline too (the service default; the cost profile)', async (t) => {
  const controlled = new ControlledObjects();
  const { service, tp } = await open(t, controlled, { lingerMs: 200 });
  const started = performance.now();
  assert.equal((await service.append(tp, 0, [batchOf('a', 1)])).errorCode, ErrorCode.NONE);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 190, `acknowledged after ${elapsed.toFixed(0)} ms`);
});

test('idle pipeline: the flush starts on the next turn of the event loop, not on a timer (a 0 ms timer is 1 ms)', async (t) => {
  const controlled = new ControlledObjects();
  const { service, tp } = await open(t, controlled, { lingerMs: 400, idleLingerMs: 0 });
  controlled.holdPuts = true;
  // With timers frozen, only a flush started by setImmediate can reach the object store.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const appended = service.append(tp, 0, [batchOf('a', 1)]);
  for (let turn = 0; turn < 20 && controlled.puts.length === 0; turn++) await new Promise((resolve) => setImmediate(resolve));
  const putsWithoutTimers = controlled.puts.length;
  // Whatever happened, let a flush that waits on a timer run, so the test ends instead of hanging.
  t.mock.timers.runAll();
  t.mock.timers.reset();
  const [held] = await controlled.waitForHeld(1);
  held!.release();
  assert.equal((await appended).errorCode, ErrorCode.NONE);
  assert.equal(putsWithoutTimers, 1, 'the PUT started without any timer firing');
});
