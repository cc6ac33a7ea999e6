/**
 * The chaos suite's real-client producers, recording every acknowledgement with its time (so a lost
 * record can be matched with the faults around it): kafkajs (in process; idempotent or not, N records
 * per send) and confluent-kafka / librdkafka (chaos-producer.py in a child process, bursts of N records
 * per partition so that batches of about N records reach the broker).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { KafkajsLanes } from '../../helpers/kafkajs-lanes.ts';
import type { AckedRecord } from './chaos-verify.ts';

const PYTHON = '/usr/bin/python3';
const PRODUCER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'chaos-producer.py');

/**
 * kafkajs: one lane per partition, `batch` records per send(), acks=all. Idempotent lanes each have
 * their own producer and replace it after a failed send (test/helpers/kafkajs-lane-producers.ts).
 */
export class ChaosKafkajsProducer {
  readonly acks: AckedRecord[] = [];
  readonly errors = new Map<string, number>();
  sends = 0;
  readonly name: string;
  readonly #lanes: KafkajsLanes;
  #sequence = 0;

  constructor(options: { name: string; brokers: string[]; topic: string; partitions: number; idempotent: boolean; batch: number; pauseMs: number }) {
    this.name = options.name;
    const kafka = new kafkajs.Kafka({
      clientId: `chaos-${options.name}`,
      brokers: options.brokers,
      logLevel: kafkajs.logLevel.NOTHING,
      requestTimeout: 10_000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
    });
    const lanes = { topic: options.topic, partitions: options.partitions, idempotent: options.idempotent, pauseMs: options.pauseMs, failurePauseMs: 200 };
    this.#lanes = new KafkajsLanes(kafka, lanes, {
      next: (partition) => {
        this.sends++;
        return Array.from({ length: options.batch }, () => `${this.name}-p${partition}-s${this.#sequence++}`);
      },
      acknowledged: (partition, base, values) => {
        const ackedMs = Date.now();
        values.forEach((value, i) => this.acks.push({ producer: this.name, partition, offset: base + BigInt(i), value, ackedMs }));
      },
      answered: (_, meta) => this.#error(`answered ${JSON.stringify(meta)}`),
      threw: (_, error) => this.#error(`${(error as Error).name}: ${(error as Error).message}`),
    });
  }

  async start(): Promise<void> {
    await this.#lanes.start();
  }

  async stop(): Promise<void> {
    await this.#lanes.stop();
  }

  #error(message: string): void {
    const key = message.slice(0, 160);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
}

export interface LibrdkafkaOutcome {
  readonly sent: number;
  readonly remaining: number;
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** librdkafka through confluent-kafka: chaos-producer.py, acknowledgements parsed as they come. */
export class ChaosLibrdkafkaProducer {
  readonly acks: AckedRecord[] = [];
  readonly failures = new Map<string, number>();
  /** Deliveries librdkafka reported without an offset (not checked against the log: no offset to check). */
  acksWithoutOffset = 0;
  fatalErrors = 0;
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<unknown[]>;
  #partial = '';
  #stderr = '';
  #sent = 0;
  #remaining = -1;

  constructor(options: { name: string; bootstrap: string; topic: string; partitions: number; seconds: number; idempotent: boolean; burst: number; intervalMs: number; lingerMs: number }) {
    this.name = options.name;
    this.#child = spawn(
      PYTHON,
      [PRODUCER_SCRIPT, options.bootstrap, options.topic, String(options.partitions), options.name, String(options.seconds), options.idempotent ? '1' : '0', String(options.burst), String(options.intervalMs), String(options.lingerMs)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#exited = once(this.#child, 'exit');
    this.#child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk.toString('utf8')));
    this.#child.stderr?.on('data', (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-8_000)));
  }

  /** Waits for the script to end by itself (it flushes, bounded by 40 s); SIGKILL after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<LibrdkafkaOutcome> {
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
    return { sent: this.#sent, remaining: this.#remaining, exitCode: this.#child.exitCode, stderr: this.#stderr };
  }

  /** SIGTERM: the script stops producing and flushes what it holds (bounded at 40 s), then exits. */
  stopProducing(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  #onData(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    const now = Date.now();
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = JSON.parse(line) as { v?: string; p?: number; o?: number | null; err?: string; fatal?: boolean; done?: boolean; sent?: number; remaining?: number };
      if (parsed.done === true) {
        this.#sent = parsed.sent ?? 0;
        this.#remaining = parsed.remaining ?? -1;
      } else if (parsed.err === undefined && parsed.v !== undefined && parsed.p !== undefined && parsed.o !== undefined && parsed.o !== null) {
        this.acks.push({ producer: this.name, partition: parsed.p, offset: BigInt(parsed.o), value: parsed.v, ackedMs: now });
      } else if (parsed.err === undefined && parsed.v !== undefined && parsed.p !== undefined) {
        // Delivered without an offset (librdkafka's implicit acknowledgement after an unknown outcome).
        this.acksWithoutOffset++;
      } else if (parsed.err !== undefined) {
        if (parsed.fatal === true) this.fatalErrors++;
        const key = parsed.err.slice(0, 160);
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      }
    }
  }
}
