import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { BROKER_NODE_FLAGS } from '../bin/broker-relaunch.ts';
import { IdleHeapTrim } from './idle-heap-trim.ts';

/** A fake event loop whose busy share per interval the test sets. */
function fakeLoop(): { utilization: (previous?: EventLoopUtilization) => EventLoopUtilization; busy(share: number): void } {
  let active = 0;
  let idle = 0;
  const at = (): EventLoopUtilization => ({ active, idle, utilization: active / Math.max(1, active + idle) });
  return {
    utilization: (previous) => {
      if (previous === undefined) return at();
      const a = active - previous.active;
      const i = idle - previous.idle;
      return { active: a, idle: i, utilization: a / Math.max(1, a + i) };
    },
    busy(share) {
      active += share * 1000;
      idle += (1 - share) * 1000;
    },
  };
}

describe('IdleHeapTrim', () => {
  it('gives the cue after an idle interval, not after a busy one, and at most once per gap', () => {
    const loop = fakeLoop();
    let now = 0;
    let nudges = 0;
    const trim = new IdleHeapTrim({ utilization: loop.utilization, nudge: () => nudges++, now: () => now, minGapMs: 60_000, maxBusyShare: 0.05 });
    loop.busy(0.5);
    now += 15_000;
    assert.equal(trim.check(), false, 'busy');
    loop.busy(0.01);
    now += 15_000;
    assert.equal(trim.check(), true, 'idle');
    loop.busy(0.01);
    now += 15_000;
    assert.equal(trim.check(), false, 'idle again, but within the gap');
    loop.busy(0.2);
    now += 50_000;
    assert.equal(trim.check(), false, 'past the gap, but busy');
    loop.busy(0.04);
    now += 15_000;
    assert.equal(trim.check(), true, 'idle past the gap');
    assert.equal(nudges, 2);
    assert.equal(trim.nudges, 2);
  });

  it('its timer never keeps the process alive, and stops', () => {
    const trim = new IdleHeapTrim({ intervalMs: 5 });
    trim.start();
    trim.start();
    trim.stop();
    trim.stop();
  });

  it("the cue works on this Node: V8's memory reducer shrinks a heap grown by a burst, which stays grown without it", { timeout: 90_000 }, async () => {
    // The reducer waits ~8 s twice before it collects; without the cue nothing changes in 25 s either.
    const [nudged, control] = await Promise.all([heapAfterBurst(true, 40_000), heapAfterBurst(false, 25_000)]);
    console.log(`# heap committed after a burst: ${nudged.before.toFixed(1)} -> ${nudged.after.toFixed(1)} MiB with the cue, ${control.before.toFixed(1)} -> ${control.after.toFixed(1)} MiB without`);
    assert.ok(nudged.after < nudged.before / 2, `with the cue: ${nudged.before.toFixed(1)} -> ${nudged.after.toFixed(1)} MiB`);
  });
});

/**
 * A child process (the broker's heap flags) allocates a burst, goes idle, gives the cue or
 * not, and reports its committed heap once it has halved or `waitMs` have passed.
 */
function heapAfterBurst(nudge: boolean, waitMs: number): Promise<{ before: number; after: number }> {
  const script = `
    const { IdleHeapTrim } = await import(${JSON.stringify(new URL('./idle-heap-trim.ts', import.meta.url).href)});
    let keep = [];
    for (let round = 0; round < 120; round++) {
      const batch = [];
      for (let i = 0; i < 2000; i++) batch.push({ i, s: 'x'.repeat(64), b: Buffer.allocUnsafeSlow(256) });
      keep.push(batch);
      if (keep.length > 30) keep.shift();
    }
    keep = null;
    const before = process.memoryUsage().heapTotal;
    // An idle interval already passed as far as the trim can tell: the fake loop reports nothing busy.
    const trim = new IdleHeapTrim({ utilization: () => ({ active: 0, idle: 1, utilization: 0 }), nudge: ${nudge ? 'undefined' : '() => {}'} });
    trim.check();
    const started = Date.now();
    const timer = setInterval(() => {
      const now = process.memoryUsage().heapTotal;
      if (now < before / 2 || Date.now() - started > ${waitMs}) {
        clearInterval(timer);
        process.stdout.write(JSON.stringify({ before: before / 1048576, after: now / 1048576 }));
      }
    }, 500);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...BROKER_NODE_FLAGS, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited ${String(code)}: ${err}`));
      else resolve(JSON.parse(out) as { before: number; after: number });
    });
  });
}
