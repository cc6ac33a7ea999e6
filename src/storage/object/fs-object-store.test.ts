import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKafscaleError } from '../../telemetry/kafscale-error.ts';
import { FsObjectStore } from './fs-object-store.ts';
import { runObjectStoreContract } from './object-store-contract.ts';

const base = await mkdtemp(join(tmpdir(), 'kafscale-fs-store-'));
after(() => rm(base, { recursive: true, force: true }));
let counter = 0;

runObjectStoreContract('filesystem', async () => new FsObjectStore({ root: join(base, `store-${++counter}`) }).open());

it('filesystem store: keys are plain paths under the root', async () => {
  const root = join(base, 'layout');
  const store = await new FsObjectStore({ root }).open();
  await store.put('ns/topic/0/segment-1.kfs', Buffer.from('seg'));
  assert.deepEqual(await readdir(join(root, 'ns', 'topic', '0')), ['segment-1.kfs']);
  await store.close();
});

it('filesystem store: delete removes emptied directories but not the root', async () => {
  const root = join(base, 'prune');
  const store = await new FsObjectStore({ root }).open();
  await store.put('a/b/c/one', Buffer.from('1'));
  await store.put('a/keep', Buffer.from('k'));
  await store.delete(['a/b/c/one']);
  assert.deepEqual(await readdir(join(root, 'a')), ['keep']);
  await store.delete(['a/keep']);
  assert.deepEqual(await readdir(root), []);
  await store.close();
});

it('filesystem store: a key used as a directory by another key is a typed error', async () => {
  const store = await new FsObjectStore({ root: join(base, 'conflict') }).open();
  await store.put('x/y', Buffer.from('file'));
  await assert.rejects(store.put('x/y/z', Buffer.from('below a file')), (err) => isKafscaleError(err, 'KSC_OBJECT_INVALID_KEY'));
  await store.put('d/e/f', Buffer.from('f'));
  await assert.rejects(store.put('d/e', Buffer.from('over a dir')), (err) => isKafscaleError(err, 'KSC_OBJECT_INVALID_KEY'));
  assert.equal((await store.get('d/e/f')).toString(), 'f');
  await store.close();
});

it('filesystem store: leftover temp files are invisible and swept', async () => {
  const root = join(base, 'sweep');
  const store = await new FsObjectStore({ root }).open();
  await store.put('p/real', Buffer.from('r'));
  await mkdir(join(root, 'p'), { recursive: true });
  await writeFile(join(root, 'p', 'real~123-1-abcd'), 'half-written');
  const listed = [];
  for await (const info of store.list('')) listed.push(info.key);
  assert.deepEqual(listed, ['p/real']);
  assert.equal(await store.sweepTempFiles(), 1);
  assert.deepEqual(await readdir(join(root, 'p')), ['real']);
  await store.close();
});

it('filesystem store: an unwritable root is KSC_OBJECT_UNAVAILABLE, not a crash', async () => {
  const file = join(base, 'not-a-dir');
  await writeFile(file, 'x');
  await assert.rejects(new FsObjectStore({ root: file }).open(), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE') && err.message.includes(file));
});

it('filesystem store: a background put (synced in 1 MiB steps) stores exactly the bytes, across chunk boundaries', async () => {
  const store = await new FsObjectStore({ root: join(base, 'background') }).open();
  // Chunks of odd sizes so that steps and chunk ends do not line up.
  const chunks = [Buffer.alloc(700_000, 1), Buffer.alloc(1_500_001, 2), Buffer.alloc(3, 3), Buffer.alloc(900_000, 4)];
  await store.put('seg/one', chunks, { background: true });
  assert.ok((await store.get('seg/one')).equals(Buffer.concat(chunks)));
  await store.put('seg/empty', [], { background: true });
  assert.equal((await store.get('seg/empty')).length, 0);
  await store.close();
});
