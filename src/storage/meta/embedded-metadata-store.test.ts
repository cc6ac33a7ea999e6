import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedMetadataStore } from './embedded-metadata-store.ts';
import { reconnectingFixture, runMetadataStoreContract } from './metadata-store-contract.ts';
import { tempDirs } from '../../../test/helpers/temp-dir.ts';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';

const tempDir = tempDirs('kafscale-meta-');

runMetadataStoreContract('embedded', () => {
  const dir = tempDir();
  return reconnectingFixture(() => EmbeddedMetadataStore.open({ dir }));
});

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

test('embedded: data, revisions and lease ids survive close and reopen', async (t) => {
  const dir = tempDir();
  const first = await EmbeddedMetadataStore.open({ dir });
  const rev = await first.put('keep/a', b('a'));
  const lease = await first.grantLease(60_000);
  await first.close();
  const second = await EmbeddedMetadataStore.open({ dir });
  t.after(() => second.close());
  assert.equal(await second.revision(), rev);
  assert.deepEqual((await second.get('keep/a'))?.value, b('a'));
  assert.equal(await second.put('keep/b', b('b')), rev + 1);
  const next = await second.grantLease(60_000);
  assert.notEqual(next.id, lease.id, 'lease ids are never reused across restarts');
});

test('embedded: a second open of a held directory is refused with an error naming it', async (t) => {
  const dir = tempDir();
  const store = await EmbeddedMetadataStore.open({ dir });
  t.after(() => store.close());
  await assert.rejects(EmbeddedMetadataStore.open({ dir }), (error: unknown) => {
    assert.ok(isKafscaleError(error, 'KSC_META_UNAVAILABLE'));
    assert.match(error.message, new RegExp(dir.replaceAll('/', '\\/')));
    return true;
  });
});

test('embedded: a lock held by another live process is refused, a dead one is taken over', async (t) => {
  const dir = tempDir();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  assert.ok(holder.pid);
  writeFileSync(join(dir, 'kafscale.lock'), `${holder.pid}\n`);
  await assert.rejects(EmbeddedMetadataStore.open({ dir }), (error: unknown) => {
    assert.ok(isKafscaleError(error, 'KSC_META_UNAVAILABLE'));
    assert.match(error.message, new RegExp(`process ${holder.pid}`));
    assert.ok(error.message.includes(dir));
    return true;
  });
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  holder.kill('SIGKILL');
  await exited;
  const store = await EmbeddedMetadataStore.open({ dir });
  t.after(() => store.close());
  assert.equal((JSON.parse(readFileSync(join(dir, 'kafscale.lock'), 'utf8')) as { pid: number }).pid, process.pid);
  await store.put('x', b('1'));
});

test('embedded: every acknowledged write survives kill -9 of the writer', async (t) => {
  const dir = tempDir();
  const moduleUrl = new URL('./embedded-metadata-store.ts', import.meta.url).href;
  const script = `
    const { EmbeddedMetadataStore } = await import(${JSON.stringify(moduleUrl)});
    const store = await EmbeddedMetadataStore.open({ dir: ${JSON.stringify(dir)} });
    for (let i = 0; ; i++) {
      await store.txn({ compare: [], success: [{ type: 'put', key: 'crash/' + String(i).padStart(6, '0'), value: Buffer.from(String(i)) }] });
      process.stdout.write(i + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let acknowledged = -1;
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) acknowledged = Number(line);
  });
  const deadline = Date.now() + 10_000;
  while (acknowledged < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(acknowledged >= 200, `the writer acknowledged only ${acknowledged} writes in 10 s`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const store = await EmbeddedMetadataStore.open({ dir }); // the dead pid's lock is taken over
  t.after(() => store.close());
  const { kvs, revision } = await store.range('crash/');
  assert.ok(kvs.length >= acknowledged + 1, `${kvs.length} keys survived, ${acknowledged + 1} were acknowledged`);
  assert.equal(revision, kvs.length + 1, 'one revision per write (an empty store is at 1), no torn transaction');
  kvs.forEach((kv, i) => assert.equal(kv.value.toString(), String(i)));
});

test('embedded: watching from a revision older than the kept history reports KSC_META_COMPACTED', async (t) => {
  const dir = tempDir();
  const store = await EmbeddedMetadataStore.open({ dir, historyRevisions: 5 });
  t.after(() => store.close());
  for (let i = 0; i < 10; i++) await store.put(`hist/${i}`, b(String(i)));
  const errors: Error[] = [];
  const seen: number[] = [];
  const handler = { onEvents: (events: readonly { revision: number }[]) => seen.push(...events.map((e) => e.revision)), onError: (e: Error) => errors.push(e) };
  // revisions 2..11 were written; the last 5 (7..11) are kept
  await store.watch('hist/', { fromRevision: 6 }, handler);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(errors.length, 1);
  assert.ok(isKafscaleError(errors[0], 'KSC_META_COMPACTED'));
  assert.equal(seen.length, 0);
  const ok = await store.watch('hist/', { fromRevision: 7 }, { onEvents: (events) => seen.push(...events.map((e) => e.revision)), onError: (e) => errors.push(e) });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, [7, 8, 9, 10, 11]);
  assert.equal(errors.length, 1);
  await ok.close();
});

test('embedded: txns of one event turn share a commit yet stay separate: dense revisions, a failing one rolls back alone, watch order kept', async (t) => {
  const store = await EmbeddedMetadataStore.open({ dir: tempDir() });
  t.after(() => store.close());
  const base = await store.revision();
  const seen: number[] = [];
  const watch = await store.watch('turn/', {}, { onEvents: (events) => seen.push(...events.map((e) => e.revision)), onError: () => undefined });
  t.after(() => watch.close());
  const lease = await store.grantLease(60_000);
  await lease.revoke();
  // All issued in the same turn: lmdb-js batches them into one write transaction.
  const writes = Array.from({ length: 20 }, (_, i) => store.put(`turn/${String(i).padStart(2, '0')}`, b(String(i))));
  const lost = store.put('turn/leased', b('x'), { lease: lease.id });
  const guarded = store.txn({ compare: [{ key: 'turn/00', target: 'createRevision', op: '==', value: 0 }], success: [{ type: 'put', key: 'turn/never', value: b('n') }] });
  const revisions = await Promise.all(writes);
  await assert.rejects(lost, (error: unknown) => isKafscaleError(error, 'KSC_META_LEASE_LOST'));
  // turn/00 was created earlier in the same batch: the compare sees it (callbacks run in call order).
  assert.equal((await guarded).succeeded, false);
  assert.deepEqual(revisions, Array.from({ length: 20 }, (_, i) => base + 1 + i), 'one revision per txn, in call order');
  assert.equal(await store.get('turn/leased'), null, 'the failed txn wrote nothing');
  assert.equal(await store.get('turn/never'), null);
  assert.equal((await store.range('turn/')).kvs.length, 20);
  const deadline = Date.now() + 5_000;
  while (seen.length < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(seen, revisions, 'watch events in revision order, each once');
});
