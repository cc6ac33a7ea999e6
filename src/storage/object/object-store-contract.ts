/**
 * The ObjectStore contract as a node:test suite. Every adapter's test file calls
 * runObjectStoreContract; a behaviour the port promises is tested here once, for all adapters.
 * The factory must return a fresh, empty store for each test (new temp dir, new key namespace, ...).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isKafscaleError, type KafscaleErrorCode } from '../../telemetry/kafscale-error.ts';
import type { ObjectInfo, ObjectStore } from './object-store.ts';

export type ObjectStoreFactory = () => Promise<ObjectStore>;

export interface ObjectStoreContractOptions {
  /** Keys written by the "many keys" test; above 1000 crosses S3's list page size. Default 1100. */
  readonly manyKeys?: number;
}

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

async function keysOf(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((i) => i.key);
}

function rejectsWith(code: KafscaleErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isKafscaleError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  };
}

/** Runs `fn` over items with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

export function runObjectStoreContract(name: string, factory: ObjectStoreFactory, options: ObjectStoreContractOptions = {}): void {
  const manyKeys = options.manyKeys ?? 1100;

  describe(`ObjectStore contract: ${name}`, () => {
    async function fresh(t: { after: (fn: () => Promise<void>) => void }): Promise<ObjectStore> {
      const store = await factory();
      t.after(() => store.close());
      return store;
    }

    it('put then get returns the same bytes', async (t) => {
      const store = await fresh(t);
      const body = Buffer.from('hello object store');
      await store.put('a/b/hello.bin', body);
      assert.deepEqual(await store.get('a/b/hello.bin'), body);
    });

    it('range get returns the range, clipped at the end', async (t) => {
      const store = await fresh(t);
      await store.put('r/obj', Buffer.from('0123456789'));
      assert.equal((await store.get('r/obj', { range: { start: 2, end: 5 } })).toString(), '234');
      assert.equal((await store.get('r/obj', { range: { start: 0, end: 10 } })).toString(), '0123456789');
      assert.equal((await store.get('r/obj', { range: { start: 7, end: 100 } })).toString(), '789');
      assert.equal((await store.get('r/obj', { range: { start: 9, end: 10 } })).toString(), '9');
      assert.equal((await store.get('r/obj', { range: { start: 4, end: 4 } })).length, 0);
      assert.equal((await store.get('r/obj', { range: { start: 10, end: 20 } })).length, 0);
      assert.equal((await store.get('r/obj', { range: { start: 50, end: 60 } })).length, 0);
    });

    it('empty objects and Buffer[] bodies', async (t) => {
      const store = await fresh(t);
      await store.put('parts/three', [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde'), Buffer.from('f')]);
      assert.equal((await store.get('parts/three')).toString(), 'abcdef');
      assert.equal((await store.head('parts/three')).sizeBytes, 6);
      assert.equal((await store.get('parts/three', { range: { start: 1, end: 4 } })).toString(), 'bcd');
      await store.put('parts/none', []);
      assert.equal((await store.get('parts/none')).length, 0);
      await store.put('parts/empty', Buffer.alloc(0));
      assert.equal((await store.head('parts/empty')).sizeBytes, 0);
      assert.equal((await store.get('parts/empty', { range: { start: 0, end: 10 } })).length, 0);
    });

    it('put overwrites, including with a shorter object', async (t) => {
      const store = await fresh(t);
      await store.put('ow/key', Buffer.from('a much longer first version'));
      await store.put('ow/key', Buffer.from('short'));
      assert.equal((await store.get('ow/key')).toString(), 'short');
      assert.equal((await store.head('ow/key')).sizeBytes, 5);
    });

    it('head reports key, size and a plausible modification time', async (t) => {
      const store = await fresh(t);
      const before = Date.now();
      await store.put('h/one', Buffer.alloc(1234, 1));
      const info = await store.head('h/one');
      assert.equal(info.key, 'h/one');
      assert.equal(info.sizeBytes, 1234);
      // S3 reports seconds; allow for that and for clock granularity
      assert.ok(Math.abs(info.modifiedMs - before) < 60_000, `modifiedMs ${info.modifiedMs} vs now ${before}`);
    });

    it('missing objects fail with KSC_OBJECT_NOT_FOUND', async (t) => {
      const store = await fresh(t);
      await assert.rejects(store.get('missing/key'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await assert.rejects(store.get('missing/key', { range: { start: 0, end: 1 } }), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await assert.rejects(store.head('missing/key'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await store.put('dir/child', Buffer.from('x'));
      // 'dir' is only a prefix of a key, not an object
      await assert.rejects(store.get('dir'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await assert.rejects(store.head('dir'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
    });

    it('invalid keys and prefixes are rejected with KSC_OBJECT_INVALID_KEY', async (t) => {
      const store = await fresh(t);
      const bad = ['', '/abs', 'a//b', 'trailing/', '..', '../escape', 'a/../b', 'a/./b', '.', 'sp ace', 'back\\slash', 'ünï', 'q?x', 'x'.repeat(1025)];
      for (const key of bad) {
        await assert.rejects(store.put(key, Buffer.from('x')), rejectsWith('KSC_OBJECT_INVALID_KEY'), `put ${key}`);
        await assert.rejects(store.get(key), rejectsWith('KSC_OBJECT_INVALID_KEY'), `get ${key}`);
        await assert.rejects(store.head(key), rejectsWith('KSC_OBJECT_INVALID_KEY'), `head ${key}`);
        await assert.rejects(store.delete(['ok/key', key]), rejectsWith('KSC_OBJECT_INVALID_KEY'), `delete ${key}`);
      }
      for (const prefix of ['/abs', '../', 'a//', 'a/../', 'sp ace']) {
        await assert.rejects(collect(store.list(prefix)), rejectsWith('KSC_OBJECT_INVALID_KEY'), `list ${prefix}`);
      }
      assert.deepEqual(await keysOf(store, ''), [], 'nothing was written');
    });

    it('keys may use every allowed character', async (t) => {
      const store = await fresh(t);
      const keys = ['.hidden', 'A-Z_a-z.0-9', 'ns/topic.with-dots_and_underscores/0/segment-00000000000000000000.kfs'];
      for (const key of keys) await store.put(key, Buffer.from(key));
      for (const key of keys) assert.equal((await store.get(key)).toString(), key);
      assert.deepEqual(await keysOf(store, ''), [...keys].sort());
    });

    it('list returns objects under a prefix, sorted by key, with sizes', async (t) => {
      const store = await fresh(t);
      const keys = ['t/1/b', 't/0/z', 't/0/a', 't/10/a', 't/0-x', 't/0.x', 'u/0/a', 't0', 't/0/a/deeper', 'tt/x'];
      // t/0/a and t/0/a/deeper: a key may also be a prefix of other keys (fine in S3; see fs adapter docs)
      const portable = keys.filter((k) => k !== 't/0/a/deeper');
      for (const key of portable) await store.put(key, Buffer.alloc(key.length, 1));
      assert.deepEqual(await keysOf(store, ''), [...portable].sort());
      assert.deepEqual(await keysOf(store, 't/'), ['t/0-x', 't/0.x', 't/0/a', 't/0/z', 't/1/b', 't/10/a']);
      assert.deepEqual(await keysOf(store, 't/0/'), ['t/0/a', 't/0/z']);
      assert.deepEqual(await keysOf(store, 't/0'), ['t/0-x', 't/0.x', 't/0/a', 't/0/z']);
      assert.deepEqual(await keysOf(store, 't/1'), ['t/1/b', 't/10/a']);
      assert.deepEqual(await keysOf(store, 't'), ['t/0-x', 't/0.x', 't/0/a', 't/0/z', 't/1/b', 't/10/a', 't0', 'tt/x']);
      assert.deepEqual(await keysOf(store, 't/0/a'), ['t/0/a']);
      assert.deepEqual(await keysOf(store, 'nothing/'), []);
      assert.deepEqual(await keysOf(store, 't/2'), []);
      const infos = await collect(store.list('u/'));
      assert.deepEqual(infos.map((i) => [i.key, i.sizeBytes]), [['u/0/a', 5]]);
    });

    it(`list pages through many keys (${manyKeys}) in order`, async (t) => {
      const store = await fresh(t);
      const keys = Array.from({ length: manyKeys }, (_, i) => `many/${String((i * 7919) % manyKeys).padStart(5, '0')}`);
      await inParallel(keys, 16, (key) => store.put(key, Buffer.from(key)));
      await store.put('many-not/x', Buffer.from('x'));
      const listed = await keysOf(store, 'many/');
      assert.equal(listed.length, manyKeys);
      assert.deepEqual(listed, [...keys].sort());
    });

    it('delete removes a batch of keys; missing keys are fine', async (t) => {
      const store = await fresh(t);
      for (const key of ['d/a', 'd/b', 'd/sub/c', 'keep/x']) await store.put(key, Buffer.from(key));
      await store.delete(['d/a', 'd/sub/c', 'd/never-existed', 'nope/nope']);
      await store.delete([]);
      await assert.rejects(store.get('d/a'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await assert.rejects(store.head('d/sub/c'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      assert.deepEqual(await keysOf(store, ''), ['d/b', 'keep/x']);
      await store.delete(['d/b']);
      assert.deepEqual(await keysOf(store, 'd/'), []);
      // the prefix is usable again after its last object went away
      await store.put('d/sub/c', Buffer.from('again'));
      assert.equal((await store.get('d/sub/c')).toString(), 'again');
    });

    it('delete handles more keys than one S3 batch (1000)', async (t) => {
      const store = await fresh(t);
      const keys = Array.from({ length: 1005 }, (_, i) => `bulk/${String(i).padStart(4, '0')}`);
      await inParallel(keys.slice(0, 20), 8, (key) => store.put(key, Buffer.from('x')));
      await store.put('bulk/9999', Buffer.from('stays'));
      await store.delete(keys);
      assert.deepEqual(await keysOf(store, 'bulk/'), ['bulk/9999']);
    });

    it('concurrent puts of different keys all land', async (t) => {
      const store = await fresh(t);
      const keys = Array.from({ length: 40 }, (_, i) => `c/${i % 4}/k${i}`);
      await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
      for (const key of keys) assert.equal((await store.get(key)).toString(), key);
      assert.equal((await keysOf(store, 'c/')).length, 40);
    });

    it('concurrent puts of one key leave exactly one whole version', async (t) => {
      const store = await fresh(t);
      const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024 + i * 1000, 65 + i));
      await Promise.all(versions.map((v) => store.put('race/key', v)));
      const got = await store.get('race/key');
      assert.ok(versions.some((v) => v.equals(got)), 'the object is one of the written versions, not a mix');
      assert.deepEqual(await keysOf(store, 'race/'), ['race/key'], 'no temporary objects are visible');
    });

    it('put and delete racing in one directory never lose the put', async (t) => {
      const store = await fresh(t);
      for (let round = 0; round < 10; round++) {
        await store.put(`rd/${round}/old`, Buffer.from('old'));
        await Promise.all([store.delete([`rd/${round}/old`]), store.put(`rd/${round}/new`, Buffer.from('new'))]);
        assert.equal((await store.get(`rd/${round}/new`)).toString(), 'new');
      }
    });

    it('large objects (8 MiB) round-trip, whole and ranged', async (t) => {
      const store = await fresh(t);
      const big = randomBytes(8 * 1024 * 1024);
      await store.put('large/object', big);
      assert.equal((await store.head('large/object')).sizeBytes, big.length);
      const whole = await store.get('large/object');
      assert.ok(whole.equals(big));
      const start = 3 * 1024 * 1024 + 17;
      const part = await store.get('large/object', { range: { start, end: start + 1024 * 1024 } });
      assert.ok(part.equals(big.subarray(start, start + 1024 * 1024)));
    });

    it('stored bytes do not alias the caller buffers', async (t) => {
      const store = await fresh(t);
      const body = Buffer.from('original');
      await store.put('alias/key', body);
      body.fill(0);
      const got = await store.get('alias/key');
      assert.equal(got.toString(), 'original');
      got.fill(0);
      assert.equal((await store.get('alias/key')).toString(), 'original');
    });

    it('an aborted signal stops put and get', async (t) => {
      const store = await fresh(t);
      const controller = new AbortController();
      controller.abort(new Error('caller gave up'));
      await assert.rejects(store.put('ab/key', Buffer.from('x'), { signal: controller.signal }), /caller gave up/);
      await assert.rejects(store.head('ab/key'), rejectsWith('KSC_OBJECT_NOT_FOUND'));
      await store.put('ab/key', Buffer.from('x'));
      await assert.rejects(store.get('ab/key', { signal: controller.signal }), /caller gave up/);
    });
  });
}
