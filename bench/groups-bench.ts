/**
 * `npm run bench:groups [-- options]`: consumer-group costs of a kafscale broker (docs/benchmarks.md,
 * "Consumer groups").
 *
 *   rebalance (wire)   3 raw members join a new group at once and run the protocol loop (JoinGroup with
 *                      the MEMBER_ID_REQUIRED round trip of KIP-394, SyncGroup, 20 ms heartbeats):
 *                      wall clock until all three hold an assignment of one 3-member generation. The
 *                      broker's cost of a rebalance, without the clients' 3 s heartbeat interval.
 *   rebalance (kafkajs) 3 kafkajs consumers start at once on a 6-partition topic: wall clock until every
 *                      partition is assigned exactly once. What an application sees.
 *   OffsetCommit       commits of 6 partitions per request (a consumer's usual commit), one connection in
 *                      a loop, then 8 connections (8 groups) at once: commits/s and p50/p99 latency.
 *
 *   --bootstrap h:p    measure an existing broker (its group.initial.rebalance.delay.ms counts in the
 *                      kafkajs figure); default: start one with the delay at 0
 *   --rounds n         rebalance rounds (default 10; kafkajs uses a third of them, at least 1)
 *   --seconds s        duration of each OffsetCommit run (default 5)
 *   --json             print the result document as JSON
 *
 * Exit codes: 0 done, 1 failed, 2 usage.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { startBroker, type BrokerProcess } from '../test/helpers/broker-process.ts';
import { WireClient } from '../test/helpers/wire-client.ts';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 6;
const MEMBERS = 3;
const NONE = 0;
const MEMBER_ID_REQUIRED = 79;

interface Stats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface GroupsBenchReport {
  readonly startedAt: string;
  readonly rebalanceWire: Stats;
  readonly rebalanceKafkajs: Stats;
  readonly commitsOneConnection: { readonly commitsPerSec: number; readonly latency: Stats };
  readonly commitsEightConnections: { readonly commitsPerSec: number; readonly latency: Stats };
}

function stats(samplesMs: number[]): Stats {
  const sorted = samplesMs.slice().sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(sorted[sorted.length - 1] ?? 0) };
}
const round = (ms: number): number => Math.round(ms * 100) / 100;

/**
 * Three raw members, each running the classic protocol loop as a client does: JoinGroup (a new member
 * first gets MEMBER_ID_REQUIRED), SyncGroup (the leader sends the assignment), then heartbeats every
 * HEARTBEAT_MS; REBALANCE_IN_PROGRESS sends it back to JoinGroup. A group that starts from Empty with
 * initial delay 0 completes its first generation with whoever joined first (Kafka does the same), so
 * the later members cause a second rebalance: the figure is the whole settle, not one round trip.
 */
const HEARTBEAT_MS = 20;
const REBALANCE_IN_PROGRESS = 27;

async function wireRebalance(host: string, port: number): Promise<number> {
  const groupId = `bench-rebalance-${randomUUID().slice(0, 8)}`;
  const clients = await Promise.all(Array.from({ length: MEMBERS }, () => WireClient.connect(host, port)));
  /** Per member: the generation it synced in, and how many members that generation had. */
  const synced = Array.from({ length: MEMBERS }, () => ({ generation: -1, size: 0 }));
  const settled = (): boolean => synced.every((s) => s.generation === synced[0]?.generation && s.size === MEMBERS);
  const memberIds = clients.map(() => '');
  const runMember = async (client: WireClient, index: number): Promise<void> => {
    let memberId = '';
    for (let step = 0; step < 500 && !settled(); step++) {
      const joined = await client.send(11, 9, { groupId, memberId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }], reason: null });
      if (joined.errorCode === MEMBER_ID_REQUIRED) {
        memberId = joined.memberId;
        memberIds[index] = memberId;
        continue;
      }
      if (joined.errorCode !== NONE) throw new Error(`JoinGroup failed with error ${joined.errorCode}`);
      const leader = joined.leader === memberId;
      const assignments = leader ? joined.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from(m.memberId) })) : [];
      const sync = await client.send(14, 5, { groupId, generationId: joined.generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments });
      if (sync.errorCode === REBALANCE_IN_PROGRESS) continue;
      if (sync.errorCode !== NONE) throw new Error(`SyncGroup failed with error ${sync.errorCode}`);
      // Followers do not see the member list; the leader's view of the same generation is shared.
      synced[index] = { generation: joined.generationId, size: leader ? joined.members.length : (synced.find((s) => s.generation === joined.generationId && s.size > 0)?.size ?? 0) };
      for (let beat = 0; beat < 500 && !settled(); beat++) {
        if (!leader) {
          const leaderSize = synced.find((s) => s.generation === joined.generationId && s.size > 0)?.size ?? 0;
          synced[index] = { generation: joined.generationId, size: leaderSize };
          if (settled()) break;
        }
        await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
        const hb = await client.send(12, 4, { groupId, generationId: joined.generationId, memberId, groupInstanceId: null });
        if (hb.errorCode === REBALANCE_IN_PROGRESS) break;
        if (hb.errorCode !== NONE) throw new Error(`Heartbeat failed with error ${hb.errorCode}`);
      }
    }
    if (!settled()) throw new Error('the group did not settle');
  };
  try {
    const started = performance.now();
    await Promise.all(clients.map((c, i) => runMember(c, i)));
    const elapsed = performance.now() - started;
    await Promise.all(clients.map((c, i) => c.send(13, 5, { groupId, members: [{ memberId: memberIds[i] ?? '', groupInstanceId: null, reason: null }] })));
    return elapsed;
  } finally {
    for (const c of clients) c.close();
  }
}

async function kafkajsRebalance(bootstrap: string, topic: string): Promise<number> {
  const kafka = new Kafka({ clientId: 'kafscale-groups-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const groupId = `bench-kafkajs-${randomUUID().slice(0, 8)}`;
  const assigned = Array.from({ length: MEMBERS }, () => [] as number[]);
  const consumers = Array.from({ length: MEMBERS }, (_, i) => {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    consumer.on(consumer.events.GROUP_JOIN, (e) => void (assigned[i] = e.payload.memberAssignment[topic] ?? []));
    return consumer;
  });
  const settled = (): boolean => assigned.every((a) => a.length === PARTITIONS / MEMBERS) && new Set(assigned.flat()).size === PARTITIONS;
  const started = performance.now();
  try {
    await Promise.all(
      consumers.map(async (c) => {
        await c.connect();
        await c.subscribe({ topic, fromBeginning: false });
        await c.run({ eachMessage: async () => {} });
      }),
    );
    const deadline = Date.now() + 60_000;
    while (!settled()) {
      if (Date.now() > deadline) throw new Error(`kafkajs group did not settle within 60 s: ${JSON.stringify(assigned)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return performance.now() - started;
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
  }
}

async function commitLoop(host: string, port: number, topic: string, connections: number, seconds: number): Promise<{ commitsPerSec: number; latency: Stats }> {
  const clients = await Promise.all(Array.from({ length: connections }, () => WireClient.connect(host, port)));
  const latencies: number[] = [];
  try {
    const endAt = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        const groupId = `bench-commit-${c}-${randomUUID().slice(0, 8)}`;
        for (let n = 1; performance.now() < endAt; n++) {
          const sent = performance.now();
          const response = await client.send(8, 9, {
            groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
            topics: [{ name: topic, partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, committedOffset: BigInt(n), committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null })) }],
          });
          latencies.push(performance.now() - sent);
          const failed = response.topics[0]?.partitions.find((p) => p.errorCode !== NONE);
          if (failed !== undefined) throw new Error(`OffsetCommit failed with error ${failed.errorCode}`);
        }
      }),
    );
    const elapsedSec = (performance.now() - started) / 1000;
    return { commitsPerSec: Math.round(latencies.length / elapsedSec), latency: stats(latencies) };
  } finally {
    for (const c of clients) c.close();
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { bootstrap: { type: 'string' }, rounds: { type: 'string', default: '10' }, seconds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } }, strict: true }));
  } catch (error) {
    console.error(`bench:groups: ${(error as Error).message}\nusage: npm run bench:groups -- [--bootstrap host:port] [--rounds n] [--seconds s] [--json]`);
    return 2;
  }
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) {
    console.error('bench:groups: --rounds must be a positive integer and --seconds a positive number');
    return 2;
  }
  let broker: BrokerProcess | null = null;
  try {
    let bootstrap = values.bootstrap;
    if (bootstrap === undefined) {
      broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'warn' });
      bootstrap = broker.bootstrap;
    }
    const [host = '127.0.0.1', portText = '9092'] = bootstrap.split(':');
    const port = Number(portText);
    const topic = `bench-groups-${randomUUID().slice(0, 8)}`;
    const admin = await WireClient.connect(host, port);
    const created = await admin.send(19, 5, { topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    admin.close();
    if (created.topics[0]?.errorCode !== NONE) throw new Error(`CreateTopics failed with error ${created.topics[0]?.errorCode}`);

    const startedAt = new Date().toISOString();
    console.error(`bench:groups: ${rounds} wire rebalances`);
    const wire: number[] = [];
    for (let i = 0; i < rounds; i++) wire.push(await wireRebalance(host, port));
    const kafkajsRounds = Math.max(1, Math.floor(rounds / 3));
    console.error(`bench:groups: ${kafkajsRounds} kafkajs rebalances`);
    const viaKafkajs: number[] = [];
    for (let i = 0; i < kafkajsRounds; i++) viaKafkajs.push(await kafkajsRebalance(bootstrap, topic));
    console.error(`bench:groups: OffsetCommit for ${seconds} s on 1 connection, then 8`);
    const one = await commitLoop(host, port, topic, 1, seconds);
    const eight = await commitLoop(host, port, topic, 8, seconds);
    const report: GroupsBenchReport = { startedAt, rebalanceWire: stats(wire), rebalanceKafkajs: stats(viaKafkajs), commitsOneConnection: one, commitsEightConnections: eight };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      const row = (name: string, s: Stats, extra = ''): string => `| ${name} | ${s.count} | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} | ${extra} |`;
      console.log('| measurement | samples | p50 ms | p99 ms | max ms | throughput |');
      console.log('|---|---|---|---|---|---|');
      console.log(row('rebalance, 3 raw members (protocol loop, 20 ms heartbeats)', report.rebalanceWire));
      console.log(row('rebalance, 3 kafkajs consumers start at once', report.rebalanceKafkajs));
      console.log(row('OffsetCommit (6 partitions), 1 connection', one.latency, `${one.commitsPerSec} commits/s`));
      console.log(row('OffsetCommit (6 partitions), 8 connections', eight.latency, `${eight.commitsPerSec} commits/s`));
    }
    return 0;
  } catch (error) {
    console.error(`bench:groups: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    await broker?.stop();
  }
}

process.exitCode = await main();
