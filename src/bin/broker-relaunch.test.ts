import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startBroker } from '../../test/helpers/broker-process.ts';
import { brokerRelaunch } from './broker-relaunch.ts';

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

  it('a relaunched process does not relaunch again', () => {
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
  });

  it("an operator's NODE_OPTIONS value is kept", async (t) => {
    const broker = await startBroker({ logLevel: 'warn', env: { NODE_OPTIONS: '--max-semi-space-size=8' } });
    t.after(() => broker.stop());
    const { args, env } = runtimeOf(broker.pid);
    assert.ok(!args.some((arg) => arg.startsWith('--max-semi-space-size')), args.join(' '));
    assert.ok(env.includes('NODE_OPTIONS=--max-semi-space-size=8'));
  });
});
