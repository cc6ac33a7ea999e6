/**
 * `node bench/produce-profile.ts [--repeats N] [--rows 1024x6,1024x100,100x6] [--no-profile] [--out DIR]
 * [--top N] [--markdown]`: the produce rows the
 * throughput targets name (acks=all, C client: 1 KiB × 6, 1 KiB × 100, 100 B × 6 partitions, the message
 * counts of `npm run bench`), on a broker started for the run with `node --cpu-prof` (filesystem store).
 * Prints MB/s and the broker's CPU time per MB (user + system, from /proc: steadier than MB/s on a
 * machine shared with other work) per run and row, then the top of the broker's CPU profile by self time
 * (bench/cpu-profile-top.ts) over the span of the produces (start-up and shutdown left out; topic
 * creation between rows stays in).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../test/helpers/broker-process.ts';
import { createTopics } from './bench-topics.ts';
import { formatTop, profileTop, type CpuProfile } from './cpu-profile-top.ts';
import { openNativeClient } from './native-client.ts';

const ROWS = [
  { sizeBytes: 1024, partitions: 6, messages: 50_000 },
  { sizeBytes: 1024, partitions: 100, messages: 12_500 },
  { sizeBytes: 100, partitions: 6, messages: 200_000 },
] as const;
const TIMEOUT_MS = 300_000;
const MB = 1_000_000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * CPU time (user + system, all threads: the main thread, libuv's pool, GC helpers) of a Linux process
 * so far, in ms; from /proc/PID/stat in clock ticks (USER_HZ, 100 on Linux).
 */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      repeats: { type: 'string', default: '3' },
      'no-profile': { type: 'boolean', default: false },
      out: { type: 'string' },
      top: { type: 'string', default: '25' },
      markdown: { type: 'boolean', default: false },
      rows: { type: 'string' },
    },
  });
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20) {
    console.error(`produce-profile: --repeats takes 1 to 20, got '${values.repeats}'`);
    return 2;
  }
  const profile = !values['no-profile'];
  const dir = values.out ?? mkdtempSync(join(tmpdir(), 'kafscale-cpu-prof-'));
  const log = (line: string): void => console.error(line);
  const client = await openNativeClient(dir, log);
  // 'warn': the broker's info log is per connection (as in bench-target.ts).
  const target = await startBroker({ logLevel: 'warn', env: profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } : {} });
  const results = new Map<string, number[]>();
  const cpuMsPerMb = new Map<string, number[]>();
  const rows = ROWS.filter((row) => values.rows === undefined || values.rows.split(',').includes(`${row.sizeBytes}x${row.partitions}`));
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  let fromUs = 0;
  let toUs = 0;
  try {
    fromUs = nowUs();
    let seq = 0;
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const row of rows) {
        const topic = `produce-profile-${seq++}-p${row.partitions}-s${row.sizeBytes}`;
        await createTopics(target, [topic], row.partitions, { clientId: 'kafscale-produce-profile' });
        const cpuBefore = cpuMs(target.pid);
        const result = await client.produce(target.bootstrap, topic, row.messages, row.sizeBytes, TIMEOUT_MS);
        const mb = (row.messages * row.sizeBytes) / MB;
        const mbPerSec = mb / result.seconds;
        const key = `${row.sizeBytes} B × ${row.partitions}p`;
        results.set(key, [...(results.get(key) ?? []), mbPerSec]);
        const perMb = (cpuMs(target.pid) - cpuBefore) / mb;
        cpuMsPerMb.set(key, [...(cpuMsPerMb.get(key) ?? []), perMb]);
        log(`produce-profile: ${key}: ${mbPerSec.toFixed(1)} MB/s, broker CPU ${perMb.toFixed(2)} ms/MB`);
      }
    }
    toUs = nowUs();
    const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${target.pid}/status`, 'utf8'));
    if (hwm !== null) console.log(`broker peak RSS ${(Number(hwm[1]) / 1024).toFixed(0)} MiB`);
  } finally {
    await target.stop();
  }
  for (const [key, runs] of results) {
    const cpu = cpuMsPerMb.get(key) ?? [];
    console.log(`${key}: median ${median(runs).toFixed(1)} MB/s (runs ${runs.map((each) => each.toFixed(1)).join(', ')}); broker CPU median ${median(cpu).toFixed(2)} ms/MB (runs ${cpu.map((each) => each.toFixed(2)).join(', ')})`);
  }
  // Without a profile the directory held only kcat's message files (if any): nothing to keep.
  if (!profile && values.out === undefined) rmSync(dir, { recursive: true, force: true });
  if (profile) {
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) {
      console.error(`produce-profile: the broker wrote no .cpuprofile into ${dir}`);
      return 1;
    }
    console.log(`profile: ${join(dir, file)} (the produces: --from ${fromUs} --to ${toUs})`);
    const window = { fromUs, toUs };
    const top = profileTop(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, Number(values.top), window);
    console.log(formatTop(top, values.markdown));
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
