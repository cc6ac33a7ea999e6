/**
 * `npm run bench -- --security`: the same produce and consume run over PLAINTEXT, SSL and SASL_SSL
 * (SCRAM-SHA-512) listeners of one broker, side by side (docs/benchmarks.md, "Security"). The native
 * client (kbench / librdkafka) gets the listener's settings through KBENCH_CONFIG, a properties file.
 * Each run writes a new 6-partition topic with 1 KiB messages, then reads it back; three interleaved
 * rounds, the best of each protocol reported.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSecureBroker } from '../test/helpers/security.ts';
import { openNativeClient } from './native-client.ts';

const PARTITIONS = 6;
const SIZE_BYTES = 1024;

export interface SecurityBenchRow {
  readonly protocol: 'PLAINTEXT' | 'SSL' | 'SASL_SSL';
  readonly produceMBps: number;
  readonly consumeMBps: number;
}

export interface SecurityBenchReport {
  readonly startedAt: string;
  readonly client: string;
  readonly messages: number;
  readonly sizeBytes: number;
  /** Each protocol ran this many times (interleaved); rows hold the best of each. */
  readonly rounds: number;
  readonly rows: readonly SecurityBenchRow[];
}

export async function runSecurityBench(options: { short: boolean; log: (line: string) => void }): Promise<SecurityBenchReport> {
  const startedAt = new Date().toISOString();
  // 250,000 × 1 KiB: consuming 50,000 took 60–130 ms, so connection set-up (the TLS handshake included)
  // decided the consume ratio; at 256 MB the transfer does.
  const messages = options.short ? 5_000 : 250_000;
  const secure = await startSecureBroker();
  try {
    const client = await openNativeClient(secure.dir, options.log);
    if (!client.name.startsWith('kbench')) throw new Error(`the security bench needs kbench (librdkafka-dev + cc) to pass TLS/SASL settings; got ${client.name}`);
    const best = new Map<SecurityBenchRow['protocol'], { produceMBps: number; consumeMBps: number }>();
    // Rounds interleave the protocols and the best of each is reported: on a shared machine one slow
    // moment would otherwise decide a whole column.
    const rounds = options.short ? 1 : 3;
    for (let round = 0; round < rounds; round++) for (const protocol of ['PLAINTEXT', 'SSL', 'SASL_SSL'] as const) {
      const config = join(secure.dir, `kbench-${protocol}.properties`);
      const lines = [`security.protocol=${protocol.toLowerCase()}`];
      if (protocol !== 'PLAINTEXT') lines.push(`ssl.ca.location=${secure.pki.caFile}`);
      if (protocol === 'SASL_SSL') lines.push('sasl.mechanisms=SCRAM-SHA-512', `sasl.username=${secure.user}`, `sasl.password=${secure.password}`);
      writeFileSync(config, `${lines.join('\n')}\n`, { mode: 0o600 });
      process.env['KBENCH_CONFIG'] = config;
      const topic = `bench-sec-${protocol.toLowerCase()}-${randomUUID().slice(0, 6)}`;
      await secure.createTopic(topic, PARTITIONS);
      options.log(`bench: ${protocol}: producing ${messages} x ${SIZE_BYTES} B`);
      const produced = await client.produce(secure.bootstrap(protocol), topic, messages, SIZE_BYTES, 300_000);
      options.log(`bench: ${protocol}: consuming`);
      const consumed = await client.consume(secure.bootstrap(protocol), topic, PARTITIONS, messages, 300_000);
      const previous = best.get(protocol);
      best.set(protocol, {
        produceMBps: Math.max(previous?.produceMBps ?? 0, mbps(produced.bytes, produced.seconds)),
        consumeMBps: Math.max(previous?.consumeMBps ?? 0, mbps(consumed.bytes, consumed.seconds)),
      });
    }
    delete process.env['KBENCH_CONFIG'];
    const rows = [...best.entries()].map(([protocol, r]) => ({ protocol, ...r }));
    return { startedAt, client: client.name, messages, sizeBytes: SIZE_BYTES, rounds, rows };
  } finally {
    await secure.stop();
  }
}

function mbps(bytes: number, seconds: number): number {
  return seconds <= 0 ? 0 : Math.round((bytes / 1e6 / seconds) * 10) / 10;
}

export function formatSecurityReport(report: SecurityBenchReport): string {
  const base = report.rows[0];
  const lines = [
    `security bench ${report.startedAt}: ${report.messages} x ${report.sizeBytes} B, ${PARTITIONS} partitions, best of ${report.rounds} interleaved rounds, client ${report.client}`,
    'PROTOCOL     PRODUCE MB/s  vs PLAINTEXT  CONSUME MB/s  vs PLAINTEXT',
  ];
  for (const row of report.rows) {
    const ratio = (value: number, of: number | undefined): string => (of === undefined || of === 0 ? '-' : `${(value / of).toFixed(2)}x`);
    lines.push(
      `${row.protocol.padEnd(12)} ${String(row.produceMBps).padStart(12)}  ${ratio(row.produceMBps, base?.produceMBps).padStart(11)}  ${String(row.consumeMBps).padStart(12)}  ${ratio(row.consumeMBps, base?.consumeMBps).padStart(11)}`,
    );
  }
  return lines.join('\n');
}
