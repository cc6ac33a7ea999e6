import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { startBroker } from '../../test/helpers/broker-process.ts';
import { cacheFiles } from '../../test/helpers/compile-cache.ts';
import { BROKER_NODE_FLAGS, brokerRelaunch, COMPILE_CACHE_DIR } from './broker-relaunch.ts';

const ENTRYPOINT = fileURLToPath(new URL('./kafscale.ts', import.meta.url));


const base = { execPath: '/usr/bin/node', execArgv: [] as string[], argv: ['/usr/bin/node', '/app/src/bin/kafscale.ts', 'broker', '--log-level', 'warn'], env: { PATH: '/bin' } as Record<string, string | undefined> };

describe('brokerRelaunch', () => {
  it('adds the heap flags before the script and the malloc threshold to the environment', () => {
    const relaunch = brokerRelaunch(base);
    assert.deepEqual(relaunch?.args, ['/usr/bin/node', '--max-semi-space-size=16', '--initial-old-space-size=128', '/app/src/bin/kafscale.ts', 'broker', '--log-level', 'warn']);
    assert.deepEqual(relaunch?.env, { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it('keeps node flags already given, in order, before its own', () => {
    const relaunch = brokerRelaunch({ ...base, execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/p'] });
    assert.deepEqual(relaunch?.args.slice(0, 6), ['/usr/bin/node', '--cpu-prof', '--cpu-prof-dir=/tmp/p', '--max-semi-space-size=16', '--initial-old-space-size=128', '/app/src/bin/kafscale.ts']);
  });

  it("sets Node's compile cache to the directory it is given, unless the operator set or disabled it", () => {
    assert.equal(brokerRelaunch(base, '/app/node_modules/.cache/c')?.env.NODE_COMPILE_CACHE, '/app/node_modules/.cache/c');
    assert.equal(brokerRelaunch({ ...base, env: { NODE_COMPILE_CACHE: '/cache' } }, '/app/c')?.env.NODE_COMPILE_CACHE, '/cache');
    assert.equal(brokerRelaunch({ ...base, env: { NODE_DISABLE_COMPILE_CACHE: '1' } }, '/app/c')?.env.NODE_COMPILE_CACHE, undefined);
    const flagsGiven = ['--max-semi-space-size=4', '--initial-old-space-size=0'];
    assert.equal(brokerRelaunch({ ...base, execArgv: flagsGiven, env: { MALLOC_MMAP_THRESHOLD_: '65536', NODE_COMPILE_CACHE: '/cache' } }, '/app/c'), null);
    assert.equal(brokerRelaunch({ ...base, execArgv: flagsGiven, env: { MALLOC_MMAP_THRESHOLD_: '65536' } }, '/app/c')?.env.NODE_COMPILE_CACHE, '/app/c', 'a missing cache alone relaunches');
  });

  it('a relaunched process does not relaunch again', () => {
    assert.equal(brokerRelaunch({ ...base, execArgv: [...BROKER_NODE_FLAGS], env: brokerRelaunch(base, '/app/c')!.env }, '/app/c'), null);
    const first = brokerRelaunch(base);
    assert.ok(first !== null);
    const [execPath, ...rest] = first.args;
    const scriptAt = rest.indexOf('/app/src/bin/kafscale.ts');
    assert.equal(brokerRelaunch({ execPath: execPath!, execArgv: rest.slice(0, scriptAt), argv: [execPath!, ...rest.slice(scriptAt)], env: first.env }), null);
  });

  it("the operator's own choices win: NODE_OPTIONS or a node flag (either spelling), the variable, or GLIBC_TUNABLES", () => {
    assert.deepEqual(brokerRelaunch({ ...base, env: { NODE_OPTIONS: '--max-semi-space-size=64 --initial-old-space-size=0 --trace-gc' } })?.args, base.argv);
    assert.deepEqual(brokerRelaunch({ ...base, env: { NODE_OPTIONS: '--initial_old_space_size=512' } })?.args, ['/usr/bin/node', '--max-semi-space-size=16', ...base.argv.slice(1)]);
    assert.deepEqual(brokerRelaunch({ ...base, execArgv: ['--max_semi_space_size=4'] })?.args, ['/usr/bin/node', '--max_semi_space_size=4', '--initial-old-space-size=128', ...base.argv.slice(1)]);
    const flagsGiven = ['--max-semi-space-size=4', '--initial-old-space-size=64'];
    assert.equal(brokerRelaunch({ ...base, execArgv: flagsGiven, env: { MALLOC_MMAP_THRESHOLD_: '65536' } }), null);
    assert.equal(brokerRelaunch({ ...base, execArgv: flagsGiven, env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' } }), null);
  });
});

describe('kafscale broker runs with its runtime settings (real process)', { timeout: 60_000 }, () => {
  function runtimeOf(pid: number): { args: string[]; env: string[] } {
    return { args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'), env: readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0') };
  }

  it('relaunched in place: the same process has the flag and the variable, and serves', async (t) => {
    const broker = await startBroker({ logLevel: 'warn' });
    t.after(() => broker.stop());
    const { args, env } = runtimeOf(broker.pid);
    for (const flag of BROKER_NODE_FLAGS) assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`);
    assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072'));
    assert.ok(env.includes(`NODE_COMPILE_CACHE=${fileURLToPath(new URL(`../../${COMPILE_CACHE_DIR}`, import.meta.url))}`), env.filter((pair) => pair.startsWith('NODE_')).join(' '));
  });

  it('keeps the compile cache: a second start finds every module in it and writes nothing', async (t) => {
    const cache = mkdtempSync(join(tmpdir(), 'kafscale-compile-cache-'));
    t.after(() => rmSync(cache, { recursive: true, force: true }));
    const first = await startBroker({ logLevel: 'warn', env: { NODE_COMPILE_CACHE: cache } });
    await first.stop();
    const written = cacheFiles(cache);
    assert.ok(written.size > 100, `the broker's modules are cached (${written.size} entries)`);
    const second = await startBroker({ logLevel: 'warn', env: { NODE_COMPILE_CACHE: cache } });
    await second.stop();
    assert.deepEqual(cacheFiles(cache), written, 'no entry added or rewritten: nothing was compiled or stripped again');
  });

  it('kafscale compile-cache fills the cache with cluster-mode modules too; with the cache disabled it says so', () => {
    const cache = mkdtempSync(join(tmpdir(), 'kafscale-compile-cache-'));
    try {
      const filled = spawnSync(process.execPath, [ENTRYPOINT, 'compile-cache'], { env: { ...process.env, NODE_COMPILE_CACHE: cache }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(filled.status, 0, filled.stderr);
      assert.match(filled.stdout, /compile cache written to /);
      const all = cacheFiles(cache).size;
      // A broker on the embedded store loads fewer modules: etcd and S3 come on top.
      const broker = spawnSync(process.execPath, [...BROKER_NODE_FLAGS, '-e', `import(${JSON.stringify(pathToFileURL(fileURLToPath(new URL('./kafscale-command.ts', import.meta.url))).href)}).then(() => require('node:module').flushCompileCache())`], { env: { ...process.env, NODE_COMPILE_CACHE: join(cache, 'broker-only') }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(broker.status, 0, broker.stderr);
      const brokerOnly = cacheFiles(join(cache, 'broker-only')).size;
      assert.ok(all > brokerOnly + 100, `${all} entries against ${brokerOnly} without cluster mode`);
      const disabled = spawnSync(process.execPath, [ENTRYPOINT, 'compile-cache'], { env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(disabled.status, 1);
      assert.match(disabled.stderr, /compile cache is not enabled/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("an operator's NODE_OPTIONS value is kept", async (t) => {
    const broker = await startBroker({ logLevel: 'warn', env: { NODE_OPTIONS: '--max-semi-space-size=8' } });
    t.after(() => broker.stop());
    const { args, env } = runtimeOf(broker.pid);
    assert.ok(!args.some((arg) => arg.startsWith('--max-semi-space-size')), args.join(' '));
    assert.ok(env.includes('NODE_OPTIONS=--max-semi-space-size=8'));
  });
});

describe("the broker's heap flags in this Node's V8 (real child processes)", { timeout: 60_000 }, () => {
  /**
   * Mark-compacts while a child, after a full GC, builds a ~25 MiB old generation (a broker's, measured)
   * and promotes ~25 MiB more, a little at a time, that then dies — as a broker under a steady produce
   * load does (docs/benchmarks.md, "Latency: the old generation's limit"). Without the floor, V8 sets the
   * limit from the small heap the GC left and collects again within these ~50 MiB; with it, the limit
   * stays at 128 MiB.
   */
  function markCompactsUnderSteadyPromotion(flags: readonly string[]): number {
    const script = `
      const { PerformanceObserver, constants } = await import('node:perf_hooks');
      globalThis.gc();
      let majors = 0;
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
      });
      observer.observe({ entryTypes: ['gc'] });
      const live = [];
      const kept = [];
      let garbage = [];
      for (let step = 0; step < 2000; step++) {
        garbage = [];
        for (let j = 0; j < 2000; j++) garbage.push({ j, step });
        if (step < 1000) live.push(Array.from({ length: 250 }, (_, j) => ({ j })));
        kept.push(Array.from({ length: 300 }, (_, j) => ({ j })));
        if (kept.length > 300) kept.shift();
        // V8 starts incremental marking from a task: yield to the loop, as a broker does.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      observer.disconnect();
      process.stdout.write(JSON.stringify({ majors, held: live.length + kept.length + garbage.length }));
    `;
    const child = spawnSync(process.execPath, [...flags, '--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    return (JSON.parse(child.stdout) as { majors: number }).majors;
  }

  it('without the old-generation floor V8 collects the old generation again within ~50 MiB; with the floor it does not', () => {
    const floorless = markCompactsUnderSteadyPromotion(BROKER_NODE_FLAGS.filter((flag) => !flag.startsWith('--initial-old-space-size')));
    const broker = markCompactsUnderSteadyPromotion(BROKER_NODE_FLAGS);
    assert.ok(floorless >= 1, `the workload must make V8 collect the old generation without the floor (${floorless} mark-compacts)`);
    assert.equal(broker, 0, `mark-compacts with the broker's flags (${floorless} without the floor)`);
  });
});
