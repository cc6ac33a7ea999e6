/**
 * Real Kafka clients driven by the cluster tests, each recording exactly what it was told: kafkajs
 * (in process: a per-partition sequential producer and a group consumer), confluent-kafka (librdkafka
 * through Python, confluent-producer.py) and kcat (stdin-fed producer). Every one of them can be
 * stopped from an `after` hook, also when the test failed half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import type { Ack } from '../fault/crash-produce-run.ts';
import { KafkajsLanes } from '../helpers/kafkajs-lanes.ts';

const PYTHON = '/usr/bin/python3';
const CONFLUENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'confluent-producer.py');

export interface ClientError {
  readonly atMs: number;
  readonly message: string;
  /** Whether the client (or the error it wraps) says a retry could succeed. */
  readonly retriable: boolean;
}

/** kafkajs' retriable flag, looking through KafkaJSNumberOfRetriesExceeded to the error it wraps. */
export function kafkajsRetriable(error: unknown): boolean {
  let current = error as { retriable?: boolean; originalError?: unknown; cause?: unknown; name?: string } | undefined;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current.name === 'KafkaJSNumberOfRetriesExceeded' || current.name === 'KafkaJSRequestTimeoutError') {
      current = (current.originalError ?? current.cause) as typeof current;
      if (current === undefined) return true;
      continue;
    }
    return current.retriable === true;
  }
  return false;
}

/** Longest time in [fromMs, toMs] between two of `times` (or a bound and the nearest of them). */
function longestGapMs(times: readonly number[], fromMs: number, toMs: number): number {
  let previous = fromMs;
  let longest = 0;
  for (const time of [...times.filter((t) => t >= fromMs && t <= toMs), toMs]) {
    longest = Math.max(longest, time - previous);
    previous = time;
  }
  return longest;
}

/**
 * kafkajs producer: one lane per partition, one message per send(), so every ack names its offset.
 * Idempotent lanes each have their own producer and replace it after a failed send
 * (test/helpers/kafkajs-lane-producers.ts: kafkajs 2.2.4 reuses a sequence number after a failure).
 */
export class KafkajsLaneProducer {
  readonly acks: Ack[] = [];
  readonly errors: ClientError[] = [];
  readonly #lanes: KafkajsLanes;
  #sequence = 0;

  constructor(options: { brokers: string[]; topic: string; partitions: number; prefix: string; idempotent: boolean; pauseMs?: number }) {
    const kafka = new kafkajs.Kafka({ clientId: `kafscale-cluster-${options.prefix}`, brokers: options.brokers, logLevel: kafkajs.logLevel.NOTHING });
    const lanes = { topic: options.topic, partitions: options.partitions, idempotent: options.idempotent, pauseMs: options.pauseMs ?? 20, failurePauseMs: 100 };
    this.#lanes = new KafkajsLanes(kafka, lanes, {
      next: (partition) => [`${options.prefix}-p${partition}-s${this.#sequence++}`],
      acknowledged: (partition, baseOffset, values) => this.acks.push({ partition, baseOffset, values: [...values] }),
      answered: (_, meta) => this.errors.push({ atMs: Date.now(), message: `send answered ${JSON.stringify(meta)}`, retriable: false }),
      threw: (_, error) => this.errors.push({ atMs: Date.now(), message: `${(error as Error).name}: ${(error as Error).message}`, retriable: kafkajsRetriable(error) }),
    });
  }

  /** Producers replaced after a failed send (idempotent lanes only). */
  get replaced(): number {
    return this.#lanes.replaced;
  }

  async start(): Promise<void> {
    await this.#lanes.start();
  }

  async stop(): Promise<void> {
    await this.#lanes.stop();
  }
}

/** kafkajs group consumer that records every value it is handed, with the time. */
export class KafkajsGroupConsumer {
  readonly seen = new Map<string, number>();
  readonly times: number[] = [];
  readonly crashes: string[] = [];
  /** Group events with their times (ms since epoch), to explain a stall. */
  readonly timeline: string[] = [];
  readonly #consumer: kafkajs.Consumer;
  readonly #topic: string;

  constructor(options: { brokers: string[]; topic: string; groupId: string }) {
    const kafka = new kafkajs.Kafka({ clientId: 'kafscale-cluster-consumer', brokers: options.brokers, logLevel: kafkajs.logLevel.NOTHING });
    this.#consumer = kafka.consumer({ groupId: options.groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });
    this.#consumer.on(this.#consumer.events.CRASH, (event) => {
      const error = (event.payload as { error?: Error & { retriable?: boolean } }).error;
      this.crashes.push(String(error?.message));
      this.timeline.push(`${Date.now()} crash(${error?.name}, retriable ${String(error?.retriable)}): ${error?.message}`);
    });
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (event) => {
      const payload = event.payload as { duration?: number; memberId?: string; isLeader?: boolean };
      this.timeline.push(`${Date.now()} joined in ${payload.duration} ms as ${payload.memberId}`);
    });
    this.#consumer.on(this.#consumer.events.REBALANCING, () => this.timeline.push(`${Date.now()} rebalancing`));
    this.#consumer.on(this.#consumer.events.STOP, () => this.timeline.push(`${Date.now()} stopped`));
    this.#topic = options.topic;
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.#topic, fromBeginning: true });
    await this.#consumer.run({
      eachMessage: async ({ message }) => {
        const value = message.value?.toString('utf8') ?? '';
        this.seen.set(value, (this.seen.get(value) ?? 0) + 1);
        this.times.push(Date.now());
      },
    });
  }

  /** Longest time in [fromMs, toMs] without a consumed record. */
  longestStallMs(fromMs: number, toMs: number): number {
    return longestGapMs(this.times, fromMs, toMs);
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect().catch(() => {});
  }
}

export interface ConfluentDelivery {
  readonly v: string;
  readonly p?: number;
  readonly o?: number | null;
  readonly err?: string;
  readonly retriable?: boolean;
  readonly fatal?: boolean;
}

export interface ConfluentResult {
  readonly acks: Ack[];
  /**
   * Delivered without an offset: librdkafka marks an idempotent batch delivered with no offset when a
   * later batch succeeded after this one's outcome was unknown (an implicit acknowledgement), or when the
   * broker answered DUPLICATE_SEQUENCE_NUMBER. Stored once somewhere in its partition, offset unknown.
   */
  readonly acksWithoutOffset: Array<{ readonly partition: number; readonly value: string }>;
  readonly failures: ConfluentDelivery[];
  readonly sent: number;
  /** Messages still undelivered when flush() gave up. */
  readonly remaining: number;
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** confluent-kafka producer for `seconds`, then flush; the promise resolves when the script exits. */
export function runConfluentProducer(options: {
  bootstrap: string;
  topic: string;
  partitions: number;
  prefix: string;
  seconds: number;
  idempotent: boolean;
}): { result: Promise<ConfluentResult>; kill(): void } {
  const child = spawn(
    PYTHON,
    [CONFLUENT_SCRIPT, options.bootstrap, options.topic, String(options.partitions), options.prefix, String(options.seconds), options.idempotent ? '1' : '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { result: collectConfluent(child), kill: () => child.kill('SIGKILL') };
}

async function collectConfluent(child: ChildProcess): Promise<ConfluentResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8_000)));
  const [exitCode] = (await once(child, 'exit')) as [number | null];
  const acks: Ack[] = [];
  const acksWithoutOffset: Array<{ partition: number; value: string }> = [];
  const failures: ConfluentDelivery[] = [];
  let sent = 0;
  let remaining = -1;
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const parsed = JSON.parse(line) as ConfluentDelivery & { done?: boolean; sent?: number; remaining?: number };
    if (parsed.done === true) {
      sent = parsed.sent ?? 0;
      remaining = parsed.remaining ?? -1;
    } else if (parsed.err === undefined && parsed.p !== undefined && parsed.o !== undefined && parsed.o !== null) {
      acks.push({ partition: parsed.p, baseOffset: BigInt(parsed.o), values: [parsed.v] });
    } else if (parsed.err === undefined && parsed.p !== undefined) {
      acksWithoutOffset.push({ partition: parsed.p, value: parsed.v });
    } else failures.push(parsed);
  }
  return { acks, acksWithoutOffset, failures, sent, remaining, exitCode, stderr };
}

/** kcat -P fed line by line: values are written while the test runs; end() closes stdin and waits. */
export class KcatProducer {
  readonly sent: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<[number | null]>;
  #stderr = '';

  constructor(options: { bootstrap: string; topic: string; idempotent: boolean }) {
    const args = ['-P', '-b', options.bootstrap, '-t', options.topic, '-X', 'acks=all', '-X', 'message.timeout.ms=30000', '-X', 'topic.metadata.refresh.interval.ms=1000', '-X', 'reconnect.backoff.max.ms=500'];
    if (options.idempotent) args.push('-X', 'enable.idempotence=true');
    this.#child = spawn('kcat', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child.stdin?.on('error', () => {});
    this.#child.stderr?.on('data', (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-16_000)));
    this.#exited = once(this.#child, 'exit') as Promise<[number | null]>;
  }

  write(value: string): void {
    this.sent.push(value);
    this.#child.stdin?.write(`${value}\n`);
  }

  /** Closes stdin (kcat then flushes and exits) and waits up to `timeoutMs`. */
  async end(timeoutMs: number): Promise<{ exitCode: number | null; failedDeliveries: number; stderr: string }> {
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const [exitCode] = await this.#exited;
    clearTimeout(timer);
    const failedDeliveries = (this.#stderr.match(/Delivery failed/g) ?? []).length;
    return { exitCode, failedDeliveries, stderr: this.#stderr };
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}

const CONFLUENT_CONSUMER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'confluent-consumer.py');

/** confluent-kafka (librdkafka) group consumer in a child process; records what it was handed, live. */
export class ConfluentGroupConsumer {
  readonly seen = new Map<string, number>();
  readonly times: number[] = [];
  readonly errors: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<unknown[]>;
  #partial = '';

  constructor(options: { bootstrap: string; topic: string; groupId: string; maxSeconds: number }) {
    this.#child = spawn(PYTHON, [CONFLUENT_CONSUMER_SCRIPT, options.bootstrap, options.topic, options.groupId, String(options.maxSeconds)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.#exited = once(this.#child, 'exit');
    this.#child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk.toString('utf8')));
  }

  /** Longest time in [fromMs, toMs] without a consumed record. */
  longestStallMs(fromMs: number, toMs: number): number {
    return longestGapMs(this.times, fromMs, toMs);
  }

  /** SIGTERM (the script closes its consumer, leaving the group), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #onData(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = JSON.parse(line) as { v?: string; t: number; err?: string };
      if (parsed.v !== undefined) {
        this.seen.set(parsed.v, (this.seen.get(parsed.v) ?? 0) + 1);
        this.times.push(parsed.t);
      } else if (parsed.err !== undefined) this.errors.push(`${parsed.t} ${parsed.err}`);
    }
  }
}
