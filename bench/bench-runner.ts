/**
 * `npm run bench` / `kafscale bench`: the workloads, in one run on one broker, so numbers sit side by
 * side. Short mode (CI) uses bounded small counts and one repeat; full mode repeats each measurement and
 * reports medians.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import type { BenchReport, ConsumeRow, LatencyRow, ProduceRow, ReferenceRow } from './bench-report.ts';
import { createTopics, deleteTopics } from './bench-topics.ts';
import { advertisedApiKeys, externalTarget, missingApis, startOwnedTarget, type BenchTarget } from './bench-target.ts';
import { HdrHistogram } from './hdr-histogram.ts';
import { kcatConsume, kcatProduceFile, openNativeClient, writeMessageFile, type NativeClient } from './native-client.ts';
import { sumSamples } from './prometheus-text.ts';
import { commandWorks } from './run-process.ts';

export interface BenchOptions {
  readonly mode: 'short' | 'full';
  /** Target an existing broker instead of starting one (no cold reads, no RSS). */
  readonly bootstrap?: string;
  /** The external broker's ops `host:port`, for object-store counts and RSS from /metrics. */
  readonly opsAddress?: string;
  /** Use kcat even when the C client can be built. */
  readonly forceKcat?: boolean;
  /** Owned broker only: store objects in a local S3 server (s3rver, test/helpers/s3-server.ts). */
  readonly s3?: boolean;
  readonly log?: (line: string) => void;
}

export class BenchSkipped extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchSkipped';
  }
}

interface Plan {
  readonly sizes: readonly number[];
  readonly partitions: readonly number[];
  /** Fewer messages on 100 partitions: each partition's batches are then small, and the run slow. */
  readonly messagesFor: (sizeBytes: number, partitions: number) => number;
  readonly repeats: number;
  readonly consumeSize: number;
  readonly consumePartitions: number;
  /** The first is the headline point (`report.latency`); every point is in `report.latencyPoints`. */
  readonly latency: readonly { sizeBytes: number; partitions: number; ratePerSec: number; messages: number }[];
  readonly nodeMessages: number;
  readonly timeoutMs: number;
}

const PLANS: Readonly<Record<'short' | 'full', Plan>> = {
  short: {
    sizes: [1024],
    partitions: [1, 6, 100],
    messagesFor: () => 1_000,
    repeats: 1,
    consumeSize: 1024,
    consumePartitions: 6,
    latency: [{ sizeBytes: 1024, partitions: 1, ratePerSec: 200, messages: 200 }],
    nodeMessages: 1_000,
    timeoutMs: 60_000,
  },
  full: {
    sizes: [100, 1024, 10_240],
    partitions: [1, 6, 100],
    // About 20–50 MB per run: long enough to amortise start-up, short enough for three repeats.
    messagesFor: (sizeBytes, partitions) => Math.round((sizeBytes <= 100 ? 200_000 : sizeBytes <= 1024 ? 50_000 : 5_000) / (partitions >= 100 ? 4 : 1)),
    repeats: 3,
    consumeSize: 1024,
    consumePartitions: 6,
    // 500 msg/s is the series kept since the first run; 1,000 msg/s is the point the latency target names.
    latency: [
      { sizeBytes: 1024, partitions: 1, ratePerSec: 500, messages: 7_500 },
      { sizeBytes: 1024, partitions: 1, ratePerSec: 1_000, messages: 15_000 },
    ],
    nodeMessages: 20_000,
    timeoutMs: 300_000,
  },
};

/** KafScale's published local run (2026-01-03), 256 B messages with kcat. */
const KAFSCALE_REFERENCE = {
  a: { seconds: 3.617, msgsPerSec: 553, messages: 2_000, description: 'produce while a consumer waits at the end, end to end' },
  bProduce: { seconds: 0.486, msgsPerSec: 4_115, messages: 2_000, description: 'backlog produce' },
  bConsume: { seconds: 1.79, msgsPerSec: 1_117, messages: 2_000, description: 'backlog consume from the beginning' },
  cProduce: { seconds: 0.533, msgsPerSec: 7_500, messages: 4_000, description: 'backlog produce' },
  cConsume: { seconds: 2.455, msgsPerSec: 1_629, messages: 4_000, description: 'backlog consume from the beginning' },
  d: { seconds: 1.441, msgsPerSec: 1_388, messages: 2_000, description: 'cold consume after a broker restart' },
} as const;

const REFERENCE_SIZE = 256;

interface ProducedTopic {
  readonly topic: string;
  readonly messages: number;
  readonly sizeBytes: number;
  readonly partitions: number;
}
const MB = 1_000_000;
const CLIENT_ID = 'kafscale-bench';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function gitCommit(): string | null {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const result = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8', timeout: 5_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

class BenchRun {
  readonly #target: BenchTarget;
  readonly #client: NativeClient;
  readonly #plan: Plan;
  readonly #log: (line: string) => void;
  readonly #workDir: string;
  readonly #runId = randomUUID().slice(0, 8);
  readonly #skipped: string[] = [];
  readonly #topics: string[] = [];
  #topicSeq = 0;

  constructor(target: BenchTarget, client: NativeClient, plan: Plan, log: (line: string) => void, workDir: string) {
    this.#target = target;
    this.#client = client;
    this.#plan = plan;
    this.#log = log;
    this.#workDir = workDir;
  }

  get skipped(): string[] {
    return this.#skipped;
  }

  async createTopic(label: string, partitions: number): Promise<string> {
    const name = `bench-${this.#runId}-${this.#topicSeq++}-${label}`;
    await createTopics(this.#target, [name], partitions, { clientId: CLIENT_ID });
    this.#topics.push(name);
    return name;
  }

  /** Removes the bench's topics from an external broker (an owned one is discarded whole). */
  async deleteTopics(): Promise<void> {
    if (this.#target.owned || this.#topics.length === 0) return;
    await deleteTopics(this.#target, this.#topics, CLIENT_ID);
  }

  async objectStoreCount(operation: 'put' | 'get'): Promise<{ value: number; source: string } | null> {
    const families = await this.#target.scrapeMetrics().catch(() => null);
    // A family whose every sample is 0 after traffic is defined but not recorded yet: fall back.
    if (families !== null && sumSamples(families, 'kafscale_object_store_requests_total') > 0) {
      return { value: sumSamples(families, 'kafscale_object_store_requests_total', { operation }), source: 'kafscale_object_store_requests_total' };
    }
    if (operation === 'put') {
      const files = this.#target.objectFileCount();
      if (files !== null) return { value: files, source: 'object files written (metric absent)' };
    }
    return null;
  }

  async produceMatrix(): Promise<{ rows: ProduceRow[]; topics: Map<string, ProducedTopic>; bytes: number }> {
    const rows: ProduceRow[] = [];
    const topics = new Map<string, ProducedTopic>();
    let bytes = 0;
    for (const sizeBytes of this.#plan.sizes) {
      for (const partitions of this.#plan.partitions) {
        const messages = this.#plan.messagesFor(sizeBytes, partitions);
        const rates: number[] = [];
        const putsBefore = await this.objectStoreCount('put');
        let rowBytes = 0;
        for (let repeat = 0; repeat < this.#plan.repeats; repeat++) {
          const topic = await this.createTopic(`p${partitions}-s${sizeBytes}`, partitions);
          if (repeat === 0) topics.set(`${sizeBytes}/${partitions}`, { topic, messages, sizeBytes, partitions });
          const result = await this.#client.produce(this.#target.bootstrap, topic, messages, sizeBytes, this.#plan.timeoutMs);
          rates.push(result.count / result.seconds);
          bytes += result.count * sizeBytes;
          rowBytes += result.count * sizeBytes;
          this.#log(`bench:   ${topic}: ${result.count} in ${result.seconds.toFixed(3)} s`);
        }
        const msgsPerSec = median(rates);
        const putsAfter = await this.objectStoreCount('put');
        // PUTs per flush should not grow with partitions (one WAL object per flush for all of them).
        const putsPerGb = putsBefore === null || putsAfter === null ? null : (putsAfter.value - putsBefore.value) / (rowBytes / 1e9);
        rows.push({ sizeBytes, partitions, messages, repeats: this.#plan.repeats, msgsPerSec, mbPerSec: (msgsPerSec * sizeBytes) / MB, putsPerGb });
        this.#log(`bench: produce ${sizeBytes} B × ${partitions}p: ${Math.round(msgsPerSec)} msg/s`);
      }
    }
    return { rows, topics, bytes };
  }

  /**
   * Hot: read back right after producing (the owner's tail and caches). Cold: the first read after a
   * restart, so it comes from object storage. A restart resets the broker's counters, so the GET count
   * scraped after each cold read is that read's own (start-up reads included, which a cold reader pays).
   */
  async consume(topics: ReadonlyMap<string, ProducedTopic>): Promise<{ rows: ConsumeRow[]; coldGets: number | null }> {
    const source = topics.get(`${this.#plan.consumeSize}/${this.#plan.consumePartitions}`) ?? [...topics.values()][0];
    if (source === undefined) return { rows: [], coldGets: null };
    const rows: ConsumeRow[] = [];
    let coldGets: number | null = 0;
    for (const kind of ['hot', 'cold'] as const) {
      if (kind === 'cold' && !this.#target.owned) {
        this.#skipped.push('cold consume: the bench can only restart a broker it started (omit --bootstrap)');
        break;
      }
      const rates: number[] = [];
      for (let repeat = 0; repeat < this.#plan.repeats; repeat++) {
        if (kind === 'cold') await this.#target.restart();
        const getsBefore = kind === 'hot' ? await this.objectStoreCount('get') : null;
        const result = await this.#client.consume(this.#target.bootstrap, source.topic, source.partitions, source.messages, this.#plan.timeoutMs);
        rates.push(result.count / result.seconds);
        const gets = await this.objectStoreCount('get');
        if (kind === 'cold') coldGets = gets === null || coldGets === null ? null : coldGets + gets.value;
        // Per read: a later hot read that GETs reads objects a merge has just written.
        const readGets = gets === null ? null : kind === 'cold' ? gets.value : getsBefore === null ? null : gets.value - getsBefore.value;
        this.#log(`bench:   ${kind} read ${repeat + 1}: ${Math.round(result.count / result.seconds)} msg/s${readGets === null ? '' : `, ${readGets} GETs`}`);
      }
      const msgsPerSec = median(rates);
      const { sizeBytes, partitions, messages } = source;
      rows.push({ kind, sizeBytes, partitions, messages, repeats: this.#plan.repeats, msgsPerSec, mbPerSec: (msgsPerSec * sizeBytes) / MB });
      this.#log(`bench: consume ${kind} ${sizeBytes} B × ${partitions}p: ${Math.round(msgsPerSec)} msg/s`);
    }
    return { rows, coldGets: rows.some((row) => row.kind === 'cold') ? coldGets : null };
  }

  async latency(): Promise<LatencyRow[]> {
    const rows: LatencyRow[] = [];
    for (const point of this.#plan.latency) {
      const row = await this.#latencyAt(point);
      if (row === null) break;
      rows.push(row);
    }
    return rows;
  }

  async #latencyAt(point: Plan['latency'][number]): Promise<LatencyRow | null> {
    const latencyOf = this.#client.latency;
    if (latencyOf === null) {
      this.#skipped.push(`end-to-end latency: ${this.#client.name} cannot measure it (needs the C client: apt-get install librdkafka-dev gcc)`);
      return null;
    }
    const { sizeBytes, partitions, ratePerSec, messages } = point;
    const topic = await this.createTopic('latency', partitions);
    const timeoutMs = Math.ceil((messages / ratePerSec) * 1000) + this.#plan.timeoutMs;
    const samples = (await latencyOf(this.#target.bootstrap, topic, partitions, messages, sizeBytes, ratePerSec, timeoutMs)).endToEndUs;
    const histogram = HdrHistogram.of(samples);
    const ms = (percentile: number): number => histogram.valueAtPercentile(percentile) / 1000;
    this.#log(`bench: latency at ${ratePerSec} msg/s: p50 ${ms(50)} ms, p99 ${ms(99)} ms`);
    return { sizeBytes, partitions, ratePerSec, messages, p50Ms: ms(50), p95Ms: ms(95), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: histogram.max / 1000 };
  }

  /** kafkajs, acks=-1, batches of 100 with up to 8 requests in flight: a typical Node producer setup. */
  async nodeClient(): Promise<BenchReport['nodeClient']> {
    const sizeBytes = 1024;
    const partitions = 6;
    const messages = this.#plan.nodeMessages;
    const topic = await this.createTopic('node', partitions);
    const kafka = new kafkajs.Kafka({ brokers: [this.#target.bootstrap], clientId: 'kafscale-bench-node', logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const value = Buffer.alloc(sizeBytes, 'n');
      const batch = Array.from({ length: 100 }, () => ({ value }));
      const started = performance.now();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < messages) {
          const count = Math.min(batch.length, messages - next);
          next += count;
          await producer.send({ topic, acks: -1, messages: batch.slice(0, count) });
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const msgsPerSec = messages / ((performance.now() - started) / 1000);
      this.#log(`bench: node client (kafkajs) produce: ${Math.round(msgsPerSec)} msg/s`);
      return { client: 'kafkajs 2.2.4', sizeBytes, partitions, messages, msgsPerSec, mbPerSec: (msgsPerSec * sizeBytes) / MB };
    } finally {
      await producer.disconnect();
    }
  }

  /** KafScale's published workloads, with kcat as KafScale ran them; one partition. */
  async reference(): Promise<ReferenceRow[]> {
    if (!(await commandWorks('kcat', ['-V']))) {
      this.#skipped.push('KafScale reference workloads: kcat is not installed (apt-get install kcat)');
      return [];
    }
    const rows: ReferenceRow[] = [];
    const timeoutMs = this.#plan.timeoutMs;
    const bootstrap = this.#target.bootstrap;
    const file2k = join(this.#workDir, 'reference-2000.txt');
    const file4k = join(this.#workDir, 'reference-4000.txt');
    writeMessageFile(file2k, 2_000, REFERENCE_SIZE);
    writeMessageFile(file4k, 4_000, REFERENCE_SIZE);
    const row = (id: string, ref: { seconds: number; msgsPerSec: number; messages: number; description: string }, seconds: number): ReferenceRow => {
      const msgsPerSec = ref.messages / seconds;
      return { id, description: ref.description, messages: ref.messages, seconds, msgsPerSec, kafscaleSeconds: ref.seconds, kafscaleMsgsPerSec: ref.msgsPerSec, ratio: msgsPerSec / ref.msgsPerSec };
    };

    // (a) The consumer is started first on an empty topic and waits; the clock runs until it has all.
    const topicA = await this.createTopic('ref-a', 1);
    const startedA = performance.now();
    const consumerA = kcatConsume(bootstrap, topicA, 2_000, timeoutMs);
    await kcatProduceFile(bootstrap, topicA, file2k, timeoutMs);
    await consumerA;
    rows.push(row('a', KAFSCALE_REFERENCE.a, (performance.now() - startedA) / 1000));

    const topicB = await this.createTopic('ref-b', 1);
    rows.push(row('b1', KAFSCALE_REFERENCE.bProduce, await kcatProduceFile(bootstrap, topicB, file2k, timeoutMs)));
    rows.push(row('b2', KAFSCALE_REFERENCE.bConsume, await kcatConsume(bootstrap, topicB, 2_000, timeoutMs)));

    const topicC = await this.createTopic('ref-c', 1);
    rows.push(row('c1', KAFSCALE_REFERENCE.cProduce, await kcatProduceFile(bootstrap, topicC, file4k, timeoutMs)));
    rows.push(row('c2', KAFSCALE_REFERENCE.cConsume, await kcatConsume(bootstrap, topicC, 4_000, timeoutMs)));

    if (this.#target.owned) {
      await this.#target.restart();
      rows.push(row('d', KAFSCALE_REFERENCE.d, await kcatConsume(bootstrap, topicB, 2_000, timeoutMs)));
    } else {
      this.#skipped.push('reference (d) cold consume: the bench can only restart a broker it started');
    }
    for (const each of rows) this.#log(`bench: reference ${each.id}: ${each.seconds.toFixed(3)} s (KafScale ${each.kafscaleSeconds} s), ratio ${each.ratio.toFixed(2)}`);
    return rows;
  }
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const plan = PLANS[options.mode];
  const startedAt = new Date();
  const started = performance.now();
  const target = options.bootstrap === undefined ? await startOwnedTarget({ s3: options.s3 === true }) : externalTarget(options.bootstrap, options.opsAddress ?? null);
  const workDir = mkdtempSync(join(tmpdir(), 'kafscale-bench-'));
  try {
    const missing = missingApis(await advertisedApiKeys(target));
    if (missing.length > 0) throw new BenchSkipped(`the broker does not serve ${missing.join(', ')} yet`);
    const client = await openNativeClient(workDir, log, options.forceKcat === true);
    const run = new BenchRun(target, client, plan, log, workDir);
    try {
      const putsBefore = await run.objectStoreCount('put');
      const produced = await run.produceMatrix();
      const putsAfter = await run.objectStoreCount('put');
      const latencyPoints = await run.latency();
      const nodeClient = await run.nodeClient();
      const reference = await run.reference();
      const consumed = await run.consume(produced.topics);
      const coldRow = consumed.rows.find((row) => row.kind === 'cold');
      const coldGb = coldRow === undefined ? 0 : (coldRow.messages * coldRow.sizeBytes * coldRow.repeats) / 1e9;
      const peak = target.peakRssBytes() ?? (await target.scrapeMetrics().catch(() => null).then((m) => (m === null ? null : sumSamples(m, 'kafscale_process_resident_memory_bytes') || null)));
      return {
        version: 1,
        startedAt: startedAt.toISOString(),
        mode: options.mode,
        durationSeconds: (performance.now() - started) / 1000,
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', memoryBytes: totalmem(), node: process.version, platform: `${process.platform}-${process.arch}` },
        broker: { bootstrap: target.bootstrap, owned: target.owned, commit: target.owned ? gitCommit() : null },
        client: client.name,
        produce: produced.rows,
        consume: consumed.rows,
        objectStoreKind: target.objectStoreKind,
        latency: latencyPoints[0] ?? null,
        latencyPoints,
        nodeClient,
        objectStore: {
          putsPerGbProduced: putsBefore !== null && putsAfter !== null && produced.bytes > 0 ? (putsAfter.value - putsBefore.value) / (produced.bytes / 1e9) : null,
          getsPerGbColdRead: consumed.coldGets !== null && coldGb > 0 ? consumed.coldGets / coldGb : null,
          source: putsAfter?.source ?? 'unavailable (no ops address or metric)',
        },
        peakRssBytes: peak,
        reference,
        skipped: run.skipped,
      };
    } finally {
      await run.deleteTopics().catch((error: unknown) => log(`bench: could not delete the bench topics: ${String(error)}`));
    }
  } finally {
    await target.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
