/**
 * kcat (librdkafka) produce and consume against a real broker on the embedded store.
 *
 * Expected to pass: `kcat -P` with acks=all, per-message keys (`-K:`), headers (`-H k=v`) and each of
 * none/gzip/snappy/lz4/zstd; `kcat -C -o beginning -e` (assign-style, no consumer group) reads back
 * contiguous offsets from 0 with byte-identical keys, headers and values; CreateTime timestamps set by a
 * producer come back unchanged; a LogAppendTime topic returns the broker's append time (within the
 * test's window, tstype "logappend"); `kcat -Q -t topic:partition:ts` (ListOffsets by timestamp) finds
 * the first record with timestamp >= ts.
 * kcat 1.7 cannot set a per-message timestamp, so the CreateTime records are produced with kafkajs and
 * read with kcat. Every codec is stored as the producer compressed it (see storedCodec); a kafkajs gzip
 * batch covers another producer's compressed batches.
 * Skips when the kcat binary is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { compressionCodec, validateBatch } from '../../../src/protocol/records/index.ts';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { readPartition } from '../../fault/partition-reader.ts';

const run = promisify(execFile);
const kcatMissing = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'kcat is not installed (apt-get install kcat)';
const KCAT_TIMEOUT_MS = 30_000;

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

let broker: BrokerProcess;
let kafka: kafkajs.Kafka;

before(async () => {
  if (kcatMissing !== false) return;
  broker = await startBroker();
  kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
});

after(async () => {
  await broker?.stop();
});

async function createTopic(topic: string, configEntries: Array<{ name: string; value: string }> = []): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] }), true);
  } finally {
    await admin.disconnect();
  }
}

/** `kcat -P` with stdin as given; resolves when kcat exits 0 (it waits for every delivery report). */
async function kcatProduce(args: string[], input: string): Promise<void> {
  const child = spawn('kcat', ['-P', '-b', broker.bootstrap, '-X', 'acks=all', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), KCAT_TIMEOUT_MS);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  child.stdin.end(input);
  const code = await exited;
  clearTimeout(timer);
  // kcat exits 0 even when deliveries failed; failures are printed as "% Delivery failed ...".
  assert.equal(code, 0, `kcat -P exited ${String(code)}: ${stderr}`);
  assert.doesNotMatch(stderr, /Delivery failed|ERROR/i, stderr);
}

async function kcatConsume(topic: string, ...extra: string[]): Promise<string> {
  const { stdout } = await run(
    'kcat',
    ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', ...extra],
    { timeout: KCAT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

async function kcatConsumeJson(topic: string): Promise<KcatMessage[]> {
  const stdout = await kcatConsume(topic, '-J');
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatMessage);
}

/** Values with characters a codec or a text path could mangle: UTF-8, quotes, a long repetitive run. */
/**
 * Every value repeats itself, so any batch kcat happens to cut compresses: librdkafka sends a batch
 * uncompressed when the codec does not make it smaller (a lone short record under zstd did, on CI).
 */
function valueFor(codec: string, index: number): string {
  const filler = index % 5 === 0 ? 'x'.repeat(3_000) : 'ab'.repeat(64);
  return `${codec}-value-${index}-äöü-€-"quoted"-${filler}`;
}

/**
 * What kcat actually sends, stored byte for byte. librdkafka 2.0.2 decides a codec is usable when the
 * broker supports some Produce version in [0, minimum for the codec]: 0 for gzip/snappy/lz4, 7 for zstd.
 * kafscale advertises Produce from v0 for exactly this reason (see handlers/produce.ts); with Produce
 * 3+ only, librdkafka logs "Broker does not support compression type gzip: not compressing batch".
 */
function storedCodec(codec: string): string {
  return codec;
}

/** kcat's own -z knows snappy|gzip|lz4; zstd goes through the librdkafka property. */
function compressionArgs(codec: string): string[] {
  if (codec === 'none') return [];
  return codec === 'zstd' ? ['-X', 'compression.codec=zstd'] : ['-z', codec];
}

for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`kcat produce (${codec}, keys, headers, acks=all) and consume from the beginning`, { skip: kcatMissing }, async () => {
    const topic = `kcat-pc-${codec}-${randomUUID().slice(0, 8)}`;
    await createTopic(topic);
    const count = 40;
    const lines = Array.from({ length: count }, (_, i) => `key-${i}:${valueFor(codec, i)}`);
    await kcatProduce(
      ['-t', topic, '-p', '0', '-K:', '-H', 'trace=abc', '-H', 'codec=' + codec, ...compressionArgs(codec)],
      lines.join('\n') + '\n',
    );

    const messages = await kcatConsumeJson(topic);
    assert.equal(messages.length, count);
    messages.forEach((message, i) => {
      assert.equal(message.offset, i, 'offsets are contiguous from 0');
      assert.equal(message.key, `key-${i}`);
      assert.equal(message.payload, valueFor(codec, i));
      assert.deepEqual(message.headers, ['trace', 'abc', 'codec', codec]);
      assert.equal(message.tstype, 'create');
    });

    // The same data through a format string, compared byte for byte (the JSON path decodes escapes).
    const formatted = await kcatConsume(topic, '-f', '%o|%k|%h|%s\n');
    const expected = lines.map((line, i) => {
      const [key] = line.split(':', 1);
      return `${i}|${String(key)}|trace=abc,codec=${codec}|${valueFor(codec, i)}\n`;
    });
    assert.equal(Buffer.compare(Buffer.from(formatted, 'utf8'), Buffer.from(expected.join(''), 'utf8')), 0);

    // The broker kept kcat's batches as they were sent: still compressed with the codec, CRCs intact.
    const stored = await readPartition(broker.host, broker.port, topic, 0);
    assert.equal(stored.highWatermark, BigInt(count));
    for (const batch of stored.batches) {
      assert.equal(compressionCodec(batch), storedCodec(codec), `batches: ${stored.batches.map((b) => compressionCodec(b)).join(' ')}`);
      assert.equal(validateBatch(batch), null);
    }
  });
}

test('gzip batches produced by kafkajs are stored compressed and read back by kcat', { skip: kcatMissing }, async () => {
  const topic = `kcat-kjgzip-${randomUUID().slice(0, 8)}`;
  await createTopic(topic);
  const producer = kafka.producer();
  await producer.connect();
  const values = Array.from({ length: 30 }, (_, i) => valueFor('gzip', i));
  try {
    await producer.send({
      topic,
      acks: -1,
      compression: kafkajs.CompressionTypes.GZIP,
      messages: values.map((value, i) => ({ partition: 0, key: `k${i}`, value, headers: { h: `v${i}` } })),
    });
  } finally {
    await producer.disconnect();
  }
  const stored = await readPartition(broker.host, broker.port, topic, 0);
  assert.deepEqual(stored.batches.map((b) => compressionCodec(b)), ['gzip']);
  const formatted = await kcatConsume(topic, '-f', '%o|%k|%h|%s\n');
  assert.equal(formatted, values.map((value, i) => `${i}|k${i}|h=v${i}|${value}\n`).join(''));
});

test('CreateTime timestamps come back as produced; ListOffsets by timestamp via kcat -Q', { skip: kcatMissing }, async () => {
  const topic = `kcat-ts-${randomUUID().slice(0, 8)}`;
  await createTopic(topic);
  const base = 1_700_000_000_000;
  // Non-monotonic timestamps: the by-timestamp lookup must find the FIRST record with ts >= t.
  const timestamps = [base, base + 1_000, base + 5_000, base + 3_000, base + 8_000, base + 9_000];
  const producer = kafka.producer();
  await producer.connect();
  try {
    // One send per message: each becomes its own batch, so the lookup has to pick among batches too.
    for (const [i, ts] of timestamps.entries()) {
      await producer.send({ topic, acks: -1, messages: [{ partition: 0, key: `k${i}`, value: `v${i}`, timestamp: String(ts) }] });
    }
  } finally {
    await producer.disconnect();
  }

  const messages = await kcatConsumeJson(topic);
  assert.deepEqual(
    messages.map((m) => [m.offset, m.tstype, m.ts]),
    timestamps.map((ts, i) => [i, 'create', ts]),
  );
  const formatted = await kcatConsume(topic, '-f', '%o %T\n');
  assert.equal(formatted, timestamps.map((ts, i) => `${i} ${ts}\n`).join(''));

  const query = async (ts: number): Promise<number> => {
    const { stdout } = await run('kcat', ['-Q', '-b', broker.bootstrap, '-t', `${topic}:0:${ts}`], { timeout: KCAT_TIMEOUT_MS });
    const match = /offset (-?\d+)/.exec(stdout);
    assert.ok(match, `kcat -Q output: ${stdout}`);
    return Number(match[1]);
  };
  assert.equal(await query(base - 1), 0);
  assert.equal(await query(base), 0);
  assert.equal(await query(base + 1), 1);
  assert.equal(await query(base + 2_000), 2, 'offset 2 (ts +5000) is the first with ts >= +2000');
  assert.equal(await query(base + 6_000), 4);
  assert.equal(await query(base + 9_000), 5);
  // Past every timestamp: Kafka answers -1 (no such record), which kcat prints as-is.
  assert.equal(await query(base + 10_000), -1);
});

test('LogAppendTime topic: kcat sees the broker append time, not the producer time', { skip: kcatMissing }, async () => {
  const topic = `kcat-lat-${randomUUID().slice(0, 8)}`;
  await createTopic(topic, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
  const startedMs = Date.now();
  await kcatProduce(['-t', topic, '-p', '0', '-K:'], 'a:1\nb:2\nc:3\n');
  const endedMs = Date.now();

  const messages = await kcatConsumeJson(topic);
  assert.equal(messages.length, 3);
  for (const [i, message] of messages.entries()) {
    assert.equal(message.offset, i);
    assert.equal(message.tstype, 'logappend');
    assert.ok(message.ts >= startedMs && message.ts <= endedMs, `append time ${message.ts} within [${startedMs}, ${endedMs}]`);
  }
});
