/**
 * Merging end to end on the S3 adapter (s3rver): a real broker merges a partition's WAL entries into a
 * segment in the background (default policy: more than 16 WAL entries, a pass every 5 s). The object
 * layout is checked in the bucket itself — segment key format, KAFS header, END! footer with CRC32C and
 * last offset, IDX\0 index entries pointing at batch starts — and Fetch returns the same bytes before
 * the merge, after it, and from a restarted broker (nothing cached).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs, { type Producer } from 'kafkajs';
import { decodeRecordBatch, splitBatches } from '../../src/protocol/records/index.ts';
import { decodeSegment, decodeSegmentIndex, SEGMENT_KEY_PATTERN, SEGMENT_FOOTER_BYTES } from '../../src/services/log/segment-format.ts';
import { S3ObjectStore } from '../../src/storage/object/s3-object-store.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { brokerS3Env, startS3Server, type S3TestServer } from '../helpers/s3-server.ts';
import { readPartition } from '../fault/partition-reader.ts';
import { waitFor } from '../helpers/wait-for.ts';

const { Kafka, logLevel } = kafkajs;
const NAMESPACE = 'mergetest';
const MESSAGES = 40;

let s3: S3TestServer;
let broker: BrokerProcess;
let bucket: S3ObjectStore;
let producer: Producer | undefined;

before(async () => {
  s3 = await startS3Server();
  broker = await startBroker({
    env: {
      ...brokerS3Env(s3),
      KAFSCALE_S3_NAMESPACE: NAMESPACE,
    },
  });
  bucket = new S3ObjectStore({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
});

after(async () => {
  await producer?.disconnect();
  await broker?.stop();
  await bucket?.close();
  await s3?.stop();
});

async function list(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of bucket.list(prefix)) keys.push(info.key);
  return keys;
}

test('a merged segment in S3 has the documented layout; Fetch is byte-identical before, after and across a restart', { timeout: 90_000 }, async () => {
  const topic = `merge-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({ clientId: 'kafscale-merge-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
  } finally {
    await admin.disconnect();
  }
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // One acks=all send at a time: every send is its own flush, so its own log entry.
  const sent: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    sent.push(`message-${i}`);
    await producer.send({ topic, acks: -1, messages: [{ value: `message-${i}` }] });
  }
  const beforeMerge = await readPartition(broker.host, broker.port, topic, 0);
  assert.equal(beforeMerge.highWatermark, BigInt(MESSAGES));

  // The background merger runs every 5 s; 40 entries > 16 triggers it.
  let segments: string[] = [];
  await waitFor('a merged segment in S3', async () => {
    segments = (await list(`${NAMESPACE}/segments/`)).filter((k) => k.endsWith('.kfs'));
    return segments.length > 0;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  const segmentKey = segments[0]!;
  const parts = SEGMENT_KEY_PATTERN.exec(segmentKey);
  assert.ok(parts !== null, `segment key ${segmentKey} does not match the documented layout`);
  assert.equal(parts[1], NAMESPACE);
  assert.equal(parts[3], '0000000000');
  assert.equal(parts[4], '0'.repeat(20), 'the first segment starts at offset 0');

  const data = await bucket.get(segmentKey);
  assert.equal(data.toString('latin1', 0, 4), 'KAFS');
  assert.equal(data.toString('latin1', data.length - 4), 'END!');
  const segment = decodeSegment(data); // verifies version and the CRC32C in the footer
  assert.equal(segment.baseOffset, 0);
  assert.equal(Number(data.readBigInt64BE(data.length - SEGMENT_FOOTER_BYTES + 4)), segment.lastOffset);
  const batches = splitBatches(segment.body).batches;
  const values = batches.flatMap((b) => decodeRecordBatch(b).records.map((r) => r.value?.toString()));
  assert.deepEqual(values, sent.slice(0, segment.lastOffset + 1));

  const indexData = await bucket.get(`${segmentKey.slice(0, -4)}.index`);
  assert.equal(indexData.toString('latin1', 0, 4), 'IDX\0');
  const index = decodeSegmentIndex(indexData);
  assert.ok(index.entries.length >= 1);
  assert.deepEqual({ ...index.entries[0], maxTimestamp: undefined }, { offset: 0, position: 32, maxTimestamp: undefined });
  assert.equal(indexData.readUInt16BE(14) & 1, 1, 'the index carries the time index (flags bit 0)');
  for (const e of index.entries) {
    assert.equal(Number(data.readBigInt64BE(e.position)), e.offset, 'an index entry points at the batch it names');
    assert.ok(e.maxTimestamp !== undefined && e.maxTimestamp > 0, 'each block has its maxTimestamp');
  }

  const afterMerge = await readPartition(broker.host, broker.port, topic, 0);
  assert.deepEqual(afterMerge.batches, beforeMerge.batches);

  await broker.restart();
  const afterRestart = await readPartition(broker.host, broker.port, topic, 0);
  assert.deepEqual(afterRestart.batches, beforeMerge.batches);
});
