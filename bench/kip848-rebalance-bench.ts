/**
 * `node --no-warnings bench/kip848-rebalance-bench.ts [--rounds n] [--members n] [--json]`: rebalance time
 * of @platformatic/kafka consumer groups growing 1 → N members (default 10) on a 20-partition topic,
 * the classic protocol (JoinGroup/SyncGroup, client-side assignment) side by side with KIP-848
 * (ConsumerGroupHeartbeat, broker-side `uniform` assignment, incremental reconciliation).
 *
 * Each step starts one more member and measures the wall clock until the members' assignments cover
 * every partition exactly once and every member holds at least floor(partitions / members) of them.
 * Both protocols heartbeat every 500 ms (classic: the client's heartbeatInterval; KIP-848: the broker's
 * group.consumer.heartbeat.interval.ms) and the classic initial rebalance delay is 0, so the figures
 * compare the protocols, not their defaults. A broker is started for the run on loopback.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer } from '@platformatic/kafka';
import { startBroker } from '../test/helpers/broker-process.ts';

const PARTITIONS = 20;
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, members: { type: 'string', default: '10' }, json: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const maxMembers = Number(values.members);

const broker = await startBroker({
  env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000', KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '500' },
  logLevel: 'warn',
});

type Protocol = 'classic' | 'consumer';

function newConsumer(protocol: Protocol, groupId: string): Consumer<Buffer, Buffer, Buffer, Buffer> {
  const common = { clientId: `kip848-bench-${protocol}`, groupId, bootstrapBrokers: [broker.bootstrap], maxWaitTime: 200, retries: 5, timeout: 10_000 };
  return protocol === 'consumer'
    ? new Consumer({ ...common, groupProtocol: 'consumer', rebalanceTimeout: 60_000 })
    : new Consumer({ ...common, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
}

function balanced(consumers: readonly Consumer<Buffer, Buffer, Buffer, Buffer>[], topic: string): boolean {
  const per = consumers.map((c) => (c.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions));
  const all = per.flat().sort((a, b) => a - b);
  if (all.length !== PARTITIONS || new Set(all).size !== PARTITIONS) return false;
  return per.every((p) => p.length >= Math.floor(PARTITIONS / consumers.length));
}

async function run(protocol: Protocol): Promise<number[]> {
  const topic = `kip848-bench-${randomUUID().slice(0, 8)}`;
  const admin = new Admin({ clientId: 'kip848-bench', bootstrapBrokers: [broker.bootstrap] });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
  await sleep(1_000);
  const groupId = `g-${topic}`;
  const consumers: Consumer<Buffer, Buffer, Buffer, Buffer>[] = [];
  const steps: number[] = [];
  try {
    for (let k = 1; k <= maxMembers; k++) {
      const started = performance.now();
      const consumer = newConsumer(protocol, groupId);
      consumers.push(consumer);
      await consumer.consume({ topics: [topic], mode: 'latest', autocommit: false });
      const deadline = Date.now() + 60_000;
      while (!balanced(consumers, topic)) {
        if (Date.now() > deadline) throw new Error(`${protocol}: ${k} members not balanced within 60 s`);
        await sleep(10);
      }
      steps.push(Math.round(performance.now() - started));
    }
  } finally {
    await Promise.all(consumers.map((c) => new Promise<void>((resolve) => c.close(true, () => resolve()))));
  }
  return steps;
}

const results: Record<Protocol, number[][]> = { classic: [], consumer: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const protocol of ['classic', 'consumer'] as const) results[protocol].push(await run(protocol));
  }
} finally {
  await broker.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const table = Array.from({ length: maxMembers }, (_, i) => ({
  members: i + 1,
  classicMs: median(results.classic.map((steps) => steps[i] ?? 0)),
  consumerMs: median(results.consumer.map((steps) => steps[i] ?? 0)),
}));
const totals = { classicMs: median(results.classic.map((s) => s.reduce((a, b) => a + b, 0))), consumerMs: median(results.consumer.map((s) => s.reduce((a, b) => a + b, 0))) };
if (values.json) {
  process.stdout.write(`${JSON.stringify({ partitions: PARTITIONS, rounds, table, totals, raw: results }, null, 2)}\n`);
} else {
  process.stdout.write(`members | classic ms | KIP-848 ms   (median of ${rounds} rounds, ${PARTITIONS} partitions)\n`);
  for (const row of table) process.stdout.write(`${String(row.members).padStart(7)} | ${String(row.classicMs).padStart(10)} | ${String(row.consumerMs).padStart(10)}\n`);
  process.stdout.write(`  total | ${String(totals.classicMs).padStart(10)} | ${String(totals.consumerMs).padStart(10)}\n`);
}
