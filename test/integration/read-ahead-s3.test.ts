/**
 * Read-ahead end to end on the S3 adapter (s3rver): a broker whose read-ahead budget is smaller than the
 * data (so the bound binds) is restarted, and librdkafka (kcat) consumes three partitions from the
 * beginning — every range now comes from S3, most of them read ahead. Every record must come back byte
 * for byte in offset order, and the broker's metrics must show read-ahead served reads within its budget.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import kafkajs, { type Producer } from 'kafkajs';
import { parsePrometheusText, sumSamples } from '../../bench/prometheus-text.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { createKafkajsTopic } from '../helpers/create-kafkajs-topic.ts';
import { kcat, kcatMissing } from '../helpers/kcat.ts';
import { brokerS3Env, startS3Server, type S3TestServer } from '../helpers/s3-server.ts';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 3;
const SENDS = 12;
const PER_SEND = 40;
const READ_AHEAD_BYTES = 512 * 1024;

let s3: S3TestServer;
let broker: BrokerProcess;
let producer: Producer | undefined;

before(async () => {
  s3 = await startS3Server();
  broker = await startBroker({ env: { ...brokerS3Env(s3), KAFSCALE_READ_AHEAD_BYTES: String(READ_AHEAD_BYTES) } });
});

after(async () => {
  await producer?.disconnect();
  await broker?.stop();
  await s3?.stop();
});

/** 1 KiB of printable text unique to (partition, n): a hash chain, so any wrong or shifted byte shows. */
function valueOf(partition: number, n: number): string {
  let out = '';
  for (let i = 0; out.length < 1024; i++) out += createHash('sha256').update(`${partition}/${n}/${i}`).digest('hex');
  return out.slice(0, 1024);
}

async function metrics(): Promise<ReturnType<typeof parsePrometheusText>> {
  const response = await fetch(`http://${broker.host}:${broker.opsPort}/metrics`);
  return parsePrometheusText(await response.text());
}

test('after a restart, kcat reads every record from S3 byte for byte while read-ahead serves the ranges', { skip: kcatMissing, timeout: 90_000 }, async () => {
  const topic = `readahead-${randomUUID().slice(0, 8)}`;
  await createKafkajsTopic(broker.bootstrap, topic, PARTITIONS);
  const kafka = new Kafka({ clientId: 'kafscale-read-ahead-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // One acks=all send per partition at a time: each is its own flush, so many log entries per partition.
  for (let s = 0; s < SENDS; s++) {
    await Promise.all(
      Array.from({ length: PARTITIONS }, (_, partition) =>
        producer!.send({ topic, acks: -1, messages: Array.from({ length: PER_SEND }, (_, i) => ({ partition, value: valueOf(partition, s * PER_SEND + i) })) }),
      ),
    );
  }
  await producer.disconnect();
  producer = undefined;

  await broker.restart();
  const total = PARTITIONS * SENDS * PER_SEND;
  const consumed = await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\n'], '', 60_000);
  assert.equal(consumed.code, 0, consumed.stderr);
  const byPartition: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const line of consumed.stdout.split('\n')) {
    if (line === '') continue;
    const [partition, offset, value] = line.split(' ');
    const list = byPartition[Number(partition)]!;
    assert.equal(Number(offset), list.length, `partition ${partition}: offsets in order, none missing`);
    list.push(value!);
  }
  assert.equal(byPartition.flat().length, total);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const expected = Array.from({ length: SENDS * PER_SEND }, (_, n) => valueOf(partition, n));
    const got = byPartition[partition]!;
    const firstWrong = got.findIndex((value, n) => value !== expected[n]);
    assert.equal(firstWrong, -1, `partition ${partition}: record ${firstWrong} differs`);
  }

  const families = await metrics();
  const hits = sumSamples(families, 'kafscale_read_ahead_hits_total');
  const aheadGets = sumSamples(families, 'kafscale_read_ahead_gets_total');
  const gets = sumSamples(families, 'kafscale_object_store_requests_total', { operation: 'get' });
  assert.ok(hits > 0, `read-ahead served ${hits} reads (${aheadGets} read-ahead GETs of ${gets})`);
  assert.ok(aheadGets <= gets);
  // 36 entries of ~40 KiB: every entry GET at most once (read-ahead dropped unread would show as more).
  assert.ok(gets <= PARTITIONS * SENDS + 2, `${gets} GETs for ${PARTITIONS * SENDS} entries`);
  assert.ok(sumSamples(families, 'kafscale_read_ahead_bytes') <= READ_AHEAD_BYTES);
});
