/**
 * `npm run bench [-- options]`: measure a kafscale broker and print the results as a table (stderr
 * carries progress). See docs/benchmarks.md.
 *
 *   --short            CI mode: bounded small counts, one repeat, a few seconds of work
 *   --bootstrap h:p    measure an existing broker instead of starting one (no cold reads)
 *   --ops h:p          that broker's ops listener, for object-store counts and RSS from /metrics
 *   --json             print the result document (JSON) on stdout instead of the table
 *   --save             also write bench/results/<date>.json and compare with the previous stored run
 *   --kcat             measure with kcat even when the C client can be built
 *   --s3               the started broker stores objects in a local S3 server (s3rver) instead of files
 *   --security         produce/consume over PLAINTEXT, SSL and SASL_SSL listeners side by side (security-bench.ts)
 *   --soak MINUTES     produce and consume at a share (--soak-share, default 0.25) of the measured maximum
 *                      and report latency, RSS and event-loop delay per minute (soak-bench.ts)
 *   --soak-rate N      a fixed rate instead, msg/s (to compare builds: the maximum moves between runs)
 *   --flush-profiles   compare the flush profiles: PUTs per GiB and latency (flush-profiles-bench.ts; its
 *                      options follow, see `npm run bench:cost -- --help`)
 *
 * Exit codes: 0 done (or skipped because the broker does not serve Produce/Fetch yet), 1 failed, 2 usage.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatComparison, formatReport, latestStoredReport } from './bench-report.ts';
import { BenchSkipped, runBench, type BenchOptions } from './bench-runner.ts';

const USAGE = `usage: npm run bench -- [options]   (or: kafscale bench [options])

  --short            CI mode: bounded small counts, one repeat, a few seconds of work
  --bootstrap h:p    measure an existing broker instead of starting one (no cold reads)
  --ops h:p          that broker's ops listener, for object-store counts and RSS from /metrics
  --json             print the result document (JSON) on stdout instead of the table
  --save             also write bench/results/<date>.json and compare with the previous stored run
  --kcat             measure with kcat even when the C client can be built
  --s3               the started broker stores objects in a local S3 server (s3rver) instead of files
  --security         produce/consume over PLAINTEXT, SSL and SASL_SSL listeners side by side
  --soak MINUTES     produce and consume at a share of the measured maximum for MINUTES (1-1440) and
                     report latency, RSS and event-loop delay per minute (soak-bench.ts)
  --soak-share F     that share, 0 < F <= 1 (default 0.25)
  --soak-rate N      run at N msg/s instead of a share (1-1000000): the measured maximum moves by
                     ±20 % between runs, so builds are compared at a fixed rate
  --flush-profiles   compare the flush profiles (KAFSCALE_FLUSH_PROFILE): PUTs per GiB and latency side by
                     side; takes --s3, --json and the options of \`npm run bench:cost -- --help\``;

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

function resultFileName(startedAt: string): string {
  const day = startedAt.slice(0, 10);
  for (let n = 1; n < 1000; n++) {
    const name = n === 1 ? `${day}.json` : `${day}_${String(n).padStart(3, '0')}.json`;
    if (!existsSync(join(RESULTS_DIR, name))) return name;
  }
  throw new Error(`more than 999 results for ${day} in ${RESULTS_DIR}`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--flush-profiles')) {
    const profiles = await import('./flush-profiles-bench.ts');
    return profiles.main(args.filter((arg) => arg !== '--flush-profiles'));
  }
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        short: { type: 'boolean', default: false },
        bootstrap: { type: 'string' },
        ops: { type: 'string' },
        json: { type: 'boolean', default: false },
        save: { type: 'boolean', default: false },
        kcat: { type: 'boolean', default: false },
        s3: { type: 'boolean', default: false },
        security: { type: 'boolean', default: false },
        soak: { type: 'string' },
        'soak-share': { type: 'string', default: '0.25' },
        'soak-rate': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.soak !== undefined) {
    const minutes = Number(values.soak);
    const share = Number(values['soak-share']);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      console.error(`bench: --soak takes whole minutes from 1 to 1440, got '${values.soak}'`);
      return 2;
    }
    if (!(share > 0 && share <= 1)) {
      console.error(`bench: --soak-share takes a share of the maximum rate, 0 < F <= 1, got '${values['soak-share']}'`);
      return 2;
    }
    const rate = values['soak-rate'] === undefined ? null : Number(values['soak-rate']);
    if (rate !== null && !(Number.isInteger(rate) && rate >= 1 && rate <= 1_000_000)) {
      console.error(`bench: --soak-rate takes whole messages per second from 1 to 1000000, got '${values['soak-rate']}'`);
      return 2;
    }
    const { formatSoakReport, runSoakBench } = await import('./soak-bench.ts');
    try {
      const report = await runSoakBench({ minutes, share, ratePerSec: rate, s3: values.s3, log: (line) => console.error(line) });
      console.log(values.json ? JSON.stringify(report, null, 2) : formatSoakReport(report));
      return 0;
    } catch (error) {
      console.error(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return 1;
    }
  }
  if (values.security) {
    const { formatSecurityReport, runSecurityBench } = await import('./security-bench.ts');
    try {
      const report = await runSecurityBench({ short: values.short, log: (line) => console.error(line) });
      console.log(values.json ? JSON.stringify(report, null, 2) : formatSecurityReport(report));
      return 0;
    } catch (error) {
      console.error(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return 1;
    }
  }
  if (values.s3 && values.bootstrap !== undefined) {
    console.error('bench: --s3 configures the broker the bench starts; it cannot be combined with --bootstrap');
    return 2;
  }
  const options: BenchOptions = {
    mode: values.short ? 'short' : 'full',
    forceKcat: values.kcat,
    s3: values.s3,
    ...(values.bootstrap === undefined ? {} : { bootstrap: values.bootstrap }),
    ...(values.ops === undefined ? {} : { opsAddress: values.ops }),
  };
  let report;
  try {
    report = await runBench(options);
  } catch (error) {
    if (error instanceof BenchSkipped) {
      console.error(`bench: skipped: ${error.message}`);
      if (values.json) console.log(JSON.stringify({ skipped: error.message }));
      return 0;
    }
    console.error(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (values.save) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const name = resultFileName(report.startedAt);
    const previous = latestStoredReport(RESULTS_DIR, name);
    writeFileSync(join(RESULTS_DIR, name), `${JSON.stringify(report, null, 2)}\n`);
    console.error(`bench: saved bench/results/${name}`);
    console.error(previous === null ? 'bench: no previous stored run to compare with' : formatComparison(previous.report, report, previous.name));
  }
  return 0;
}

process.exitCode = await main();
