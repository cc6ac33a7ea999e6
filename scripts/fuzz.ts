/**
 * `npm run fuzz -- --frames N [--seed S] [--connections C] [--report file.json]`
 *
 * The protocol fuzzer (docs/reliability.md): N frames — random and mutated requests of every API at
 * every version the schemas define, random bytes, truncated and oversized frames, Produce requests
 * with corrupt record batches — against a real broker, while a control connection keeps producing and
 * fetching. Exits 1 on a crash, a hang, a malformed or mismatched response, a corrupt batch
 * acknowledged, a truncated/oversized frame not closed, a control-connection failure or corrupt data
 * stored; 2 on a usage error.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzzViolations, formatFuzzSummary } from '../test/fault/fuzz/fuzz-summary.ts';
import { runFuzz } from '../test/fault/fuzz/protocol-fuzzer.ts';

const USAGE = 'usage: npm run fuzz -- --frames N [--seed S] [--connections C] [--report file.json]';

function parse(): { frames: number; seed: number; connections: number; report: string | undefined } {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '1000000' },
      seed: { type: 'string' },
      connections: { type: 'string', default: '16' },
      report: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const frames = Number(values.frames);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  const connections = Number(values.connections);
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`--frames must be a positive integer, got ${values.frames}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  if (!Number.isInteger(connections) || connections < 1 || connections > 256) throw new Error(`--connections must be an integer in [1, 256], got ${values.connections}`);
  return { frames, seed, connections, report: values.report };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse();
  } catch (error) {
    console.error(`fuzz: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  const log = (line: string): void => console.log(`[+${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
  log(`fuzz: ${args.frames} frames, seed ${args.seed}, ${args.connections} connections`);
  const report = await runFuzz({ frames: args.frames, seed: args.seed, connections: args.connections, log });
  console.log(formatFuzzSummary(report));
  if (args.report !== undefined) {
    writeFileSync(args.report, JSON.stringify({ ...report, violations: fuzzViolations(report) }, null, 2));
    console.log(`fuzz: report written to ${args.report}`);
  }
  return fuzzViolations(report).length === 0 ? 0 : 1;
}

process.exitCode = await main();
