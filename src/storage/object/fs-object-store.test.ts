import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
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

it('filesystem store: puts into a directory that was removed since (by a delete, or by hand) re-create it', async () => {
  const root = join(base, 'recreate');
  const store = await new FsObjectStore({ root }).open();
  await store.put('ns/wal/one', Buffer.from('1'));
  await store.delete(['ns/wal/one']); // empties and removes ns/wal and ns
  await store.put('ns/wal/two', Buffer.from('2'));
  assert.deepEqual(await store.get('ns/wal/two'), Buffer.from('2'));
  await rm(join(root, 'ns'), { recursive: true }); // behind the store's back
  await store.put('ns/wal/three', Buffer.from('3'));
  assert.deepEqual(await store.get('ns/wal/three'), Buffer.from('3'));
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

it('filesystem store: a background put (synced in 256 KiB steps) stores exactly the bytes, across chunk boundaries', async () => {
  const store = await new FsObjectStore({ root: join(base, 'background') }).open();
  // Chunks of odd sizes so that steps and chunk ends do not line up.
  const chunks = [Buffer.alloc(700_000, 1), Buffer.alloc(1_500_001, 2), Buffer.alloc(3, 3), Buffer.alloc(900_000, 4)];
  await store.put('seg/one', chunks, { background: true });
  assert.ok((await store.get('seg/one')).equals(Buffer.concat(chunks)));
  await store.put('seg/empty', [], { background: true });
  assert.equal((await store.get('seg/empty')).length, 0);
  await store.close();
});

/** The real directory fsync, recorded; syncs of `gated` wait until released. */
function recordingSync(gated: string): { syncDirectory: (dir: string) => Promise<void>; synced: string[]; release: () => void } {
  const synced: string[] = [];
  const gate = Promise.withResolvers<void>();
  return {
    synced,
    release: () => gate.resolve(),
    syncDirectory: async (dir) => {
      if (dir === gated) await gate.promise;
      const handle = await open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      synced.push(dir);
    },
  };
}

it('filesystem store: concurrent first puts into a new directory all return only after its entry is synced into the parent', async () => {
  const root = join(base, 'new-dir-race');
  const sync = recordingSync(join(root, 'topic'));
  const store = await new FsObjectStore({ root, syncDirectory: sync.syncDirectory }).open();
  let settled = 0;
  // One of these creates topic/0; the other finds it already there and must not return before the
  // creator's parent sync (of topic/) is done, or a crash could lose the directory with its object.
  const puts = ['topic/0/a', 'topic/0/b', 'topic/0/c'].map((key) => store.put(key, Buffer.from(key)).then(() => settled++));
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(settled, 0, 'no put returned while the new directory was not yet durable in its parent');
  sync.release();
  await Promise.all(puts);
  assert.ok(sync.synced.includes(join(root, 'topic')) && sync.synced.includes(root), 'the chain up to the root was synced');
  // Known durable now: the next put syncs only its own directory.
  sync.synced.length = 0;
  await store.put('topic/0/d', Buffer.from('d'));
  assert.deepEqual(sync.synced, [join(root, 'topic', '0')]);
  // A directory removed and created again is new again.
  await store.delete(['topic/0/a', 'topic/0/b', 'topic/0/c', 'topic/0/d']);
  sync.synced.length = 0;
  await store.put('topic/0/e', Buffer.from('e'));
  assert.deepEqual(sync.synced, [join(root, 'topic', '0'), join(root, 'topic'), root]);
  await store.close();
});

it('filesystem store: a newKey put (WAL objects) is written in place and returns only once its directory is synced too', async () => {
  const root = join(base, 'new-key');
  const store = await new FsObjectStore({ root }).open();
  await store.put('wal/seed', Buffer.from('seed')); // the directory exists and is durable in its parent
  await store.close();
  const sync = recordingSync(join(root, 'wal'));
  const gated = await new FsObjectStore({ root, syncDirectory: sync.syncDirectory }).open();
  let settled = false;
  const body = [Buffer.alloc(70_000, 1), Buffer.alloc(5, 2)];
  const put = gated.put('wal/0001.wal', body, { newKey: true }).then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(settled, false, 'the put did not return while its directory entry was not yet durable');
  assert.deepEqual((await readdir(join(root, 'wal'))).sort(), ['0001.wal', 'seed'], 'no temp file: the object is written under its key');
  sync.release();
  await put;
  assert.ok(sync.synced.includes(join(root, 'wal')));
  assert.ok((await gated.get('wal/0001.wal')).equals(Buffer.concat(body)));
  await gated.close();
});

it('filesystem store: a newKey put of a key that exists replaces it whole (the temp-and-rename path)', async () => {
  const store = await new FsObjectStore({ root: join(base, 'new-key-exists') }).open();
  await store.put('wal/k', Buffer.from('a partial object left by a crash'));
  await store.put('wal/k', Buffer.from('whole'), { newKey: true });
  assert.equal((await store.get('wal/k')).toString(), 'whole');
  assert.deepEqual(await readdir(join(base, 'new-key-exists', 'wal')), ['k']);
  await store.close();
});

it('filesystem store: a newKey put whose sync fails is KSC_OBJECT_UNAVAILABLE and leaves no object', async () => {
  const root = join(base, 'new-key-fails');
  const store = await new FsObjectStore({
    root,
    syncDirectory: async (dir) => {
      if (dir.endsWith('wal')) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    },
  }).open();
  await assert.rejects(store.put('wal/0002.wal', Buffer.from('lost'), { newKey: true }), (err) => isKafscaleError(err, 'KSC_OBJECT_UNAVAILABLE'));
  assert.deepEqual(await readdir(join(root, 'wal')), [], 'the partial object was removed');
  await store.close();
});

it('filesystem store: a get reads straight into `into` when its length is the range\'s, else returns its own Buffer', async () => {
  const store = await new FsObjectStore({ root: join(base, 'into') }).open();
  await store.put('ns/obj', Buffer.from('0123456789'));
  const into = Buffer.alloc(4, '-');
  const got = await store.get('ns/obj', { range: { start: 3, end: 7 }, into });
  assert.equal(got, into, 'the caller\'s buffer, not a copy');
  assert.equal(into.toString(), '3456');
  const other = Buffer.alloc(5, '-');
  const clipped = await store.get('ns/obj', { range: { start: 8, end: 13 }, into: other });
  assert.notEqual(clipped, other, 'the clipped range is shorter: a Buffer of its own');
  assert.equal(clipped.toString(), '89');
  assert.equal(other.toString(), '-----', 'and the caller\'s buffer is left alone');
  await store.close();
});
