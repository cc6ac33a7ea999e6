/**
 * One chaos run (scripts/chaos.ts, test/fault/chaos.test.ts): a 3-broker cluster on a real etcd and
 * a real s3rver behind the S3 chaos proxy; acks=all producers of different batch sizes, idempotent and
 * not (the project's wire client, kafkajs, librdkafka) all writing one topic; two consumer groups
 * (kafkajs, librdkafka); a monitor of their committed offsets; and the seeded fault schedule. After
 * the faults: a quiet period, producers stop, groups catch up, and every partition is read back from
 * every broker and checked (chaos-verify.ts). Returns a report; never throws for a violation.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, stopInReverse, type TestCluster } from '../../helpers/cluster.ts';
import { S3ChaosProxy, type S3ChaosCounters } from '../../helpers/s3-chaos-proxy.ts';
import { ClusterProducer } from '../../cluster/cluster-producer.ts';
import { ConfluentGroupConsumer, KafkajsGroupConsumer } from '../../cluster/real-clients.ts';
import { ChaosKafkajsProducer, ChaosLibrdkafkaProducer } from './chaos-clients.ts';
import { logDigest, readLogTolerant, verify, type AckedRecord, type ProducerInfo, type StoredLog, type Verdict } from './chaos-verify.ts';
import { CommittedOffsetsMonitor, type OffsetRegression } from './committed-offsets-monitor.ts';
import { FaultSchedule, type FaultEvent, type FaultKind } from './fault-schedule.ts';

export interface ChaosOptions {
  /** How long faults are injected. */
  readonly faultMs: number;
  readonly seed: number;
  readonly partitions?: number;
  readonly sessionTtlMs?: number;
  /** Pacing of the schedule (1 = full; the short test uses less). */
  readonly pace?: number;
  /** Only these fault kinds (default: all). */
  readonly kinds?: readonly FaultKind[];
  readonly log?: (line: string) => void;
}

export interface ProducerSummary {
  readonly name: string;
  readonly client: string;
  readonly idempotent: boolean;
  readonly recordsPerBatch: string;
  readonly acknowledged: number;
  readonly failedOrUnknown: number;
  readonly errors: string[];
}

export interface GroupSummary {
  readonly name: string;
  readonly distinctSeen: number;
  /** Acknowledged records the group never received although they are stored. */
  readonly missingStored: number;
  /** Acknowledged records the group never received because they are not in the log (counted under lost). */
  readonly missingLost: number;
  readonly sampleMissing: string[];
  readonly notes: string[];
}

export interface ChaosReport {
  readonly seed: number;
  readonly topic: string;
  readonly partitions: number;
  readonly faultMs: number;
  readonly elapsedMs: number;
  readonly faults: Record<FaultKind, number>;
  readonly faultLog: FaultEvent[];
  readonly runStartMs: number;
  readonly proxy: S3ChaosCounters;
  readonly producers: ProducerSummary[];
  readonly verdict: Verdict;
  readonly acks: AckedRecord[];
  readonly groups: GroupSummary[];
  readonly offsetRegressions: OffsetRegression[];
  readonly committedPolls: { readonly polls: number; readonly failed: number };
  readonly viewMismatches: string[];
  /**
   * Violations found outside the log check: a partition no broker could serve at the end, an
   * idempotent client's fatal error (the broker broke its sequence state).
   */
  readonly harnessProblems: string[];
  /** Not violations: faults that could not be applied as planned (a broker slow to restart on a loaded machine). */
  readonly runNotes: string[];
  readonly brokerErrors: Array<{ readonly broker: number; readonly level: string; readonly msg: string; readonly count: number }>;
  readonly highWatermarks: string[];
  /**
   * Wire-client attempts answered with an error code (not a dropped connection or a timeout) whose
   * records are nevertheless in the log, by error code: committed data reported as failed. Not a
   * violation by itself (clients retry; duplicates follow for non-idempotent ones), but an idempotent
   * producer's retry of such a batch must then be de-duplicated.
   */
  readonly failedButStored: Record<string, number>;
  /** Per partition, [offset, value] pairs as read back (for the evidence around violations). */
  readonly stored?: Array<Array<[string, string]>>;
}

const QUIET_MS = 8_000;
const CATCH_UP_MS = 45_000;
const FLUSH_BOUND_MS = 60_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const partitions = options.partitions ?? 4;
  const sessionTtlMs = options.sessionTtlMs ?? 2_000;
  const topic = `chaos-${randomUUID().slice(0, 8)}`;
  const harnessProblems: string[] = [];
  const runNotes: string[] = [];
  const stops: Array<() => Promise<void> | void> = [];
  let proxy: S3ChaosProxy | undefined;
  const runStartMs = Date.now();
  let cluster: TestCluster | undefined;
  try {
    cluster = await startCluster({
      brokers: 3,
      sessionTtlMs,
      wrapS3: async (s3) => {
        const started = await new S3ChaosProxy(s3.port, options.seed).start();
        proxy = started;
        return { endpoint: started.endpoint, stop: () => started.close() };
      },
    });
    const started = cluster;
    stops.push(() => started.stop());
    if (proxy === undefined) throw new Error('the S3 chaos proxy did not start');
    const chaosProxy = proxy;
    await started.createTopic(topic, partitions);
    await started.waitForLeaders(topic, partitions, 20_000);
    log(`chaos: seed ${options.seed}, topic ${topic} (${partitions} partitions), brokers ${started.bootstrap}, S3 via ${chaosProxy.endpoint}`);

    const brokers = started.brokers.map((b) => b.bootstrap);
    // librdkafka producers are told to stop (SIGTERM) after the quiet period; this is only their bound.
    const producerSeconds = Math.ceil((options.faultMs + QUIET_MS) / 1000) + 300;
    // Producers: different batch sizes on every partition, so flushes of one partition carry runs of
    // different lengths (the shape of issue 10 item 1).
    const wire = [1, 17, 60].map((recordsPerBatch) => new ClusterProducer({
      cluster: started, topic, partitions, recordsPerBatch, valuePrefix: `wire${recordsPerBatch}`, requestTimeoutMs: 6_000, retryBackoffMs: 100, pauseMs: recordsPerBatch === 1 ? 20 : 60,
    }));
    const kjsIdem = new ChaosKafkajsProducer({ name: 'kjsidem', brokers, topic, partitions, idempotent: true, batch: 1, pauseMs: 50 });
    const kjsPlain = new ChaosKafkajsProducer({ name: 'kjsplain', brokers, topic, partitions, idempotent: false, batch: 9, pauseMs: 100 });
    const rdkIdem = new ChaosLibrdkafkaProducer({ name: 'rdkidem', bootstrap: started.bootstrap, topic, partitions, seconds: producerSeconds, idempotent: true, burst: 25, intervalMs: 100, lingerMs: 20 });
    const rdkPlain = new ChaosLibrdkafkaProducer({ name: 'rdkplain', bootstrap: started.bootstrap, topic, partitions, seconds: producerSeconds, idempotent: false, burst: 3, intervalMs: 40, lingerMs: 5 });
    stops.push(() => rdkIdem.kill(), () => rdkPlain.kill());
    const producerInfo: ProducerInfo[] = [
      ...wire.map((_, i) => ({ name: `wire${[1, 17, 60][i]}`, mayDuplicate: false })),
      { name: 'kjsidem', mayDuplicate: false },
      { name: 'kjsplain', mayDuplicate: true },
      { name: 'rdkidem', mayDuplicate: false },
      { name: 'rdkplain', mayDuplicate: true },
    ];

    const groupA = `chaos-kjs-${randomUUID().slice(0, 6)}`;
    const groupB = `chaos-rdk-${randomUUID().slice(0, 6)}`;
    const kjsGroup = new KafkajsGroupConsumer({ brokers, topic, groupId: groupA });
    const rdkGroup = new ConfluentGroupConsumer({ bootstrap: started.bootstrap, topic, groupId: groupB, maxSeconds: producerSeconds + 200 });
    stops.push(() => kjsGroup.stop(), () => rdkGroup.stop());
    const monitor = new CommittedOffsetsMonitor({ cluster: started, topic, partitions, groups: [groupA, groupB] });

    for (const producer of wire) producer.start();
    await kjsIdem.start();
    await kjsPlain.start();
    await kjsGroup.start();
    monitor.start();
    stops.push(() => monitor.stop());
    await sleep(3_000);

    const faultStartMs = Date.now();
    const schedule = new FaultSchedule({ cluster: started, proxy: chaosProxy, seed: options.seed, untilMs: faultStartMs + options.faultMs, pace: options.pace ?? 1, ...(options.kinds === undefined ? {} : { kinds: options.kinds }), log });
    schedule.start();
    const progress = setInterval(() => {
      const acked = wire.reduce((n, p) => n + p.acks().length, 0) + kjsIdem.acks.length + kjsPlain.acks.length + rdkIdem.acks.length + rdkPlain.acks.length;
      log(`chaos: +${Math.round((Date.now() - faultStartMs) / 1000)} s, ${schedule.events.length} faults, ${acked} acknowledgements (batches/records), S3 requests ${chaosProxy.counters.requests}`);
    }, 15_000);
    stops.push(() => clearInterval(progress));
    await schedule.done();
    clearInterval(progress);
    for (const event of schedule.events) if (event.problem !== null) runNotes.push(`${event.kind} broker ${event.target}: ${event.problem}`);
    log(`chaos: faults over after ${Math.round((Date.now() - faultStartMs) / 1000)} s; quiet for ${QUIET_MS} ms`);
    await sleep(QUIET_MS);

    for (const producer of wire) await producer.stop();
    await kjsIdem.stop();
    await kjsPlain.stop();
    rdkIdem.stopProducing();
    rdkPlain.stopProducing();
    const rdkIdemOutcome = await rdkIdem.finish(FLUSH_BOUND_MS);
    const rdkPlainOutcome = await rdkPlain.finish(FLUSH_BOUND_MS);
    log('chaos: producers stopped; waiting for the groups to catch up');

    const wireAcks: AckedRecord[] = wire.flatMap((producer, i) =>
      producer.attempts.flatMap((a) => (a.ack === null ? [] : a.values.map((value, r) => ({ producer: `wire${[1, 17, 60][i]}`, partition: a.partition, offset: (a.ack?.baseOffset ?? 0n) + BigInt(r), value, ackedMs: a.answeredMs })))),
    );
    const acks = [...wireAcks, ...kjsIdem.acks, ...kjsPlain.acks, ...rdkIdem.acks, ...rdkPlain.acks];
    const expected = new Set(acks.map((a) => a.value));
    const missing = (seen: ReadonlyMap<string, number>): number => {
      let n = 0;
      for (const value of expected) if (!seen.has(value)) n++;
      return n;
    };
    const catchUpDeadline = Date.now() + CATCH_UP_MS;
    while (Date.now() < catchUpDeadline && (missing(kjsGroup.seen) > 0 || missing(rdkGroup.seen) > 0)) await sleep(500);
    await sleep(6_000); // a last auto-commit of both groups
    await monitor.stop();
    await monitor.pollOnce();

    // Read back every partition from every broker.
    const views = await Promise.all(started.brokers.map(async (broker, id) => {
      const logs: StoredLog[] = [];
      for (let p = 0; p < partitions; p++) {
        try {
          logs.push(await readLogTolerant(broker.host, broker.port, topic, p));
        } catch (error) {
          harnessProblems.push(`broker ${id} partition ${p}: could not be read: ${(error as Error).message}`);
        }
      }
      return logs;
    }));
    const primary = views.reduce((best, v) => (v.length > best.length ? v : best), views[0] ?? []);
    const verdict = verify(acks, primary, producerInfo);
    const viewMismatches: string[] = [];
    for (let p = 0; p < partitions; p++) {
      const digests = views.map((v) => v.find((l) => l.partition === p)).map((l) => (l === undefined ? 'unread' : logDigest(l)));
      if (new Set(digests).size > 1) {
        const hwms = views.map((v, id) => `broker ${id}: HWM ${String(v.find((l) => l.partition === p)?.highWatermark)}, ${v.find((l) => l.partition === p)?.records.size} records`);
        viewMismatches.push(`partition ${p}: brokers serve different logs (${hwms.join('; ')})`);
      }
    }

    const storedValues = new Set(primary.flatMap((l) => [...l.records.values()]));
    const groupSummary = (name: string, seen: ReadonlyMap<string, number>, notes: string[]): GroupSummary => {
      let missingStored = 0;
      let missingLost = 0;
      const sampleMissing: string[] = [];
      for (const value of expected) {
        if (seen.has(value)) continue;
        if (storedValues.has(value)) {
          missingStored++;
          if (sampleMissing.length < 5) sampleMissing.push(value);
        } else missingLost++;
      }
      return { name, distinctSeen: seen.size, missingStored, missingLost, sampleMissing, notes };
    };
    const groups = [
      groupSummary(`kafkajs group ${groupA}`, kjsGroup.seen, kjsGroup.crashes.slice(0, 3).map((c) => `crash: ${c}`)),
      groupSummary(`librdkafka group ${groupB}`, rdkGroup.seen, rdkGroup.errors.slice(0, 3)),
    ];

    const summarise = (map: ReadonlyMap<string, number>): string[] => [...map].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([m, n]) => `${n}× ${m}`);
    const producers: ProducerSummary[] = [
      ...wire.map((producer, i) => {
        const codes = new Map<string, number>();
        for (const a of producer.attempts) if (a.outcome !== 0) codes.set(`outcome ${a.outcome}`, (codes.get(`outcome ${a.outcome}`) ?? 0) + 1);
        return { name: `wire${[1, 17, 60][i]}`, client: 'project wire client (leader-following)', idempotent: false, recordsPerBatch: String([1, 17, 60][i]), acknowledged: producer.attempts.filter((a) => a.ack !== null).reduce((n, a) => n + a.values.length, 0), failedOrUnknown: producer.attempts.filter((a) => a.ack === null).length, errors: summarise(codes) };
      }),
      { name: 'kjsidem', client: 'kafkajs 2.2.4', idempotent: true, recordsPerBatch: '1', acknowledged: kjsIdem.acks.length, failedOrUnknown: [...kjsIdem.errors.values()].reduce((a, b) => a + b, 0), errors: summarise(kjsIdem.errors) },
      { name: 'kjsplain', client: 'kafkajs 2.2.4', idempotent: false, recordsPerBatch: '9', acknowledged: kjsPlain.acks.length, failedOrUnknown: [...kjsPlain.errors.values()].reduce((a, b) => a + b, 0), errors: summarise(kjsPlain.errors) },
      { name: 'rdkidem', client: 'librdkafka (confluent-kafka)', idempotent: true, recordsPerBatch: '~25', acknowledged: rdkIdem.acks.length, failedOrUnknown: [...rdkIdem.failures.values()].reduce((a, b) => a + b, 0), errors: [...summarise(rdkIdem.failures), `sent ${rdkIdemOutcome.sent}, unflushed ${rdkIdemOutcome.remaining}, exit ${rdkIdemOutcome.exitCode}, fatal ${rdkIdem.fatalErrors}, delivered without an offset ${rdkIdem.acksWithoutOffset}`] },
      { name: 'rdkplain', client: 'librdkafka (confluent-kafka)', idempotent: false, recordsPerBatch: '~3', acknowledged: rdkPlain.acks.length, failedOrUnknown: [...rdkPlain.failures.values()].reduce((a, b) => a + b, 0), errors: [...summarise(rdkPlain.failures), `sent ${rdkPlainOutcome.sent}, unflushed ${rdkPlainOutcome.remaining}, exit ${rdkPlainOutcome.exitCode}`] },
    ];
    if (rdkIdem.fatalErrors > 0) harnessProblems.push(`librdkafka idempotent producer hit ${rdkIdem.fatalErrors} fatal errors (idempotence state lost or out of order)`);

    const failedButStored: Record<string, number> = {};
    for (const producer of wire) {
      for (const a of producer.attempts) {
        if (a.outcome === 0 || a.outcome === 'network') continue;
        if (a.values.some((v) => storedValues.has(v))) failedButStored[`error ${a.outcome}`] = (failedButStored[`error ${a.outcome}`] ?? 0) + 1;
      }
    }
    const brokerErrors = collectBrokerErrors(started);
    const highWatermarks = primary.map((l) => `p${l.partition}: log start ${l.logStartOffset}, HWM ${l.highWatermark}, ${l.records.size} records`);
    return {
      seed: options.seed, topic, partitions, faultMs: options.faultMs, elapsedMs: Date.now() - runStartMs,
      faults: schedule.counts(), faultLog: schedule.events, runStartMs, proxy: { ...chaosProxy.counters },
      producers, verdict, acks, groups, offsetRegressions: monitor.regressions,
      committedPolls: { polls: monitor.polls, failed: monitor.failedPolls },
      viewMismatches, harnessProblems, runNotes, brokerErrors, highWatermarks, failedButStored,
      stored: primary.map((l) => [...l.records].map(([o, v]): [string, string] => [String(o), v])),
    };
  } finally {
    await stopInReverse(stops);
  }
}

/** Error- and warn-level broker log lines, counted by message (the brokers log JSON lines, pino levels). */
function collectBrokerErrors(cluster: TestCluster): ChaosReport['brokerErrors'] {
  const counts = new Map<string, { broker: number; level: string; msg: string; count: number }>();
  cluster.brokers.forEach((broker, id) => {
    for (const line of broker.logs().split('\n')) {
      if (!line.startsWith('{')) continue;
      let parsed: { level?: number; msg?: string; err?: { message?: string } };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        continue;
      }
      if ((parsed.level ?? 0) < 40) continue;
      const level = (parsed.level ?? 0) >= 50 ? 'error' : 'warn';
      const msg = `${parsed.msg ?? ''}${parsed.err?.message === undefined ? '' : `: ${parsed.err.message}`}`.slice(0, 200);
      const key = `${id}|${level}|${msg}`;
      const entry = counts.get(key) ?? { broker: id, level, msg, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
  });
  return [...counts.values()].sort((a, b) => b.count - a.count);
}
