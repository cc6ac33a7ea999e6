import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { TopicRegistry, type TopicChange } from './topic-registry.ts';
import { waitFor } from '../../../test/helpers/wait-for.ts';

describe('TopicRegistry on the embedded store', () => {
  let dir: string;
  let store: EmbeddedMetadataStore;
  let registry: TopicRegistry;
  let peer: TopicRegistry;
  const log = silentLogger();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-topics-'));
    store = await EmbeddedMetadataStore.open({ dir });
    registry = await TopicRegistry.open(store, log);
    // A second registry on the same store stands in for another broker watching the same metadata.
    peer = await TopicRegistry.open(store, log);
  });

  after(async () => {
    await registry.close();
    await peer.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a topic with a random id and sees it at once; a peer sees it through its watch', async () => {
    const outcome = await registry.create('orders', 3, { 'retention.ms': '1000' });
    assert.equal(outcome.errorCode, ErrorCode.NONE);
    assert.match(outcome.topic?.id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(registry.get('orders')?.partitions, 3);
    await waitFor('the peer to see the topic', () => peer.get('orders') !== undefined, 3_000);
    assert.equal(peer.get('orders')?.id, outcome.topic?.id);
    assert.equal(peer.getById(outcome.topic?.id ?? '')?.name, 'orders');
  });

  it('rejects duplicates, bad names, bad partition counts and bad configs with Kafka codes', async () => {
    assert.equal((await registry.create('orders', 1, {})).errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    for (const bad of ['', '.', '..', 'a'.repeat(250), 'bad name', 'a/b', 'ü']) {
      assert.equal((await registry.create(bad, 1, {})).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, `name ${JSON.stringify(bad)}`);
    }
    assert.equal((await registry.create('a'.repeat(249), 1, {})).errorCode, ErrorCode.NONE);
    assert.equal((await registry.create('zero', 0, {})).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((await registry.create('negative', -3, {})).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((await registry.create('cfg', 1, { 'no.such.config': '1' })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal((await registry.create('cfg', 1, { 'cleanup.policy': 'compact' })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal((await registry.create('cfg', 1, { 'retention.ms': 'soon' })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal((await registry.create('cfg', 1, { 'segment.bytes': '10' })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal(registry.get('cfg'), undefined, 'nothing written for a rejected request');
  });

  it("treats '.' and '_' as colliding, as Kafka does", async () => {
    assert.equal((await registry.create('metrics.cpu', 1, {})).errorCode, ErrorCode.NONE);
    const outcome = await registry.create('metrics_cpu', 1, {});
    assert.equal(outcome.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.match(outcome.errorMessage ?? '', /collides/);
  });

  it('validateOnly writes nothing', async () => {
    const outcome = await registry.create('dry', 2, {}, { validateOnly: true });
    assert.equal(outcome.errorCode, ErrorCode.NONE);
    assert.equal(registry.get('dry'), undefined);
    assert.equal((await store.range('/kafscale/topics/dry')).kvs.length, 0);
  });

  it('adds partitions (increase only)', async () => {
    assert.equal((await registry.createPartitions('orders', 2)).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((await registry.createPartitions('orders', 3)).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((await registry.createPartitions('orders', 5)).errorCode, ErrorCode.NONE);
    assert.equal(registry.get('orders')?.partitions, 5);
    assert.equal((await registry.createPartitions('missing', 5)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('alters configs: full replacement and incremental set/delete/append/subtract', async () => {
    assert.equal((await registry.alterConfigs('orders', [{ op: 'set', name: 'max.message.bytes', value: '2048' }], { incremental: false })).errorCode, ErrorCode.NONE);
    assert.deepEqual(registry.get('orders')?.configs, { 'max.message.bytes': '2048' }, 'non-incremental replaces every override');
    assert.equal((await registry.alterConfigs('orders', [{ op: 'set', name: 'retention.ms', value: '5000' }], { incremental: true })).errorCode, ErrorCode.NONE);
    assert.deepEqual(registry.get('orders')?.configs, { 'max.message.bytes': '2048', 'retention.ms': '5000' });
    assert.equal((await registry.alterConfigs('orders', [{ op: 'delete', name: 'max.message.bytes' }], { incremental: true })).errorCode, ErrorCode.NONE);
    assert.deepEqual(registry.get('orders')?.configs, { 'retention.ms': '5000' });
    assert.equal((await registry.alterConfigs('orders', [{ op: 'append', name: 'retention.ms', value: '1' }], { incremental: true })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal((await registry.alterConfigs('orders', [{ op: 'set', name: 'bogus', value: '1' }], { incremental: true })).errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal((await registry.alterConfigs('nope', [], { incremental: true })).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('survives a lost race: a peer change first, then ours on top of it', async () => {
    await waitFor('the peer to see 5 partitions', () => peer.get('orders')?.partitions === 5, 3_000);
    assert.equal((await peer.alterConfigs('orders', [{ op: 'set', name: 'retention.bytes', value: '100' }], { incremental: true })).errorCode, ErrorCode.NONE);
    // `registry` may not have seen the peer's write yet; its CAS fails, it re-reads and applies on top.
    assert.equal((await registry.alterConfigs('orders', [{ op: 'set', name: 'segment.ms', value: '1000' }], { incremental: true })).errorCode, ErrorCode.NONE);
    const configs = registry.get('orders')?.configs ?? {};
    assert.equal(configs['retention.bytes'], '100');
    assert.equal(configs['segment.ms'], '1000');
  });

  it('deletes a topic, notifies listeners, and a re-created topic gets a new id', async () => {
    const changes: TopicChange[] = [];
    const unsubscribe = registry.onChange((c) => changes.push(...c));
    const oldId = registry.get('orders')?.id;
    const deleted = await registry.delete('orders');
    assert.equal(deleted.errorCode, ErrorCode.NONE);
    assert.equal(registry.get('orders'), undefined);
    assert.ok(changes.some((c) => c.name === 'orders' && c.after === null));
    assert.equal((await registry.delete('orders')).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const recreated = await registry.create('orders', 1, {});
    assert.notEqual(recreated.topic?.id, oldId);
    assert.equal(registry.getById(oldId ?? ''), undefined);
    unsubscribe();
    await waitFor('the peer to see the re-created topic', () => peer.get('orders')?.id === recreated.topic?.id, 3_000);
  });

  it('reopens from the store with the same topics (durability across restarts)', async () => {
    const reopened = await TopicRegistry.open(store, log);
    try {
      assert.deepEqual(reopened.list().map((t) => t.name), registry.list().map((t) => t.name));
    } finally {
      await reopened.close();
    }
  });
});
