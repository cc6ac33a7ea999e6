import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { startBroker } from '../../test/helpers/broker-process.ts';
import { cacheFiles } from '../../test/helpers/compile-cache.ts';
import { brokerRelaunch, COMPILE_CACHE_DIR } from './broker-relaunch.ts';

const ENTRYPOINT = fileURLToPath(new URL('./kafscale.ts', import.meta.url));


const base = { execPath: '/usr/bin/node', execArgv: [] as string[], argv: ['/usr/bin/node', '/app/src/bin/kafscale.ts', 'broker', '--log-level', 'warn'], env: { PATH: '/bin' } as Record<string, string | undefined> };

describe('brokerRelaunch', () => {
  it('adds the young-generation flag before the script and the malloc threshold to the environment', () => {
    const relaunch = brokerRelaunch(base);
    assert.deepEqual(relaunch?.args, ['/usr/bin/node', '--max-semi-space-size=16', '/app/src/bin/kafscale.ts', 'broker', '--log-level', 'warn']);
    assert.deepEqual(relaunch?.env, { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it('keeps node flags already given, in order, before its own', () => {
    const relaunch = brokerRelaunch({ ...base, execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/p'] });
    assert.deepEqual(relaunch?.args.slice(0, 5), ['/usr/bin/node', '--cpu-prof', '--cpu-prof-dir=/tmp/p', '--max-semi-space-size=16', '/app/src/bin/kafscale.ts']);
  });

  it("sets Node's compile cache to the directory it is given, unless the operator set or disabled it", () => {
    assert.equal(brokerRelaunch(base, '/app/node_modules/.cache/c')?.env.NODE_COMPILE_CACHE, '/app/node_modules/.cache/c');
    assert.equal(brokerRelaunch({ ...base, env: { NODE_COMPILE_CACHE: '/cache' } }, '/app/c')?.env.NODE_COMPILE_CACHE, '/cache');
    assert.equal(brokerRelaunch({ ...base, env: { NODE_DISABLE_COMPILE_CACHE: '1' } }, '/app/c')?.env.NODE_COMPILE_CACHE, undefined);
    assert.equal(brokerRelaunch({ ...base, execArgv: ['--max-semi-space-size=4'], env: { MALLOC_MMAP_THRESHOLD_: '65536', NODE_COMPILE_CACHE: '/cache' } }, '/app/c'), null);
    assert.equal(brokerRelaunch({ ...base, execArgv: ['--max-semi-space-size=4'], env: { MALLOC_MMAP_THRESHOLD_: '65536' } }, '/app/c')?.env.NODE_COMPILE_CACHE, '/app/c', 'a missing cache alone relaunches');
  });

  it('a relaunched process does not relaunch again', () => {
    assert.equal(brokerRelaunch({ ...base, execArgv: ['--max-semi-space-size=16'], env: brokerRelaunch(base, '/app/c')!.env }, '/app/c'), null);
    const first = brokerRelaunch(base);
    assert.ok(first !== null);
    const [execPath, ...rest] = first.args;
    const scriptAt = rest.indexOf('/app/src/bin/kafscale.ts');
    assert.equal(brokerRelaunch({ execPath: execPath!, execArgv: rest.slice(0, scriptAt), argv: [execPath!, ...rest.slice(scriptAt)], env: first.env }), null);
  });

  it("the operator's own choices win: NODE_OPTIONS or a node flag (either spelling), the variable, or GLIBC_TUNABLES", () => {
    assert.deepEqual(brokerRelaunch({ ...base, env: { NODE_OPTIONS: '--max-semi-space-size=64 --trace-gc' } })?.args, base.argv);
    assert.deepEqual(brokerRelaunch({ ...base, execArgv: ['--max_semi_space_size=4'] })?.args, ['/usr/bin/node', '--max_semi_space_size=4', ...base.argv.slice(1)]);
    assert.equal(brokerRelaunch({ ...base, execArgv: ['--max-semi-space-size=4'], env: { MALLOC_MMAP_THRESHOLD_: '65536' } }), null);
    assert.equal(brokerRelaunch({ ...base, execArgv: ['--max-semi-space-size=4'], env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' } }), null);
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
    assert.ok(args.includes('--max-semi-space-size=16'), args.join(' '));
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
      const broker = spawnSync(process.execPath, ['--max-semi-space-size=16', '-e', `import(${JSON.stringify(pathToFileURL(fileURLToPath(new URL('./kafscale-command.ts', import.meta.url))).href)}).then(() => require('node:module').flushCompileCache())`], { env: { ...process.env, NODE_COMPILE_CACHE: join(cache, 'broker-only') }, encoding: 'utf8', timeout: 60_000 });
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
