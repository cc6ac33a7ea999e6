/**
 * `node bench/produce-threads.ts [--partitions 100] [--messages 12500] [--size 1024] [--repeats 10]`:
 * the produce row of `npm run bench` (acks=all, C client, each repeat on a FRESH topic created just
 * before, as bench-runner's produceMatrix does), after one 1 KiB × 6 warm-up row, on a broker started for
 * the run (filesystem store). Prints MB/s and the broker's CPU time per MB split by thread kind — the
 * main thread (JavaScript), V8's GC helpers, libuv's pool (file writes, fsyncs, LMDB commits) — from
 * /proc/PID/task/TID/stat. The main thread's share is the one the broker's code decides; the pool's
 * share is mostly the kernel copying WAL objects into the page cache.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../test/helpers/broker-process.ts';
import { createTopics } from './bench-topics.ts';
import { openNativeClient } from './native-client.ts';

const MB = 1_000_000;
const TIMEOUT_MS = 120_000;

/** CPU ms (user + system) per thread name of a Linux process, from /proc (USER_HZ ticks of 10 ms). */
function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return byName;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      partitions: { type: 'string', default: '100' },
      messages: { type: 'string', default: '12500' },
      size: { type: 'string', default: '1024' },
      repeats: { type: 'string', default: '10' },
    },
  });
  const partitions = Number(values.partitions);
  const messages = Number(values.messages);
  const size = Number(values.size);
  const repeats = Number(values.repeats);
  for (const [name, value] of [['partitions', partitions], ['messages', messages], ['size', size], ['repeats', repeats]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      console.error(`produce-threads: --${name} takes a positive integer, got '${values[name]}'`);
      return 2;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-produce-threads-'));
  const client = await openNativeClient(dir, (line) => console.error(line));
  const target = await startBroker({ logLevel: 'warn' });
  const rates: number[] = [];
  let mb = 0;
  let before = new Map<string, number>();
  try {
    await createTopics(target, ['produce-threads-warm'], 6, { clientId: 'kafscale-produce-threads' });
    await client.produce(target.bootstrap, 'produce-threads-warm', 50_000, 1024, TIMEOUT_MS);
    before = threadCpuMs(target.pid);
    for (let repeat = 0; repeat < repeats; repeat++) {
      const topic = `produce-threads-${repeat}-p${partitions}-s${size}`;
      await createTopics(target, [topic], partitions, { clientId: 'kafscale-produce-threads' });
      const result = await client.produce(target.bootstrap, topic, messages, size, TIMEOUT_MS);
      const rowMb = (messages * size) / MB;
      mb += rowMb;
      rates.push(rowMb / result.seconds);
    }
    const after = threadCpuMs(target.pid);
    const kinds = new Map<string, number>();
    for (const [name, ms] of after) {
      const kind = name === 'node' || name === 'MainThread' ? 'main' : name.startsWith('V8') ? 'v8' : name.startsWith('libuv') ? 'libuv' : 'other';
      kinds.set(kind, (kinds.get(kind) ?? 0) + ms - (before.get(name) ?? 0));
    }
    const perMb = (kind: string): string => ((kinds.get(kind) ?? 0) / mb).toFixed(2);
    const total = [...kinds.values()].reduce((sum, ms) => sum + ms, 0) / mb;
    console.log(`${size} B × ${partitions}p: median ${median(rates).toFixed(1)} MB/s (runs ${rates.map((r) => r.toFixed(1)).join(', ')}); broker CPU ms/MB: total ${total.toFixed(2)}, main ${perMb('main')}, v8 ${perMb('v8')}, libuv ${perMb('libuv')}, other ${perMb('other')}`);
  } finally {
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
