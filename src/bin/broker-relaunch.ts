/**
 * The broker's runtime memory settings (docs/benchmarks.md, "Memory (peak and idle RSS)"). Node fixes
 * them when the process starts — V8 reads its heap flags when it creates the heap, glibc reads its malloc
 * settings from the environment — so `kafscale broker` re-executes itself with them before it loads
 * anything (process.execve: the same process id, so tini, Kubernetes and `npm start` see one process).
 * Every way of starting a broker runs src/bin/kafscale.ts, so every one gets them: `npm start`, the
 * image's entrypoint, the bench and the tests.
 *
 * - `--max-semi-space-size=16` (MiB): V8 grows the young generation to 2 × 64 MiB on a large machine
 *   under produce load (measured) and keeps it; 2 × 16 MiB is enough for the broker's short-lived garbage.
 * - `--initial-old-space-size=128` (MiB): the old generation's allocation limit never falls below this.
 *   Without it V8 sets the limit at ~2 × the live old generation (~25 MiB live here), and because 2 × 16
 *   MiB of young generation must fit below the limit, it starts a mark-compact once the old generation is
 *   within ~40 MiB of it — about every 2.5 MiB promoted, every ~5 s at 1,000 produce requests per second.
 *   On 2 shared cores each one stalls the event loop ~20–35 ms: the latency's p99.9 (docs/benchmarks.md,
 *   "Latency: the old generation's limit"). With the floor, a mark-compact at that load comes every ~2
 *   minutes; Buffers (produce frames) still start one whenever 64 MiB of them were allocated, so under a
 *   produce burst the old generation is collected as often as before.
 * - `MALLOC_MMAP_THRESHOLD_=131072`: a fixed threshold. glibc raises its default one to the size of each
 *   large block freed, after which ~1 MiB request buffers come from the malloc heap and their memory
 *   stays resident when they are freed; above a fixed 128 KiB they are mapped and unmapped.
 *
 * - `NODE_COMPILE_CACHE=<the app's node_modules/.cache/kafscale-compile-cache>`: Node's module compile
 *   cache, which also keeps the TypeScript sources with their types stripped. A broker whose modules all
 *   come from it never starts Node's type stripper (a WebAssembly module kept for the life of the process):
 *   ~9 MiB less RSS, and the modules load in 0.15 s instead of 0.34 s (docs/benchmarks.md). Node checks
 *   each entry against its source, so a changed file is stripped again; the cache is per Node version,
 *   flags and user. The image carries one made at build time (`kafscale compile-cache`).
 *
 * An operator's own choice wins: a flag of the same name in NODE_OPTIONS or on node's command line, or
 * the variable already set (or glibc's GLIBC_TUNABLES naming the same tunable; NODE_DISABLE_COMPILE_CACHE
 * for the cache), is left as it is.
 */

export const BROKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--initial-old-space-size=128'];
export const BROKER_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };
/** Where the broker keeps Node's compile cache, relative to the application's root directory. */
export const COMPILE_CACHE_DIR = 'node_modules/.cache/kafscale-compile-cache';
const GLIBC_TUNABLE_OF: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: 'glibc.malloc.mmap_threshold' };

export interface Relaunch {
  /** argv for execve: node, its flags, the script, the command's arguments. */
  readonly args: string[];
  readonly env: Record<string, string | undefined>;
}

function flagName(flag: string): string {
  const name = flag.split('=')[0] as string;
  // V8 accepts both spellings: --max-semi-space-size and --max_semi_space_size.
  return name.replaceAll('_', '-');
}

/**
 * How to re-execute the broker with its runtime settings, or null when nothing is missing (already
 * applied, or chosen otherwise by the operator) — so a relaunched process never relaunches again.
 */
export function brokerRelaunch(process: {
  readonly execPath: string;
  readonly execArgv: readonly string[];
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}, compileCacheDir: string | null = null): Relaunch | null {
  const given = new Set([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((arg) => arg.startsWith('--')).map(flagName));
  const flags = BROKER_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
  const tunables = process.env.GLIBC_TUNABLES ?? '';
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(BROKER_MALLOC_ENV)) {
    const tunable = GLIBC_TUNABLE_OF[name];
    if (process.env[name] === undefined && (tunable === undefined || !tunables.includes(tunable))) env[name] = value;
  }
  if (compileCacheDir !== null && process.env.NODE_COMPILE_CACHE === undefined && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
    env.NODE_COMPILE_CACHE = compileCacheDir;
  }
  if (flags.length === 0 && Object.keys(env).length === 0) return null;
  return {
    args: [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)],
    env: { ...process.env, ...env },
  };
}
