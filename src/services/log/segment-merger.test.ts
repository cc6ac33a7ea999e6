/**
 * The merger against the real LogService, the embedded metadata store and the memory object store:
 * entry counts stay bounded, reads stay byte-identical across swaps (also on a second service with a
 * fresh cache), replaced and orphaned objects are collected, swaps respect retention and fencing, and
 * idempotent-producer state survives a merge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeRecordBatch } from '../../protocol/records/index.ts';
import { MAX_TXN_BYTES, type MetadataStore, type Txn } from '../../storage/meta/metadata-store.ts';
import { MetaKeys } from '../cluster/meta-keys.ts';
import { encodeLogEntry, type LogEntry } from './log-entry.ts';
import { MAX_PRODUCER_ROWS_PER_ENTRY, retainedBatches } from '../producers/producer-state.ts';
import { LogService, type TopicRef } from './log-service.ts';
import { ObjectCollector } from './object-collector.ts';
import { SEGMENT_KEY_PATTERN } from './segment-format.ts';
import { MERGE_DEFAULTS, planMerge, SWAP_CHUNK, type MergePolicy } from './segment-merger.ts';
import { batch, collector, freshReader, keys, log, makeEnv, merger, NS, produce, readAll, values } from '../../../test/helpers/merge-env.ts';

test('planMerge: waits for more than K WAL entries or an old one; re-merges small segments size-tiered', () => {
  const policy: MergePolicy = { ...MERGE_DEFAULTS, maxWalEntries: 2, maxWalAgeMs: 1_000 };
  const wal = (b: number, bytes: number, createdMs = 5_000): LogEntry => ({ baseOffset: b, lastOffset: b, objectKey: `ns/wal/${String(createdMs).padStart(13, '0')}-0000000001-abcd-0000000001.wal`, byteStart: 0, byteEnd: bytes, maxTimestamp: 1, batchCount: 1, epoch: 1 });
  const seg = (b: number, l: number, bytes: number, key: string): LogEntry => ({ baseOffset: b, lastOffset: l, objectKey: key, byteStart: 32, byteEnd: 32 + bytes, maxTimestamp: 1, batchCount: 1, epoch: 1, indexKey: `${key}.index` });
  assert.equal(planMerge([wal(0, 10), wal(1, 10)], 0, 5_500, policy, 1_000), null);
  assert.deepEqual(planMerge([wal(0, 10), wal(1, 10), wal(2, 10)], 0, 5_500, policy, 1_000), { from: 0, to: 3 });
  assert.deepEqual(planMerge([wal(0, 10, 1_000)], 0, 5_500, policy, 1_000), { from: 0, to: 1 }, 'old enough');
  // Segment size bounds the run (at least one entry).
  assert.deepEqual(planMerge([wal(0, 600), wal(1, 600), wal(2, 600)], 0, 5_500, policy, 1_000), { from: 0, to: 1 });
  const three = [wal(10, 10), wal(11, 10), wal(12, 10)];
  // A segment of 40 bytes joins 30 bytes of WAL (≤ 2×); one of 100 does not; a chunked segment joins whole.
  assert.deepEqual(planMerge([seg(0, 9, 40, 'a'), ...three], 0, 5_500, policy, 1_000), { from: 0, to: 4 });
  assert.deepEqual(planMerge([seg(0, 9, 100, 'a'), ...three], 0, 5_500, policy, 1_000), { from: 1, to: 4 });
  assert.deepEqual(planMerge([seg(0, 4, 20, 'a'), seg(5, 9, 20, 'a'), ...three], 0, 5_500, policy, 1_000), { from: 0, to: 5 });
  assert.deepEqual(planMerge([seg(0, 4, 120, 'b'), seg(5, 9, 20, 'a'), ...three], 0, 5_500, policy, 1_000), { from: 1, to: 5 });
  // Below the log start: left for retention.
  assert.deepEqual(planMerge([seg(0, 9, 20, 'a'), ...three], 10, 5_500, policy, 1_000), { from: 1, to: 4 });
});

test('continuous produce: entries stay bounded, reads stay byte-identical, replaced WAL objects are collected', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const m = merger(env);
  const expected: string[] = [];
  let maxEntries = 0;
  for (let i = 0; i < 120; i++) {
    const v = [`m${i}`.padEnd(50 + (i % 7) * 10, '.'), `n${i}`];
    expected.push(...v);
    await produce(env, tp, v);
    if (i % 3 === 2) await m.runOnce();
    maxEntries = Math.max(maxEntries, env.service.owned(tp.id, 0)!.state.entries.length);
  }
  await m.runOnce();
  const state = env.service.owned(tp.id, 0)!.state;
  // K = 4 WAL entries + O(log) small segments; 120 flushes would be 120 entries without merging.
  assert.ok(maxEntries <= 14, `at most ${maxEntries} entries`);
  assert.ok(m.segmentsWritten >= 10);
  for (let i = 1; i < state.entries.length; i++) assert.equal(state.entries[i]!.baseOffset, state.entries[i - 1]!.lastOffset + 1);
  assert.ok(state.entries.some((e) => e.indexKey !== undefined && SEGMENT_KEY_PATTERN.test(e.objectKey)));

  const before = await readAll(env.service, tp);
  assert.deepEqual(values(before), expected);
  const fresh = await freshReader(t, env);
  assert.deepEqual(await readAll(fresh, tp), before);
  assert.deepEqual(await readAll(fresh, tp, 1 << 20), before);

  // Only the referenced objects survive the collector, and reads do not change.
  assert.ok((await collector(env).runOnce()).deletedObjects > 100);
  const referenced = new Set(state.entries.flatMap((e) => [e.objectKey, ...(e.indexKey === undefined ? [] : [e.indexKey])]));
  assert.deepEqual(new Set([...await keys(env.objects, 'wal/'), ...await keys(env.objects, 'segments/')]), referenced);
  assert.deepEqual(await readAll(await freshReader(t, env), tp), before);
});

test('a big segment is read by index blocks, not whole; swaps of more than SWAP_CHUNK entries are chunked and stay contiguous', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 130; i++) await produce(env, tp, [`r${i}`.padEnd(200, 'x')]);
  const before = await readAll(env.service, tp, 1 << 22);
  const result = await merger(env, {}, { maxWalEntries: 0 }).mergeOnce(env.service.owned(tp.id, 0)!);
  assert.equal(result.outcome, 'merged');
  assert.equal(result.replacedEntries, 130);
  const entries = env.service.owned(tp.id, 0)!.state.entries;
  assert.ok(SWAP_CHUNK < 130);
  assert.equal(entries.length, Math.ceil(130 / SWAP_CHUNK), `chunks of ${SWAP_CHUNK} entries pointing into one segment`);
  for (let i = 1; i < entries.length; i++) {
    assert.equal(entries[i - 1]!.objectKey, entries[i]!.objectKey);
    assert.deepEqual([entries[i - 1]!.lastOffset + 1, entries[i - 1]!.byteEnd], [entries[i]!.baseOffset, entries[i]!.byteStart]);
  }

  const fresh = await freshReader(t, env);
  env.gotBytes = 0;
  const one = await fresh.read(tp.id, 0, 64, 1);
  assert.equal(one.records.length, 1);
  assert.equal(Number(one.records[0]!.readBigInt64BE(0)), 64);
  const segmentBytes = entries.at(-1)!.byteEnd - entries[0]!.byteStart;
  assert.ok(env.gotBytes < segmentBytes / 10, `GET ${env.gotBytes} bytes of a ${segmentBytes}-byte segment`);
  assert.deepEqual(await readAll(fresh, tp, 1000), before);
  assert.deepEqual(await readAll(await freshReader(t, env), tp, 1 << 22), before);
});

test('a crash between segment upload and swap leaves the log intact; the orphan segment is collected', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 6; i++) await produce(env, tp, [`c${i}`]);
  const before = await readAll(env.service, tp);
  // The store "dies" at the swap: the segment and index are uploaded, no entry changes.
  const failing: MetadataStore = Object.create(env.store, { txn: { value: (_txn: Txn) => Promise.reject(new Error('store down')) } });
  await assert.rejects(merger(env, { store: failing }).mergeOnce(env.service.owned(tp.id, 0)!), /store down/);
  assert.equal((await keys(env.objects, 'segments/')).length, 2);
  assert.equal(env.service.owned(tp.id, 0)!.state.entries.length, 6);
  assert.deepEqual(await readAll(await freshReader(t, env), tp), before);

  assert.equal((await collector(env).runOnce()).deletedObjects, 2);
  assert.deepEqual(await keys(env.objects, 'segments/'), []);
  assert.equal((await keys(env.objects, 'wal/')).length, 6);
  // The next merge succeeds under a new segment key.
  assert.equal((await merger(env).mergeOnce(env.service.owned(tp.id, 0)!)).outcome, 'merged');
  assert.deepEqual(await readAll(await freshReader(t, env), tp), before);
});

test('a swap never resurrects entries retention dropped, and a fenced owner cannot swap', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 6; i++) await produce(env, tp, [`d${i}`]);
  const owned = env.service.owned(tp.id, 0)!;
  // DeleteRecords lands while the merger uploads its segment.
  const objects = Object.create(env.objects, {
    put: {
      value: async (key: string, body: Buffer | Buffer[]) => {
        await env.objects.put(key, body);
        if (key.endsWith('.kfs')) assert.equal((await env.service.deleteRecords(tp.id, 0, 3)).errorCode, ErrorCode.NONE);
      },
    },
  });
  const result = await merger(env, { objects }, { maxWalEntries: 0 }).mergeOnce(owned);
  assert.equal(result.outcome, 'conflict');
  assert.deepEqual(owned.state.entries.map((e) => e.baseOffset), [3, 4, 5]);
  const stored = await env.store.range(MetaKeys.partitionLogPrefix(tp.id, 0));
  assert.equal(stored.kvs.length, 3);
  assert.deepEqual(values((await env.service.read(tp.id, 0, 3, 1 << 20)).records.reduce((a, b) => Buffer.concat([a, b]), Buffer.alloc(0))), ['d3', 'd4', 'd5']);

  // Another broker takes the partition over: the old owner's swap is refused and it is fenced.
  await env.store.deletePrefix(MetaKeys.partitionOwner(tp.id, 0));
  const other = await freshReader(t, env);
  assert.equal((await other.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  assert.equal((await merger(env, {}, { maxWalEntries: 0 }).mergeOnce(owned)).outcome, 'fenced');
  assert.equal(owned.status, 'fenced');
  assert.equal((await env.store.range(MetaKeys.partitionLogPrefix(tp.id, 0))).kvs.length, 3);
});

test('idempotent-producer state is carried into merged entries: a new owner still de-duplicates', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const idem = (pid: bigint, seq: number, value: string): Buffer => encodeRecordBatch({ producerId: pid, producerEpoch: 0, baseSequence: seq, records: [{ value, timestamp: BigInt(Date.now()) }] });
  for (let i = 0; i < 8; i++) {
    assert.equal((await env.service.append(tp, 0, [idem(7n, i, `a${i}`)])).errorCode, ErrorCode.NONE);
    assert.equal((await env.service.append(tp, 0, [idem(8n, i, `b${i}`)])).errorCode, ErrorCode.NONE);
  }
  const owned = env.service.owned(tp.id, 0)!;
  assert.equal((await merger(env, {}, { maxWalEntries: 0 }).mergeOnce(owned)).outcome, 'merged');
  assert.equal(owned.state.entries.length, 1);
  const rows = owned.state.entries[0]!.producers ?? [];
  assert.deepEqual(rows.filter((b) => b.producerId === 7n).map((b) => b.lastSeq), [3, 4, 5, 6, 7]);
  assert.deepEqual(rows.filter((b) => b.producerId === 8n).map((b) => b.lastSeq), [3, 4, 5, 6, 7]);

  await env.store.deletePrefix(MetaKeys.partitionOwner(tp.id, 0));
  const second = await freshReader(t, env);
  assert.equal((await second.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const retry = await second.append(tp, 0, [idem(7n, 6, 'a6')]);
  assert.deepEqual([retry.errorCode, retry.duplicate, retry.baseOffset], [ErrorCode.NONE, true, 12]);
  assert.equal((await second.append(tp, 0, [idem(8n, 9, 'gap')])).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await second.append(tp, 0, [idem(8n, 8, 'b8')])).baseOffset, 16);
});

test('producer rows in merged entries expire (producer.id.expiration.ms) and are capped, so the swap always fits the txn limit', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  const owned = env.service.owned(tp.id, 0)!;
  // 25 flushes of 1,600 producers each: 40,000 producers that wrote once.
  const ts = Date.now();
  for (let a = 0; a < 25; a++) {
    const batches = Array.from({ length: 1_600 }, (_, j) => encodeRecordBatch({ producerId: BigInt(a * 1_600 + j + 1), producerEpoch: 0, baseSequence: 0, records: [{ value: 'p', timestamp: BigInt(ts) }] }));
    assert.equal((await env.service.append(tp, 0, batches)).errorCode, ErrorCode.NONE);
  }
  const rows = owned.state.entries.flatMap((e) => e.producers ?? []);
  assert.equal(rows.length, 40_000);
  // What a merge used to write: every row carried over. That entry alone is beyond the txn limit.
  const carried = encodeLogEntry({ ...owned.state.entries[0]!, producers: retainedBatches(rows) });
  assert.ok(carried.length > MAX_TXN_BYTES, `${carried.length} bytes`);

  const merge = merger(env, { now: () => ts + 1_000, producerIdExpirationMs: 3_600_000 }, { maxWalEntries: 0 });
  assert.equal((await merge.mergeOnce(owned)).outcome, 'merged');
  assert.equal(owned.state.entries.length, 1);
  const merged = owned.state.entries[0]!;
  assert.equal(merged.producers?.length, MAX_PRODUCER_ROWS_PER_ENTRY, 'capped');
  assert.ok(encodeLogEntry(merged).length < MAX_TXN_BYTES / 2);

  // Expiry: partition 1 has old producers and one that wrote recently (its records are 58 min ahead of
  // the old ones); a merge an hour after the old ones carries only the recent producer's rows.
  assert.equal((await env.service.acquire(tp.id, 1)).errorCode, ErrorCode.NONE);
  const p1 = env.service.owned(tp.id, 1)!;
  for (let i = 0; i < 6; i++) {
    const old = encodeRecordBatch({ producerId: BigInt(100 + i), producerEpoch: 0, baseSequence: 0, records: [{ value: 'old', timestamp: BigInt(ts) }] });
    const fresh = encodeRecordBatch({ producerId: 999_999n, producerEpoch: 0, baseSequence: i, records: [{ value: 'fresh', timestamp: BigInt(ts + 3_500_000) }] });
    assert.equal((await env.service.append(tp, 1, [old, fresh])).errorCode, ErrorCode.NONE);
  }
  const expiring = merger(env, { now: () => ts + 3_600_000, producerIdExpirationMs: 3_600_000 }, { maxWalEntries: 0 });
  assert.equal((await expiring.mergeOnce(p1)).outcome, 'merged');
  assert.equal(p1.state.entries.length, 1);
  assert.deepEqual((p1.state.entries[0]!.producers ?? []).map((b) => [b.producerId, b.lastSeq]), [1, 2, 3, 4, 5].map((seq) => [999_999n, seq]));
});

test("the service's background merger merges owned partitions on its own", async (t) => {
  const env = await makeEnv(t);
  const service = await LogService.open({
    store: env.store, objects: env.objects, log, brokerId: 3, lease: await env.store.grantLease(10_000), namespace: NS, flush: { lingerMs: 0 },
    merge: { intervalMs: 10, policy: { maxWalEntries: 2 } },
  });
  t.after(() => service.close());
  assert.equal(service.merger?.arenaBytes, MERGE_DEFAULTS.maxSegmentBytes, 'the merge arena is reserved when the merger starts');
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 10; i++) assert.equal((await service.append(tp, 0, [batch([`s${i}`])])).errorCode, ErrorCode.NONE);
  const state = service.owned(tp.id, 0)!.state;
  for (let i = 0; i < 500 && (state.entries.length > 3 || state.entries.some((e) => e.indexKey === undefined && e.lastOffset < 7)); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(state.entries.length <= 3, `${state.entries.length} entries`);
  assert.ok((service.merger?.segmentsWritten ?? 0) > 0);
  assert.deepEqual(values(await readAll(service, tp)), Array.from({ length: 10 }, (_, i) => `s${i}`));
});

test('ListOffsets answers the same after a merge and searches a segment by index block', async (t) => {
  const env = await makeEnv(t);
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 60; i++) {
    const b = encodeRecordBatch({ records: [{ value: `t${i}`.padEnd(200, 'x'), timestamp: BigInt(10_000 + i * 10) }, { value: `u${i}`, timestamp: BigInt(10_000 + i * 10 + 5) }] });
    assert.equal((await env.service.append(tp, 0, [b])).errorCode, ErrorCode.NONE);
  }
  const queries = [{ timestampMs: 0 }, { timestampMs: 10_003 }, { timestampMs: 10_250 }, { timestampMs: 10_595 }, { timestampMs: 99_999 }, 'maxTimestamp', 'earliest', 'latest'] as const;
  const answer = async (service: LogService): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const q of queries) {
      const r = await service.listOffsets(tp.id, 0, q);
      out.push([r.errorCode, r.offset, r.timestampMs]);
    }
    return out;
  };
  const before = await answer(env.service);
  assert.deepEqual(before[2], [ErrorCode.NONE, 50, 10_250]);
  assert.equal((await merger(env, {}, { maxWalEntries: 0 }).mergeOnce(env.service.owned(tp.id, 0)!)).outcome, 'merged');
  const fresh = await freshReader(t, env);
  assert.deepEqual(await answer(fresh), before);
  const entry = env.service.owned(tp.id, 0)!.state.entries[0]!;
  const other = await freshReader(t, env);
  env.gotBytes = 0;
  assert.equal((await other.listOffsets(tp.id, 0, { timestampMs: 10_003 })).offset, 1);
  assert.ok(env.gotBytes < (entry.byteEnd - entry.byteStart) / 5, `GET ${env.gotBytes} bytes`);
  // A time near the end: the sparse time index names the last block; the blocks before it are not read.
  const late = await freshReader(t, env);
  env.gotBytes = 0;
  assert.equal((await late.listOffsets(tp.id, 0, { timestampMs: 10_595 })).offset, 119);
  assert.ok(env.gotBytes < (entry.byteEnd - entry.byteStart) / 5, `GET ${env.gotBytes} bytes`);
  env.gotBytes = 0;
  assert.equal((await late.listOffsets(tp.id, 0, 'maxTimestamp')).offset, 119);
  assert.ok(env.gotBytes < (entry.byteEnd - entry.byteStart) / 5, `GET ${env.gotBytes} bytes`);
});

test('on the filesystem object store (the single-node default): merge, collect after the grace period, read back the same bytes', async (t) => {
  const env = await makeEnv(t, 'filesystem');
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await env.service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 12; i++) await produce(env, tp, [`f${i}`.padEnd(100, '-')]);
  const before = await readAll(env.service, tp);
  assert.equal((await merger(env).mergeOnce(env.service.owned(tp.id, 0)!)).outcome, 'merged');
  // Replaced WAL objects wait for the grace period like any unreferenced object, then go.
  let nowMs = Date.now();
  const gc = new ObjectCollector({ store: env.store, objects: env.objects, log, brokerId: 1, lease: env.lease, namespace: NS, orphanGraceMs: 60_000, deleteDelayMs: 0, now: () => nowMs });
  assert.equal((await gc.runOnce()).deletedObjects, 0);
  assert.equal((await keys(env.objects, 'wal/')).length, 12);
  nowMs += 61_000;
  assert.equal((await gc.runOnce()).deletedObjects, 12);
  assert.deepEqual(await keys(env.objects, 'wal/'), []);
  assert.equal((await keys(env.objects, 'segments/')).length, 2);
  assert.deepEqual(await readAll(await freshReader(t, env), tp), before);
});

test('cached data stays cached across a merge: the merge reads it without a GET, the merged entries are read from memory; cold data stays cold', async (t) => {
  const env = await makeEnv(t);
  // No tail: every read goes through the range cache, as a consumer behind the owner's tail does.
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 3, lease: await env.store.grantLease(10_000), namespace: NS, flush: { lingerMs: 0 }, merge: false, tailBytes: 0 });
  t.after(() => service.close());
  const hot: TopicRef = { id: randomUUID(), configs: {} };
  const cold: TopicRef = { id: randomUUID(), configs: {} };
  for (const tp of [hot, cold]) {
    assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
    for (let i = 0; i < 40; i++) assert.equal((await service.append(tp, 0, [batch([`${tp === hot ? 'h' : 'c'}${i}`.padEnd(120, '.')])])).errorCode, ErrorCode.NONE);
  }
  const m = merger({ ...env, service }, { cache: service.mergeCache }, { maxWalEntries: 0 });

  const before = await readAll(service, hot, 1 << 20);
  assert.equal(values(before).length, 40);
  const cachedBytes = service.cacheStats().bytes;
  assert.equal(cachedBytes, before.length, 'every WAL range of the hot partition is cached');
  let gets = service.objectGets;
  let got = env.gotBytes;
  assert.equal((await m.mergeOnce(service.owned(hot.id, 0)!)).outcome, 'merged');
  assert.equal(env.gotBytes, got, 'the merge read its inputs from the cache');
  assert.ok(service.owned(hot.id, 0)!.state.entries.every((e) => e.indexKey !== undefined));
  assert.equal(service.cacheStats().bytes, cachedBytes, 'the merged blocks replaced the WAL ranges in the cache');
  assert.deepEqual(await readAll(service, hot, 1), before, 'one batch at a time, across block boundaries');
  assert.deepEqual(await readAll(service, hot, 1 << 20), before);
  assert.equal(service.objectGets, gets, 'no GET for the merged entries (blocks and index cached)');
  assert.equal(env.gotBytes, got);

  // More WAL entries, read: the next merge takes the segment too (size-tiered), from the cache as well.
  for (let i = 40; i < 80; i++) assert.equal((await service.append(hot, 0, [batch([`h${i}`.padEnd(120, '.')])])).errorCode, ErrorCode.NONE);
  const all = await readAll(service, hot, 1 << 20);
  const firstSegment = service.owned(hot.id, 0)!.state.entries[0]!.objectKey;
  gets = service.objectGets;
  got = env.gotBytes;
  assert.equal((await m.mergeOnce(service.owned(hot.id, 0)!)).outcome, 'merged');
  const merged = service.owned(hot.id, 0)!.state.entries;
  assert.ok(merged.every((e) => e.objectKey === merged[0]!.objectKey && e.objectKey !== firstSegment), 'the segment was merged again with the new entries');
  assert.equal(env.gotBytes, got, 'a cached segment input is read from the cache too');
  assert.equal(service.cacheStats().bytes, all.length, 'only the new segment is cached');
  assert.deepEqual(await readAll(service, hot, 1), all);
  assert.equal(service.objectGets, gets);

  // Never read: the merge GETs its inputs, and its segment is not cached (a read GETs it).
  got = env.gotBytes;
  assert.equal((await m.mergeOnce(service.owned(cold.id, 0)!)).outcome, 'merged');
  assert.ok(env.gotBytes > got, 'cold inputs are read from the object store');
  assert.equal(service.cacheStats().bytes, all.length, 'nothing of the cold partition was cached');
  gets = service.objectGets;
  assert.equal(values(await readAll(service, cold, 1 << 20)).length, 40);
  assert.ok(service.objectGets > gets, 'the cold segment is read with GETs');
});

test('GET inputs are read into the reused merge arena: partitions merged one after the other read back byte-identical; it is dropped after a minute without merges', async (t) => {
  const env = await makeEnv(t, 'filesystem');
  // No tail and no cache: every input is a GET, as for a backlog merged after it left the tail.
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 3, lease: await env.store.grantLease(10_000), namespace: NS, flush: { lingerMs: 0 }, merge: false, tailBytes: 0 });
  t.after(() => service.close());
  const topics: TopicRef[] = [{ id: randomUUID(), configs: {} }, { id: randomUUID(), configs: {} }];
  const expected: string[][] = [];
  for (const [n, tp] of topics.entries()) {
    assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
    const mine: string[] = [];
    for (let i = 0; i < 30 - n * 10; i++) {
      const value = `${n === 0 ? 'a' : 'b'}${i}`.padEnd(200 - n * 50, n === 0 ? '.' : '#');
      mine.push(value);
      assert.equal((await service.append(tp, 0, [batch([value])])).errorCode, ErrorCode.NONE);
    }
    expected.push(mine);
  }
  let nowMs = Date.now();
  const m = merger({ ...env, service }, { now: () => nowMs }, { maxWalEntries: 0, maxSegmentBytes: 1024 * 1024 });
  // Every GET must come back in the arena: the store read straight into the buffer it was given.
  const get = env.objects.get.bind(env.objects);
  let intoGets = 0;
  env.objects.get = async (key, options) => {
    const data = await get(key, options);
    if (options?.into !== undefined) {
      assert.equal(data, options.into, 'the filesystem store read into the arena');
      intoGets++;
    }
    return data;
  };
  assert.equal((await m.mergeOnce(service.owned(topics[0]!.id, 0)!)).outcome, 'merged');
  assert.equal(intoGets, 30, 'each input was a GET into the arena');
  assert.equal(m.arenaBytes, 1024 * 1024, 'allocated at the segment size');
  // The second merge overwrites the arena's first bytes: the first segment was written before.
  assert.equal((await m.mergeOnce(service.owned(topics[1]!.id, 0)!)).outcome, 'merged');
  assert.equal(intoGets, 50);
  const reader = await freshReader(t, env);
  for (const [n, tp] of topics.entries()) {
    assert.ok(service.owned(tp.id, 0)!.state.entries.every((e) => e.indexKey !== undefined), 'merged into segments');
    assert.deepEqual(values(await readAll(reader, tp, 1 << 20)), expected[n]);
  }
  nowMs += 59_000;
  await m.runOnce();
  assert.equal(m.arenaBytes, 1024 * 1024, 'kept within a minute of the last merge');
  nowMs += 1_000;
  await m.runOnce();
  assert.equal(m.arenaBytes, 0, 'dropped after a minute without a merge that GETs');
});

test('a failed GET ends the merge only once every GET into the arena has settled, and the log is left as it was', async (t) => {
  const env = await makeEnv(t, 'filesystem');
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 3, lease: await env.store.grantLease(10_000), namespace: NS, flush: { lingerMs: 0 }, merge: false, tailBytes: 0 });
  t.after(() => service.close());
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  for (let i = 0; i < 12; i++) assert.equal((await service.append(tp, 0, [batch([`g${i}`.padEnd(100, '.')])])).errorCode, ErrorCode.NONE);
  const entriesBefore = service.owned(tp.id, 0)!.state.entries.slice();
  const m = merger({ ...env, service }, {}, { maxWalEntries: 0 });
  // The first GET fails at once; the others are slow, and still reading into the arena when it fails.
  const get = env.objects.get.bind(env.objects);
  let calls = 0;
  let inFlight = 0;
  env.objects.get = async (key, options) => {
    if (calls++ === 0) throw new Error('injected GET failure');
    inFlight++;
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return await get(key, options);
    } finally {
      inFlight--;
    }
  };
  await assert.rejects(m.mergeOnce(service.owned(tp.id, 0)!), /injected GET failure/);
  assert.equal(inFlight, 0, 'no GET was still writing into the arena when the merge gave it back');
  assert.ok(calls < 12, `the other readers stopped taking inputs (${calls} GETs)`);
  assert.deepEqual(service.owned(tp.id, 0)!.state.entries, entriesBefore, 'nothing was swapped');
  env.objects.get = get;
  assert.equal((await m.mergeOnce(service.owned(tp.id, 0)!)).outcome, 'merged', 'the next pass merges');
  assert.deepEqual(values(await readAll(await freshReader(t, env), tp, 1 << 20)), Array.from({ length: 12 }, (_, i) => `g${i}`.padEnd(100, '.')));
});

test('an input whose middle batches are not the entry\'s (right first and last offsets) is not merged', async (t) => {
  const env = await makeEnv(t);
  const service = await LogService.open({ store: env.store, objects: env.objects, log, brokerId: 3, lease: await env.store.grantLease(10_000), namespace: NS, flush: { lingerMs: 0 }, merge: false, tailBytes: 0 });
  t.after(() => service.close());
  const tp: TopicRef = { id: randomUUID(), configs: {} };
  assert.equal((await service.acquire(tp.id, 0)).errorCode, ErrorCode.NONE);
  // One entry of three batches, and a second entry so that there is a run to merge.
  assert.equal((await service.append(tp, 0, [batch(['x0']), batch(['x1']), batch(['x2'])])).errorCode, ErrorCode.NONE);
  assert.equal((await service.append(tp, 0, [batch(['y0'])])).errorCode, ErrorCode.NONE);
  const entriesBefore = service.owned(tp.id, 0)!.state.entries.slice();
  assert.equal(entriesBefore[0]!.batchCount, 3);
  // The GET of the first entry answers with its first batch where the middle one belongs.
  const get = env.objects.get.bind(env.objects);
  env.objects.get = async (key, options) => {
    const data = Buffer.from(await get(key, options));
    if (options?.range?.start !== entriesBefore[0]!.byteStart || key !== entriesBefore[0]!.objectKey) return data;
    const size = data.readInt32BE(8) + 12;
    data.copy(data, size, 0, size);
    return data;
  };
  const m = merger({ ...env, service }, {}, { maxWalEntries: 0 });
  assert.equal((await m.mergeOnce(service.owned(tp.id, 0)!)).outcome, 'none');
  assert.deepEqual(service.owned(tp.id, 0)!.state.entries, entriesBefore, 'the log stays as it is');
  env.objects.get = get;
  assert.deepEqual(values(await readAll(service, tp, 1 << 20)), ['x0', 'x1', 'x2', 'y0']);
});
