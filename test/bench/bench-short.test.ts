/**
 * `npm run bench -- --short` must keep working (CI runs it through this test so it cannot rot): the
 * whole bench runs as a child process in short mode, starts and stops its own broker, and prints a
 * result document whose numbers are plausible. Skips, naming what is missing, while the broker does
 * not advertise the APIs the bench needs or no librdkafka client (kcat or the C client) is available.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { advertisedApiKeys, externalTarget, missingApis } from '../../bench/bench-target.ts';
import type { BenchReport } from '../../bench/bench-report.ts';
import { startBroker } from '../helpers/broker-process.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCH_TIMEOUT_MS = 55_000;

async function whyNotRunnable(): Promise<string | false> {
  const kcat = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
  const kbench = existsSync('/usr/include/librdkafka/rdkafka.h') && spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!kcat && !kbench) return 'no librdkafka client: apt-get install kcat librdkafka-dev gcc';
  const broker = await startBroker({ logLevel: 'warn' });
  try {
    const missing = missingApis(await advertisedApiKeys(externalTarget(broker.bootstrap, null)));
    return missing.length > 0 ? `the broker does not serve ${missing.join(', ')} yet (tracked: Produce/Fetch/ListOffsets work)` : false;
  } finally {
    await broker.stop();
  }
}

const skip = await whyNotRunnable();

test('npm run bench -- --short runs in seconds and reports plausible numbers', { skip, timeout: BENCH_TIMEOUT_MS + 5_000 }, () => {
  const run = spawnSync(process.execPath, [join(repoRoot, 'bench', 'run.ts'), '--short', '--json'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: BENCH_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(run.status, 0, `bench exited ${run.status ?? run.signal}; stderr:\n${run.stderr.slice(-4000)}`);
  const report = JSON.parse(run.stdout) as BenchReport;
  assert.equal(report.mode, 'short');
  assert.ok(report.durationSeconds < 45, `short mode took ${report.durationSeconds} s`);
  assert.equal(report.broker.owned, true);

  assert.deepEqual(report.produce.map((row) => row.partitions), [1, 6, 100]);
  for (const row of report.produce) {
    assert.ok(row.msgsPerSec > 10 && row.msgsPerSec < 10_000_000, `produce ${row.partitions}p: ${row.msgsPerSec} msg/s`);
    assert.ok(Math.abs(row.mbPerSec - (row.msgsPerSec * row.sizeBytes) / 1e6) < 1e-6);
  }
  assert.deepEqual(report.consume.map((row) => row.kind), ['hot', 'cold']);
  for (const row of report.consume) assert.ok(row.msgsPerSec > 10, `consume ${row.kind}: ${row.msgsPerSec} msg/s`);

  if (report.latency !== null) {
    const l = report.latency;
    assert.ok(l.p50Ms > 0 && l.p50Ms <= l.p95Ms && l.p95Ms <= l.p99Ms && l.p99Ms <= l.p999Ms && l.p999Ms <= l.maxMs, JSON.stringify(l));
    assert.ok(l.maxMs < BENCH_TIMEOUT_MS);
  } else {
    assert.ok(report.skipped.some((why) => why.includes('latency')), 'a missing latency result says why');
  }

  assert.deepEqual(report.reference.map((row) => row.id), ['a', 'b1', 'b2', 'c1', 'c2', 'd']);
  for (const row of report.reference) {
    assert.ok(row.seconds > 0 && Math.abs(row.msgsPerSec - row.messages / row.seconds) < 1e-6, JSON.stringify(row));
    assert.ok(Math.abs(row.ratio - row.msgsPerSec / row.kafscaleMsgsPerSec) < 1e-9);
  }
  assert.ok(report.nodeClient !== null && report.nodeClient.msgsPerSec > 10);
  assert.ok(report.peakRssBytes !== null && report.peakRssBytes > 20 * 1024 * 1024, `peak RSS ${report.peakRssBytes}`);
  assert.ok(report.objectStore.putsPerGbProduced !== null && report.objectStore.putsPerGbProduced > 0, JSON.stringify(report.objectStore));
});
