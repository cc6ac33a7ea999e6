/**
 * `node bench/durability-floor.ts [--rate N] [--ops N] [--bytes N] [--json]`: the floor under acks=all
 * latency on this machine's disk — the durable steps of one WAL flush, done with the broker's own storage
 * adapters and nothing else (no broker, no network, no client):
 *
 *   - `fdatasync`: 1 KiB overwritten in place in an existing file and data-synced (the device's own floor);
 *   - `put`: FsObjectStore.put of a new WAL-sized object as a flush makes it (`newKey`: written in place,
 *     file and directory fsynced in parallel);
 *   - `putRename`: the same put without `newKey` (temp file, fsync, rename, directory fsync), as before;
 *   - `commit`: one guarded put of a log-entry-sized value in the EmbeddedMetadataStore (LMDB, synced);
 *   - `flush`: put then commit, as a flush does them (docs/design/storage.md, "Write path").
 *
 * Operations are paced at `--rate` per second (default 200: one flush per 5 ms, what 1,000 msg/s with a
 * client's 5 ms linger produces) and the kinds are interleaved, so a drift in the machine's load hits all
 * alike. Percentiles are of wall time per operation. Bounded by `--ops` per kind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedMetadataStore } from '../src/storage/meta/embedded-metadata-store.ts';
import { FsObjectStore } from '../src/storage/object/fs-object-store.ts';
import { HdrHistogram } from './hdr-histogram.ts';

const KINDS = ['fdatasync', 'put', 'putRename', 'commit', 'flush'] as const;
type Kind = (typeof KINDS)[number];

interface Options {
  readonly rate: number;
  readonly ops: number;
  readonly bytes: number;
  readonly json: boolean;
}

async function run(options: Options): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-durability-floor-'));
  const objects = await new FsObjectStore({ root: join(dir, 'objects') }).open();
  const meta = await EmbeddedMetadataStore.open({ dir: join(dir, 'meta') });
  const file = await open(join(dir, 'fdatasync.bin'), 'w+');
  const body = Buffer.alloc(options.bytes, 'x');
  const entry = Buffer.alloc(96, 'e');
  const histograms = new Map<Kind, HdrHistogram>(KINDS.map((kind) => [kind, new HdrHistogram()]));
  let seq = 0;
  const loadAtStart = loadavg()[0] ?? 0;
  try {
    await file.write(Buffer.alloc(1024 * 1024), 0, 1024 * 1024, 0);
    await file.sync();
    const step: Record<Kind, () => Promise<void>> = {
      fdatasync: async () => {
        await file.write(entry, 0, entry.length, (seq++ % 1000) * 1024);
        await file.datasync();
      },
      put: () => objects.put(`floor/wal/${String(++seq).padStart(10, '0')}.wal`, body, { newKey: true }),
      putRename: () => objects.put(`floor/wal/${String(++seq).padStart(10, '0')}.wal`, body),
      commit: async () => {
        const key = `floor/log/${String(++seq).padStart(10, '0')}`;
        await meta.txn({ compare: [{ key, target: 'version', op: '==', value: 0 }], success: [{ type: 'put', key, value: entry }] });
      },
      flush: async () => {
        await step.put();
        await step.commit();
      },
    };
    const intervalMs = 1000 / options.rate;
    let next = performance.now();
    for (let i = 0; i < options.ops; i++) {
      for (const kind of KINDS) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next += intervalMs;
        const started = performance.now();
        await step[kind]();
        histograms.get(kind)!.record(Math.round((performance.now() - started) * 1000));
      }
    }
  } finally {
    await file.close();
    await meta.close();
    await objects.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (h: HdrHistogram, p: number): number => Math.round(h.valueAtPercentile(p) / 10) / 100;
  const rows = KINDS.map((kind) => {
    const h = histograms.get(kind)!;
    return { kind, p50Ms: ms(h, 50), p99Ms: ms(h, 99), p999Ms: ms(h, 99.9), maxMs: ms(h, 100) };
  });
  const report = { startedAt: new Date().toISOString(), rate: options.rate, opsPerKind: options.ops, objectBytes: options.bytes, loadAverage: [loadAtStart, loadavg()[0] ?? 0], rows };
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`durable steps of a WAL flush, ${options.ops} of each, ${options.rate}/s interleaved, ${options.bytes} B objects, load ${loadAtStart.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)} (ms)`);
  console.log('| step | p50 | p99 | p99.9 | max |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.kind} | ${r.p50Ms} | ${r.p99Ms} | ${r.p999Ms} | ${r.maxMs} |`);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        rate: { type: 'string', default: '200' },
        ops: { type: 'string', default: '1000' },
        bytes: { type: 'string', default: '5120' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`durability-floor: ${(error as Error).message}`);
    return 2;
  }
  const number = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${text}`);
    return n;
  };
  try {
    await run({ rate: number('rate', values.rate, 1, 10_000), ops: number('ops', values.ops, 10, 100_000), bytes: number('bytes', values.bytes, 1, 64 * 1024 * 1024), json: values.json });
    return 0;
  } catch (error) {
    console.error(`durability-floor: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

process.exitCode = await main();
