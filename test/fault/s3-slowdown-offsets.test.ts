/**
 * Issue 10, item 1 end to end: S3 answering 503 SlowDown for most of the time (windows of a second or so,
 * longer than the adapter's own retries) while three acks=all librdkafka producers write one partition.
 * Flushes fail while later ones are still in flight and producers retry into the gaps — the interleaving
 * where a stale rollback used to hand the same offsets to two acknowledged writes. Afterwards every
 * acknowledged record is stored at its acknowledged offset, no offset is acknowledged twice, and the
 * broker (running with KAFSCALE_LOG_INVARIANT_CHECKS) logged no invariant violation.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeRecordBatch } from '../../src/protocol/records/index.ts';
import { runConfluentProducer } from '../cluster/real-clients.ts';
import { createKafkajsTopic } from '../helpers/create-kafkajs-topic.ts';
import { startBrokerBehindFaultProxy } from './fault-proxy-broker.ts';
import { readPartition } from './partition-reader.ts';

const PRODUCE_SECONDS = 12;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('S3 503 SlowDown most of the time, three acks=all librdkafka producers: every acknowledged record at its offset, none twice', { timeout: 120_000 }, async (t) => {
  const { proxy, broker } = await startBrokerBehindFaultProxy(cleanups, { KAFSCALE_LOG_INVARIANT_CHECKS: 'true' });
  const topic = `slowdown-${randomUUID().slice(0, 8)}`;
  await createKafkajsTopic(broker.bootstrap, topic, 1);

  const producers = ['p', 'q', 'r'].map((prefix) => runConfluentProducer({ bootstrap: broker.bootstrap, topic, partitions: 1, prefix, seconds: PRODUCE_SECONDS, idempotent: false }));
  cleanups.push(async () => {
    for (const p of producers) p.kill();
  });
  // Mostly down: 503 windows of 0.4–1.6 s (beyond the adapter's retries), short healthy gaps.
  let windows = 0;
  const endAt = Date.now() + PRODUCE_SECONDS * 1_000 - 1_500;
  while (Date.now() < endAt) {
    proxy.persistent = { status: 503, code: 'SlowDown' };
    windows++;
    await sleep(400 + Math.floor(Math.random() * 1_200));
    proxy.persistent = undefined;
    await sleep(100 + Math.floor(Math.random() * 400));
  }
  proxy.persistent = undefined;
  const results = await Promise.all(producers.map((p) => p.result));

  const acked = new Map<bigint, string>();
  let duplicates = 0;
  for (const result of results) {
    for (const ack of result.acks) {
      const value = ack.values[0] ?? '';
      if (acked.has(ack.baseOffset)) duplicates++;
      acked.set(ack.baseOffset, value);
    }
  }
  const contents = await readPartition(broker.host, broker.port, topic, 0);
  const stored = new Map<bigint, string>();
  for (const batch of contents.batches) {
    for (const record of decodeRecordBatch(batch).records) stored.set(record.offset, record.value?.toString() ?? '');
  }
  let misplaced = 0;
  for (const [offset, value] of acked) if (stored.get(offset) !== value) misplaced++;
  const failed = results.reduce((n, r) => n + r.failures.length, 0);
  t.diagnostic(`503 windows ${windows}, proxied requests ${proxy.requests}, acknowledged ${acked.size}, failed deliveries ${failed}, offsets acknowledged twice ${duplicates}, acknowledged records not at their offset ${misplaced}, high watermark ${contents.highWatermark}`);
  assert.ok(acked.size > 100, `producers got acknowledgements (${acked.size})`);
  assert.equal(duplicates, 0, 'no offset acknowledged to two records');
  assert.equal(misplaced, 0, 'every acknowledged record is stored at its acknowledged offset');
  assert.equal(stored.size, Number(contents.highWatermark), 'offsets 0..HWM are all stored once');
  assert.doesNotMatch(broker.logs(), /partition log invariant violated/);
});
