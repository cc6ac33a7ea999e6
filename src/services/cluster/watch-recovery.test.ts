/**
 * Watch loss on every watcher of the metadata store (WatchRecovery, used by WatchedPrefix, OwnerDirectory
 * and LogCatalog): after the watch dies, a change made while it was down — and while re-watching failed —
 * is seen through the re-read, and closing stops the retries.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { embeddedStore, silentLog, until } from '../../../test/helpers/log-faults.ts';
import type { MetadataStore, Watch, WatchHandler, WatchOptions } from '../../storage/meta/metadata-store.ts';
import { KafscaleError } from '../../telemetry/kafscale-error.ts';
import { encodeLogEntry } from '../log/log-entry.ts';
import { LogCatalog } from '../log/log-catalog.ts';
import { MetaKeys } from './meta-keys.ts';
import { OwnerDirectory } from './owner-directory.ts';
import { TopicRegistry } from './topic-registry.ts';
import { WatchRecovery } from './watch-recovery.ts';
import { WatchedPrefix } from './watched-prefix.ts';

/** A store whose watches the test can kill, and whose next `failWatches` watch calls fail. */
class WatchKiller {
  readonly store: MetadataStore;
  failWatches = 0;
  watchCalls = 0;
  readonly #live = new Set<{ watch: Watch; handler: WatchHandler }>();

  constructor(inner: MetadataStore) {
    this.store = new Proxy(inner, {
      get: (target, prop, receiver) => {
        if (prop === 'watch') return (prefix: string, options: WatchOptions, handler: WatchHandler) => this.#watch(target, prefix, options, handler);
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Ends every live watch the way a compaction or reconnect does: closed, then onError. */
  async killAll(): Promise<void> {
    const live = [...this.#live];
    this.#live.clear();
    for (const { watch, handler } of live) {
      await watch.close();
      handler.onError(new KafscaleError('KSC_META_COMPACTED', 'injected watch loss'));
    }
  }

  async #watch(target: MetadataStore, prefix: string, options: WatchOptions, handler: WatchHandler): Promise<Watch> {
    this.watchCalls++;
    if (this.failWatches > 0) {
      this.failWatches--;
      throw new KafscaleError('KSC_META_UNAVAILABLE', 'injected watch failure', { retriable: true });
    }
    const watch = await target.watch(prefix, options, handler);
    const entry = { watch, handler };
    this.#live.add(entry);
    return { close: async () => { this.#live.delete(entry); await watch.close(); } };
  }
}

/** An embedded store, and the same store seen through a WatchKiller. */
async function killableStore(t: TestContext): Promise<{ inner: MetadataStore; killer: WatchKiller }> {
  const inner = await embeddedStore(t);
  return { inner, killer: new WatchKiller(inner) };
}

test('WatchRecovery retries a failing re-sync with backoff, one at a time, and stops on close', async () => {
  let attempts = 0;
  let succeedAt = 3;
  const recovery = new WatchRecovery({
    log: silentLog,
    resync: () => {
      attempts++;
      return attempts >= succeedAt ? Promise.resolve() : Promise.reject(new Error('store down'));
    },
    lostMessage: 'lost',
    retryMessage: 'retry',
  });
  const started = performance.now();
  assert.equal(recovery.lost(new Error('gone')), true);
  assert.equal(recovery.lost(new Error('gone again')), false, 'one re-sync at a time');
  await until(() => !recovery.resyncing, 're-sync done');
  assert.equal(attempts, 3);
  assert.ok(performance.now() - started >= 250, 'backed off 100 + 200 ms between attempts');

  attempts = 0;
  succeedAt = Number.POSITIVE_INFINITY;
  assert.equal(recovery.lost(new Error('gone')), true);
  await until(() => attempts >= 1, 'first attempt');
  recovery.close();
  await until(() => !recovery.resyncing, 'retries end on close', 1_000);
  assert.equal(recovery.lost(new Error('after close')), false);
});

test('OwnerDirectory re-reads owners changed while its watch was down', async (t) => {
  const { inner, killer } = await killableStore(t);
  const topics = await TopicRegistry.open(inner, silentLog);
  t.after(() => topics.close());
  await topics.create('t', 2, {});
  const topicId = topics.get('t')!.id;
  const directory = await OwnerDirectory.open(killer.store, topics, silentLog);
  t.after(() => directory.close());
  await inner.put(MetaKeys.partitionOwner(topicId, 0), Buffer.from(JSON.stringify({ brokerId: 1, epoch: 1, acquiredMs: 0 })));
  await until(() => directory.ownerOf(topicId, 0) === 1, 'owner by watch');

  killer.failWatches = 1; // the first re-watch fails: the change below is seen only by the re-read
  await killer.killAll();
  await inner.put(MetaKeys.partitionOwner(topicId, 1), Buffer.from(JSON.stringify({ brokerId: 2, epoch: 3, acquiredMs: 0 })));
  await until(() => directory.ownerOf(topicId, 1) === 2, 'owner changed during the outage, by re-read');
  assert.equal(directory.epochOf(topicId, 1), 3);
  assert.ok(killer.watchCalls >= 3, `${killer.watchCalls} watch calls`);
  // The new watch works.
  await inner.delete(MetaKeys.partitionOwner(topicId, 0));
  await until(() => directory.ownerOf(topicId, 0) === -1, 'owner released, by the new watch');
});

test('LogCatalog re-reads loaded partitions changed while its watch was down', async (t) => {
  const { inner, killer } = await killableStore(t);
  const catalog = await LogCatalog.open(killer.store, silentLog);
  t.after(() => catalog.close());
  const topicId = randomUUID();
  const state = await catalog.state(topicId, 0);
  const entry = (baseOffset: number, lastOffset: number): Buffer =>
    encodeLogEntry({ baseOffset, lastOffset, objectKey: 'o', byteStart: 0, byteEnd: 1, maxTimestamp: 1, batchCount: 1, epoch: 1 });

  killer.failWatches = 1;
  await killer.killAll();
  await inner.put(MetaKeys.partitionLogEntry(topicId, 0, 0), entry(0, 4));
  await until(() => state.highWatermark === 5, 'entry committed during the outage, by re-read');
  await inner.put(MetaKeys.partitionLogEntry(topicId, 0, 5), entry(5, 9));
  await until(() => state.highWatermark === 10, 'the next entry, by the new watch');
  assert.equal(state.checkEntries(), null);
});

test('WatchedPrefix reports keys changed while its watch was down', async (t) => {
  const { inner, killer } = await killableStore(t);
  const seen: string[] = [];
  const mirror = await WatchedPrefix.open(killer.store, '/p/', silentLog, (changes) => {
    for (const change of changes) seen.push(`${change.key}=${change.kv?.value.toString() ?? 'deleted'}`);
  });
  t.after(() => mirror.close());
  await inner.put('/p/a', Buffer.from('1'));
  await until(() => mirror.get('/p/a') !== undefined, 'a by watch');
  killer.failWatches = 1;
  await killer.killAll();
  await inner.put('/p/b', Buffer.from('2'));
  await inner.delete('/p/a');
  await until(() => mirror.get('/p/b') !== undefined && mirror.get('/p/a') === undefined, 'changes by re-read');
  assert.deepEqual(seen, ['/p/a=1', '/p/b=2', '/p/a=deleted']);
});
