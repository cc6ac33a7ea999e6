/**
 * `node bench/acquire-batch-bench.ts [--rounds 10] [--partitions 100]`: acquiring a fresh topic's partitions on one
 * LogService (embedded store in a temp directory), one partition at a time with 16 in flight (what the
 * placement pass did before batching) against LogService.acquireMany (what it does now), alternated;
 * prints wall time, process CPU time and metadata txns per topic (medians of the rounds).
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedMetadataStore } from '../src/storage/meta/embedded-metadata-store.ts';
import { MemoryObjectStore } from '../src/storage/object/memory-object-store.ts';
import { LogService } from '../src/services/log/log-service.ts';
import { FaultyMetadataStore, silentLog } from '../test/helpers/log-faults.ts';
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, partitions: { type: 'string', default: '100' } } });
const rounds = Number(values.rounds);
const partitions = Number(values.partitions);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(partitions) || partitions < 1) {
  console.error('acquire-batch-bench: --rounds and --partitions take positive integers');
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'kafscale-acquire-bench-'));
const inner = await EmbeddedMetadataStore.open({ dir, log: silentLog });
const faulty = new FaultyMetadataStore(inner);
const service = await LogService.open({ store: faulty.store, objects: new MemoryObjectStore(), log: silentLog, brokerId: 1, lease: await faulty.store.grantLease(60_000), namespace: 'ns', merge: false });
const res: Record<string, { wall: number[]; cpu: number[]; txns: number[] }> = { single16: { wall: [], cpu: [], txns: [] }, batch: { wall: [], cpu: [], txns: [] } };
for (let round = 0; round < rounds; round++) {
  for (const mode of ['single16', 'batch'] as const) {
    const topicId = randomUUID();
    const t0 = performance.now(); const c0 = process.cpuUsage(); const n0 = faulty.txns.length;
    if (mode === 'batch') await Promise.all(service.acquireMany(Array.from({ length: partitions }, (_, partition) => ({ topicId, partition }))));
    else {
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => { while (next < partitions) await service.acquire(topicId, next++); }));
    }
    const c = process.cpuUsage(c0);
    res[mode]!.wall.push(performance.now() - t0); res[mode]!.cpu.push((c.user + c.system) / 1000); res[mode]!.txns.push(faulty.txns.length - n0);
  }
}
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const [mode, r] of Object.entries(res)) console.log(`${mode}: wall median ${med(r.wall).toFixed(1)} ms (${r.wall.map((x) => x.toFixed(0)).join(', ')}), CPU median ${med(r.cpu).toFixed(1)} ms, store txns ${med(r.txns)}`);
await service.close(); await inner.close(); await rm(dir, { recursive: true, force: true });
