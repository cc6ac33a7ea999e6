/**
 * `node bench/produce-profile.ts [--repeats N] [--rows 1024x6,1024x100,100x6] [--no-profile] [--out DIR]
 * [--top N] [--markdown] [--samples] [--node-options OPTS] [--broker-log FILE]`: the produce rows the
 * throughput targets name (acks=all, C client: 1 KiB × 6, 1 KiB × 100, 100 B × 6 partitions, the message
 * counts of `npm run bench`), on a broker started for the run with `node --cpu-prof` (filesystem store).
 * Prints MB/s and the broker's CPU time per MB (user + system, from /proc: steadier than MB/s on a
 * machine shared with other work) per run and row, then the top of the broker's CPU profile by self time
 * (bench/cpu-profile-top.ts) over the span of the produces (start-up and shutdown left out; topic
 * creation between rows stays in). Per run also: the broker's CPU split by thread (JavaScript, V8's
 * helpers, libuv's filesystem pool), the client's own CPU per MB (kbench's user + system time, taken from
 * this process's reaped children), and without a profile the produce requests and flushes the run took
 * (the broker's /metrics, scraped between runs).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** Produce requests received and flushes made so far (the broker's /metrics). */
async function requestCounts(opsPort: number): Promise<{ produces: number; flushes: number }> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const sum = (pattern: RegExp): number => {
    let total = 0;
    for (const match of text.matchAll(pattern)) total += Number(match[1]);
    return total;
  };
  return { produces: sum(/^kafscale_requests_total\{api_key="0",[^}]*\} (\S+)$/gm), flushes: sum(/^kafscale_flushes_total\{[^}]*\} (\S+)$/gm) };
}

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

/** Thread groups of a Node process by their names (/proc/PID/task/TID/comm). */
const THREAD_GROUPS = { MainThread: 'main', V8Worker: 'v8', 'libuv-worker': 'libuv' } as const;
type ThreadGroup = (typeof THREAD_GROUPS)[keyof typeof THREAD_GROUPS] | 'other';

/**
 * CPU time (user + system) so far per thread group: the JavaScript thread ('main'), V8's helper threads
 * ('v8': concurrent marking and sweeping, parallel scavenges, the freeing of ArrayBuffers, background
 * compilation), libuv's pool ('libuv': the filesystem calls — writes and fsyncs of WAL objects, which the
 * kernel accounts as system time) and the rest. Exited threads' time is lost, so the parts can sum to a
 * little less than cpuMs.
 */
function cpuMsByThread(pid: number): Record<ThreadGroup, number> {
  const result: Record<ThreadGroup, number> = { main: 0, v8: 0, libuv: 0, other: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return result;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const group: ThreadGroup = (THREAD_GROUPS as Record<string, ThreadGroup>)[name] ?? 'other';
    result[group] += (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return result;
}

/**
 * CPU time (user + system) of this process's waited-for children so far, in ms (cutime + cstime of
 * /proc/self/stat): the client processes (kbench) once each has exited and been reaped. The broker is not
 * in it while it runs.
 */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
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
      samples: { type: 'boolean', default: false },
      rows: { type: 'string' },
      // Extra node options for the broker (those NODE_OPTIONS allows), e.g. --import=FILE.
      'node-options': { type: 'string', default: '' },
      'broker-log': { type: 'string' },
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
  const nodeOptions = [profile ? `--cpu-prof --cpu-prof-dir=${dir}` : '', values['node-options']].join(' ').trim();
  const target = await startBroker({ logLevel: 'warn', env: nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions } });
  const results = new Map<string, number[]>();
  const cpuMsPerMb = new Map<string, number[]>();
  const clientCpuMsPerMb = new Map<string, number[]>();
  const threadMsPerMb = new Map<string, Array<Record<ThreadGroup, number>>>();
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
        // Scraping /metrics costs the broker a few ms: only without a profile, so it stays out of it.
        const countsBefore = profile ? null : await requestCounts(target.opsPort);
        const threadsBefore = cpuMsByThread(target.pid);
        const clientCpuBefore = childrenCpuMs();
        const result = await client.produce(target.bootstrap, topic, row.messages, row.sizeBytes, TIMEOUT_MS);
        const mb = (row.messages * row.sizeBytes) / MB;
        const mbPerSec = mb / result.seconds;
        const key = `${row.sizeBytes} B × ${row.partitions}p`;
        results.set(key, [...(results.get(key) ?? []), mbPerSec]);
        const perMb = (cpuMs(target.pid) - cpuBefore) / mb;
        cpuMsPerMb.set(key, [...(cpuMsPerMb.get(key) ?? []), perMb]);
        const clientPerMb = (childrenCpuMs() - clientCpuBefore) / mb;
        clientCpuMsPerMb.set(key, [...(clientCpuMsPerMb.get(key) ?? []), clientPerMb]);
        const threadsAfter = cpuMsByThread(target.pid);
        const threads = { main: 0, v8: 0, libuv: 0, other: 0 };
        for (const group of Object.keys(threads) as ThreadGroup[]) threads[group] = (threadsAfter[group] - threadsBefore[group]) / mb;
        threadMsPerMb.set(key, [...(threadMsPerMb.get(key) ?? []), threads]);
        let counts = '';
        if (countsBefore !== null) {
          const countsAfter = await requestCounts(target.opsPort);
          const requests = countsAfter.produces - countsBefore.produces;
          counts = `; ${requests} produce requests (${((mb * 1000) / Math.max(1, requests)).toFixed(0)} kB each), ${countsAfter.flushes - countsBefore.flushes} flushes`;
        }
        log(
          `produce-profile: ${key}: ${mbPerSec.toFixed(1)} MB/s, broker CPU ${perMb.toFixed(2)} ms/MB ` +
            `(main ${threads.main.toFixed(2)}, V8 helpers ${threads.v8.toFixed(2)}, libuv pool ${threads.libuv.toFixed(2)}, other ${threads.other.toFixed(2)}), ` +
            `client CPU ${clientPerMb.toFixed(2)} ms/MB (${((clientPerMb * mbPerSec) / 10).toFixed(0)} % of a core)${counts}`,
        );
      }
    }
    toUs = nowUs();
    const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${target.pid}/status`, 'utf8'));
    if (hwm !== null) console.log(`broker peak RSS ${(Number(hwm[1]) / 1024).toFixed(0)} MiB`);
  } finally {
    await target.stop();
    // E.g. --node-options --trace-gc: what the broker printed (the tail the helper keeps).
    if (values['broker-log'] !== undefined) writeFileSync(values['broker-log'], target.logs());
  }
  for (const [key, runs] of results) {
    const cpu = cpuMsPerMb.get(key) ?? [];
    const clientCpu = clientCpuMsPerMb.get(key) ?? [];
    const threads = threadMsPerMb.get(key) ?? [];
    const split = (['main', 'v8', 'libuv', 'other'] as const).map((group) => `${group} ${median(threads.map((each) => each[group])).toFixed(2)}`).join(', ');
    console.log(`${key}: median ${median(runs).toFixed(1)} MB/s (runs ${runs.map((each) => each.toFixed(1)).join(', ')}); broker CPU median ${median(cpu).toFixed(2)} ms/MB (runs ${cpu.map((each) => each.toFixed(2)).join(', ')}); broker threads' medians (ms/MB) ${split}; client CPU median ${median(clientCpu).toFixed(2)} ms/MB (runs ${clientCpu.map((each) => each.toFixed(2)).join(', ')})`);
  }
  // Without a profile the directory held only kcat's message files (if any): nothing to keep.
  if (!profile && values.out === undefined) rmSync(dir, { recursive: true, force: true });
  if (profile) {
    // The largest profile: a launcher that re-executes node writes a small one of its own first.
    const file = readdirSync(dir)
      .filter((name) => name.endsWith('.cpuprofile'))
      .map((name) => ({ name, bytes: statSync(join(dir, name)).size }))
      .sort((a, b) => b.bytes - a.bytes)[0]?.name;
    if (file === undefined) {
      console.error(`produce-profile: the broker wrote no .cpuprofile into ${dir}`);
      return 1;
    }
    console.log(`profile: ${join(dir, file)} (the produces: --from ${fromUs} --to ${toUs})`);
    const window = { fromUs, toUs };
    const top = profileTop(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, Number(values.top), window, values.samples);
    console.log(formatTop(top, values.markdown));
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
