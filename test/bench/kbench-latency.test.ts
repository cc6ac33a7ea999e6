/**
 * kbench's latency mode (bench/native/kbench.c) measures a broker on the same 2-core machine, so it must
 * not take a core from it: at 1,000 msg/s its threads sleep between sends and block on the consumer's
 * queue. The first version polled with a timeout truncated to whole milliseconds, i.e. 0 whenever the
 * next send was under 1 ms away, and spun: ~6.3 s of CPU in an 8 s run. This test runs it against a real
 * broker and bounds its CPU time (user + system, from the shell's `times`) well below that, and checks
 * that every record's end-to-end and acknowledgement latency is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createTopics } from '../../bench/bench-topics.ts';
import { buildKbench } from '../../bench/native-client.ts';
import { startBroker } from '../helpers/broker-process.ts';

const COUNT = 2000;
const RATE = 1000;

function whyNotRunnable(): string | false {
  const tools = existsSync('/usr/include/librdkafka/rdkafka.h') && spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
  return tools ? false : 'the C client needs librdkafka-dev and gcc (apt-get install librdkafka-dev gcc)';
}

/** Seconds from one `times` line ("0m0.120s 0m0.030s"): user + system. */
function cpuSeconds(line: string): number {
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  assert.equal(parts.length, 2, `a times line: ${line}`);
  return parts.reduce((sum, [, minutes, seconds]) => sum + Number(minutes) * 60 + Number(seconds), 0);
}

test('kbench latency sleeps between sends instead of spinning, and reports every record', { skip: whyNotRunnable(), timeout: 90_000 }, async () => {
  const built = await buildKbench(() => undefined);
  assert.ok('path' in built, `kbench builds: ${'problem' in built ? built.problem : ''}`);
  const broker = await startBroker({ logLevel: 'warn' });
  try {
    await createTopics({ host: broker.host, port: broker.port }, ['kbench-cpu'], 1, { clientId: 'kbench-latency-test' });
    // The shell's `times` prints its own and then its children's CPU time; the second line is kbench's.
    const script = `"$0" latency "$1" kbench-cpu 1 ${COUNT} 1024 ${RATE} 60000 > "$2"; status=$?; times; exit $status`;
    const out = `${broker.dataDir}.kbench-out`;
    const started = performance.now();
    const run = spawnSync('bash', ['-c', script, built.path, broker.bootstrap, out], { encoding: 'utf8', timeout: 80_000 });
    const wallSeconds = (performance.now() - started) / 1000;
    assert.equal(run.status, 0, `kbench latency exits 0: ${run.stderr}`);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    rmSync(out, { force: true });
    const result = JSON.parse(lines.at(-1)!) as { received: number; delivered: number; sent: number };
    assert.deepEqual([result.sent, result.delivered, result.received], [COUNT, COUNT, COUNT]);
    assert.equal(lines.filter((l) => l.startsWith('L ')).length, COUNT, 'one end-to-end latency per record');
    assert.equal(lines.filter((l) => l.startsWith('A ')).length, COUNT, 'one acknowledgement latency per record');
    const children = cpuSeconds(run.stdout.trimEnd().split('\n').at(-1)!);
    // The sends alone take COUNT / RATE = 2 s of the wall time; a spinning client burns most of it.
    assert.ok(wallSeconds >= COUNT / RATE, `paced at ${RATE} msg/s: ${wallSeconds.toFixed(2)} s`);
    assert.ok(children < 0.25 * (COUNT / RATE), `kbench used ${children.toFixed(2)} s of CPU over ${wallSeconds.toFixed(2)} s (a spinning client uses ~75 % of the wall time)`);
  } finally {
    await broker.stop();
  }
});
