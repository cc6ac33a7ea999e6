/**
 * `node bench/cpu-profile-top.ts FILE.cpuprofile [--top N] [--markdown] [--from US] [--to US] [--samples]`: the top of a V8 CPU profile
 * (`node --cpu-prof`) by self time, summed per function (name, file, line), as a table. Idle time
 * ("(idle)") is left out of the shares, so a row's share is of the time the process was on the CPU;
 * "(garbage collector)" and "(program)" (native code outside JavaScript) stay in. This is how the profile
 * tables in docs/benchmarks.md were made. `--from`/`--to` keep only samples in that span of the profile's
 * clock (CLOCK_MONOTONIC µs), e.g. the produces without the broker's start-up. `--samples` weighs every
 * sample alike (see profileTop), for profiles taken while other work competed for the CPU.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface TopRow {
  readonly functionName: string;
  /** The file's name and line, or '' for V8's own entries ((program), (garbage collector)). */
  readonly location: string;
  readonly selfMs: number;
  /** Share of the non-idle time, 0..100. */
  readonly selfPercent: number;
}

export interface ProfileTop {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly rows: readonly TopRow[];
}

function locationOf(frame: CallFrame): string {
  if (frame.url === '') return '';
  // node:internal/... stays as is; project files by their name (the directory is noise in a table).
  const file = frame.url.startsWith('node:') ? frame.url : basename(frame.url);
  return `${file}:${frame.lineNumber + 1}`;
}

/**
 * A span of CLOCK_MONOTONIC microseconds (V8's profile clock, and `process.hrtime` of any process on the
 * same Linux machine): only samples inside it count.
 */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/**
 * Self time per function; a sample's time is the delta to the next sample (what V8's tools do). With
 * `bySamples`, every sample counts as the profile's median interval instead: on a machine shared with
 * other work, a process descheduled for 20 ms right after a sample would otherwise charge those 20 ms to
 * whatever function that sample caught (a one-line helper can then show 5 % self time).
 */
export function profileTop(profile: CpuProfile, top: number, window: ProfileWindow | null = null, bySamples = false): ProfileTop {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<string, { functionName: string; location: string; us: number }>();
  let idleUs = 0;
  let busyUs = 0;
  let atUs = profile.startTime;
  const intervalUs = bySamples ? medianOf(profile.timeDeltas.slice(1)) : 0;
  for (let i = 0; i < profile.samples.length; i++) {
    atUs += profile.timeDeltas[i] ?? 0;
    if (window !== null && (atUs < window.fromUs || atUs > window.toUs)) continue;
    const node = byId.get(profile.samples[i] ?? -1);
    if (node === undefined) continue;
    const deltaUs = bySamples ? intervalUs : (profile.timeDeltas[i + 1] ?? 0);
    const name = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName;
    if (name === '(idle)') {
      idleUs += deltaUs;
      continue;
    }
    busyUs += deltaUs;
    const location = locationOf(node.callFrame);
    const key = `${name}\u0000${location}`;
    const entry = selfUs.get(key);
    if (entry === undefined) selfUs.set(key, { functionName: name, location, us: deltaUs });
    else entry.us += deltaUs;
  }
  const rows = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({
      functionName: entry.functionName,
      location: entry.location,
      selfMs: entry.us / 1000,
      selfPercent: busyUs === 0 ? 0 : (100 * entry.us) / busyUs,
    }));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, rows };
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function formatTop(result: ProfileTop, markdown: boolean): string {
  const lines: string[] = [];
  const header = `on CPU ${(result.busyMs / 1000).toFixed(2)} s, idle ${(result.idleMs / 1000).toFixed(2)} s`;
  if (markdown) {
    lines.push(`(${header})`, '', '| self % | self ms | function | file |', '|---:|---:|---|---|');
    for (const row of result.rows) lines.push(`| ${row.selfPercent.toFixed(1)} | ${row.selfMs.toFixed(0)} | \`${row.functionName}\` | ${row.location} |`);
  } else {
    lines.push(header);
    for (const row of result.rows) {
      lines.push(`${row.selfPercent.toFixed(1).padStart(5)} %  ${row.selfMs.toFixed(0).padStart(7)} ms  ${row.functionName}  ${row.location}`);
    }
  }
  return lines.join('\n');
}

function main(argv: readonly string[]): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      markdown: { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      samples: { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  const top = Number(values.top);
  if (file === undefined || !Number.isInteger(top) || top < 1) {
    console.error('usage: node bench/cpu-profile-top.ts FILE.cpuprofile [--top N] [--markdown] [--from US] [--to US] [--samples]');
    return 2;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const window = values.from === undefined && values.to === undefined ? null : { fromUs: Number(values.from ?? 0), toUs: Number(values.to ?? Number.MAX_SAFE_INTEGER) };
  console.log(formatTop(profileTop(profile, top, window, values.samples), values.markdown));
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
