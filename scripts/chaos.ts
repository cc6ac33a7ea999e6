/**
 * `npm run chaos -- --minutes N [--seed S] [--partitions P] [--report file.json]`
 *
 * The fault suite (docs/reliability.md): a 3-broker cluster on a real etcd and a real s3rver behind
 * a fault-injecting S3 proxy, acks=all producers and two consumer groups, and N minutes of seeded
 * faults (kill -9, SIGSTOP past the lease, etcd stopped, S3 503 SlowDown bursts, slow and reset S3
 * connections). Prints a summary; exits 1 on any violation (lost, misplaced or duplicated record, an
 * offset acknowledged twice, a group missing records, a committed offset going back), 2 on a usage
 * error. The same seed replays the same fault sequence (the machine's timing still varies).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runChaos } from '../test/fault/chaos/chaos-run.ts';
import { evidence, formatSummary, violations } from '../test/fault/chaos/chaos-summary.ts';
import { FAULT_KINDS, type FaultKind } from '../test/fault/chaos/fault-schedule.ts';

const USAGE = `usage: npm run chaos -- --minutes N [--seed S] [--partitions P] [--faults ${FAULT_KINDS.join(',')}] [--report file.json]`;

function parse(): { minutes: number; seed: number; partitions: number; kinds: FaultKind[]; report: string | undefined } {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '1' },
      seed: { type: 'string' },
      partitions: { type: 'string', default: '4' },
      report: { type: 'string' },
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const minutes = Number(values.minutes);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  const partitions = Number(values.partitions);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 240) throw new Error(`--minutes must be a number in (0, 240], got ${values.minutes}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 64) throw new Error(`--partitions must be an integer in [1, 64], got ${values.partitions}`);
  const kinds = values.faults.split(',').map((k) => k.trim()).filter((k) => k !== '');
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown.length > 0) throw new Error(`--faults takes a comma list of ${FAULT_KINDS.join(', ')}; unknown: ${unknown.join(', ') || '(empty list)'}`);
  return { minutes, seed, partitions, kinds: kinds as FaultKind[], report: values.report };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse();
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  const log = (line: string): void => console.log(`[+${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
  const report = await runChaos({ faultMs: Math.round(args.minutes * 60_000), seed: args.seed, partitions: args.partitions, kinds: args.kinds, log });
  console.log(formatSummary(report));
  if (args.report !== undefined) {
    const { acks, stored: _stored, ...rest } = report;
    writeFileSync(args.report, JSON.stringify({ ...rest, acknowledgedRecords: acks.length, violations: violations(report), evidence: evidence(report) }, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
    console.log(`chaos: report written to ${args.report}`);
  }
  return violations(report).length === 0 ? 0 : 1;
}

process.exitCode = await main();
// Clients (kafkajs reconnect timers, etc.) may keep the loop alive after the cluster is gone.
setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
