/**
 * `node bench/timestamp-scan-bench.ts`: what the broker-computed timestamps (stampBatchTimestamps) add to
 * the produce path per batch, next to the validation every batch already gets (validateBatch: CRC32C of
 * the whole batch). CPU only, no broker: the end-to-end short bench on a shared 2-core machine is too
 * noisy to resolve a few percent. Bounded: each measurement is 9 windows of ~40 ms of CPU time.
 */
import { MAX_TIMESTAMP_OFFSET, encodeRecordBatch, stampBatchTimestamps, validateBatch, writeCrc, type EncodableCompression } from '../src/protocol/records/index.ts';
import { recompressedBatch } from '../test/helpers/recompressed-batch.ts';

const NOW = Date.now();
const RULES = { logAppendTimeMs: -1, nowMs: NOW, beforeMaxMs: Number.MAX_SAFE_INTEGER, afterMaxMs: 3_600_000 };

function build(records: number, valueBytes: number, compression: EncodableCompression | 'snappy' | 'lz4'): Buffer {
  const value = Buffer.alloc(valueBytes, 'x');
  const input = Array.from({ length: records }, (_, i) => ({ key: `key-${i}`, value, timestamp: BigInt(NOW - records + i) }));
  if (compression !== 'snappy' && compression !== 'lz4') return encodeRecordBatch({ records: input, compression });
  return recompressedBatch(encodeRecordBatch({ records: input }), compression);
}

/**
 * CPU time per operation (process.cpuUsage, so time the process spends descheduled by the machine's other
 * tenants does not count), median of 9 windows of ~40 ms of CPU.
 */
function nsPerOp(work: () => void): number {
  for (let i = 0; i < 200; i++) work();
  const samples: number[] = [];
  for (let window = 0; window < 9; window++) {
    let ops = 0;
    const start = process.cpuUsage();
    let spentUs = 0;
    while (spentUs < 40_000) {
      for (let i = 0; i < 20; i++) work();
      ops += 20;
      const used = process.cpuUsage(start);
      spentUs = used.user + used.system;
    }
    samples.push((spentUs * 1000) / ops);
  }
  samples.sort((x, y) => x - y);
  return samples[4]!;
}

const rows: string[][] = [['batch', 'bytes', 'validate µs', '+ timestamps µs', 'added', '+ timestamps, header -1 µs', 'added']];
const cases: Array<[string, number, number, EncodableCompression | 'snappy' | 'lz4']> = [
  ['1 × 1 KiB, none', 1, 1024, 'none'],
  ['100 × 100 B, none', 100, 100, 'none'],
  ['1000 × 100 B, none', 1000, 100, 'none'],
  ['1000 × 1 KiB, none', 1000, 1024, 'none'],
  ['1000 × 1 KiB, gzip', 1000, 1024, 'gzip'],
  ['1000 × 1 KiB, zstd', 1000, 1024, 'zstd'],
  ['1000 × 1 KiB, snappy', 1000, 1024, 'snappy'],
  ['1000 × 1 KiB, lz4', 1000, 1024, 'lz4'],
];
const pct = (x: number, base: number): string => `${(((x - base) / base) * 100).toFixed(0)} %`;
for (const [name, records, valueBytes, compression] of cases) {
  const batch = build(records, valueBytes, compression);
  const validate = nsPerOp(() => {
    if (validateBatch(batch) !== null) throw new Error('invalid');
  });
  // A right header (Java, librdkafka, kafkajs): records are read, nothing is written.
  const right = nsPerOp(() => {
    if (validateBatch(batch) !== null) throw new Error('invalid');
    if (stampBatchTimestamps(batch, RULES) !== null) throw new Error('refused');
  });
  // sarama < 1.28: maxTimestamp -1, so every batch is patched and its CRC computed again.
  const saramaLike = nsPerOp(() => {
    batch.writeBigInt64BE(-1n, MAX_TIMESTAMP_OFFSET);
    writeCrc(batch);
    if (validateBatch(batch) !== null) throw new Error('invalid');
    if (stampBatchTimestamps(batch, RULES) !== null) throw new Error('refused');
  });
  const crcOnly = nsPerOp(() => writeCrc(batch));
  const sarama = saramaLike - crcOnly; // the test's own CRC rewrite is not part of the broker's work
  rows.push([name, String(batch.length), (validate / 1000).toFixed(1), (right / 1000).toFixed(1), pct(right, validate), (sarama / 1000).toFixed(1), pct(sarama, validate)]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
