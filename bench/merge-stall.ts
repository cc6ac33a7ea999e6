/**
 * `node bench/merge-stall.ts [--entries N] [--runs N] [--value-bytes N] [--s3]`: how long one segment merge holds the event loop —
 * the time a produce or fetch arriving mid-merge can wait behind it (docs/benchmarks.md, "Latency").
 *
 * Each run: a LogService on the embedded metadata store and the filesystem object store (fsync on, merger
 * off; `--s3`: s3rver on loopback through the S3 adapter instead), one partition given `--entries` WAL
 * entries (one flush each, 5 records of `--value-bytes`, default 1 KiB), then one merge
 * pass (SegmentMerger.runOnce) while a 1 ms interval timer records the process's CPU time (user + system)
 * between consecutive timer turns. CPU, not wall time, so a run descheduled by the machine's other tenants
 * does not count as a stall; it includes the process's other threads (LMDB's writer, GC helpers), so it
 * is an upper bound of the main thread's hold. Prints per run the largest holds, and their median over runs.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { encodeRecordBatch } from '../src/protocol/records/index.ts';
import { EmbeddedMetadataStore } from '../src/storage/meta/embedded-metadata-store.ts';
import { FsObjectStore } from '../src/storage/object/fs-object-store.ts';
import type { ObjectStore } from '../src/storage/object/object-store.ts';
import { S3ObjectStore } from '../src/storage/object/s3-object-store.ts';
import { startS3Server, type S3TestServer } from '../test/helpers/s3-server.ts';
import { LogService, type TopicRef } from '../src/services/log/log-service.ts';
import { SegmentMerger } from '../src/services/log/segment-merger.ts';

const log = pino({ level: 'silent' });

async function oneRun(entries: number, valueBytes: number, s3: S3TestServer | null): Promise<{ holdsMs: number[]; passMs: number; merged: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-merge-stall-'));
  const store = await EmbeddedMetadataStore.open({ dir: join(dir, 'meta'), log });
  const objects: ObjectStore = s3 === null
    ? await new FsObjectStore({ root: join(dir, 'objects') }).open()
    : new S3ObjectStore({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, namespace: randomUUID() });
  const service = await LogService.open({ store, objects, log, brokerId: 1, lease: await store.grantLease(10_000), namespace: 'bench', flush: { lingerMs: 0 }, merge: false });
  try {
    const tp: TopicRef = { id: randomUUID(), configs: {} };
    await service.acquire(tp.id, 0);
    const value = Buffer.alloc(valueBytes, 'x');
    for (let i = 0; i < entries; i++) {
      const batch = encodeRecordBatch({ records: Array.from({ length: 5 }, () => ({ value, timestamp: BigInt(Date.now()) })) });
      const result = await service.append(tp, 0, [batch]);
      if (result.errorCode !== 0) throw new Error(`append failed: error ${result.errorCode}`);
    }
    const merger = new SegmentMerger({ logs: service, store, objects, log, namespace: 'bench', topicConfigs: () => ({}), io: service.io });
    const holdsMs: number[] = [];
    let last = process.cpuUsage();
    const probe = setInterval(() => {
      const used = process.cpuUsage(last);
      holdsMs.push((used.user + used.system) / 1000);
      last = process.cpuUsage();
    }, 1);
    const started = performance.now();
    const merged = await merger.runOnce();
    const passMs = performance.now() - started;
    clearInterval(probe);
    await merger.close();
    return { holdsMs: holdsMs.sort((a, b) => b - a), passMs, merged };
  } finally {
    await service.close();
    await store.close();
    await objects.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { entries: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' }, 'value-bytes': { type: 'string', default: '1024' }, s3: { type: 'boolean', default: false } }, strict: true });
  const entries = Number(values.entries);
  const runs = Number(values.runs);
  const valueBytes = Number(values['value-bytes']);
  if (!Number.isInteger(entries) || entries < 20 || entries > 20_000 || !Number.isInteger(runs) || runs < 1 || runs > 50 || !Number.isInteger(valueBytes) || valueBytes < 1 || valueBytes > 1_000_000) {
    console.error('merge-stall: --entries must be an integer in [20, 20000], --runs in [1, 50], --value-bytes in [1, 1000000]');
    return 2;
  }
  const s3 = values.s3 ? await startS3Server() : null;
  try {
    return await measure(entries, runs, valueBytes, s3);
  } finally {
    await s3?.stop();
  }
}

async function measure(entries: number, runs: number, valueBytes: number, s3: S3TestServer | null): Promise<number> {
  const maxima: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const { holdsMs, passMs, merged } = await oneRun(entries, valueBytes, s3);
    maxima.push(holdsMs[0] ?? 0);
    console.log(`run ${run}: ${entries} entries, ${merged} partition merged in ${passMs.toFixed(0)} ms; largest holds (CPU ms between event-loop turns): ${holdsMs.slice(0, 5).map((h) => h.toFixed(1)).join(' ')}`);
  }
  maxima.sort((a, b) => a - b);
  console.log(`median of the largest hold over ${runs} runs: ${maxima[Math.floor(maxima.length / 2)]!.toFixed(1)} ms`);
  return 0;
}

process.exitCode = await main();
