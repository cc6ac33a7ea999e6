import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafscaleMetrics } from '../telemetry/metrics.ts';
import { recordCount, RequestMetrics } from './request-metrics.ts';

/** A minimal magic-2 batch header with a record count (only the fields recordCount reads). */
function batch(records: number, payloadBytes: number): Buffer {
  const buffer = Buffer.alloc(61 + payloadBytes);
  buffer.writeInt32BE(buffer.length - 12, 8);
  buffer.writeInt32BE(records, 57);
  return buffer;
}

const topics = { exists: (name: string) => name === 't', nameOf: (id: string) => (id === 'id-t' ? 't' : undefined) };

test('recordCount reads batch headers and stops at a truncated batch', () => {
  assert.equal(recordCount(Buffer.concat([batch(3, 10), batch(5, 0)])), 8);
  assert.equal(recordCount(Buffer.concat([batch(3, 10), batch(5, 20).subarray(0, 70)])), 3);
  assert.equal(recordCount(Buffer.alloc(0)), 0);
});

test('error codes anywhere in a response are counted by name; zero codes and buffers are not', async () => {
  const metrics = new KafscaleMetrics();
  const requestMetrics = new RequestMetrics(metrics, topics);
  requestMetrics.observe(9, false, {}, {
    errorCode: 0,
    groups: [{ groupId: 'g', errorCode: 16, topics: [{ name: 't', partitions: [{ errorCode: 3, metadata: Buffer.from([1]) }, { errorCode: 0 }] }] }],
  });
  requestMetrics.observe(3, true, {}, { topics: [{ errorCode: -1 }] });
  const counts = new Map((await metrics.requestErrorsTotal.get()).values.map((v) => [`${v.labels.api_key}/${v.labels.error}`, v.value]));
  assert.deepEqual(Object.fromEntries(counts), { '9/NOT_COORDINATOR': 1, '9/UNKNOWN_TOPIC_OR_PARTITION': 1, '3/exception': 1, '3/UNKNOWN_SERVER_ERROR': 1 });
});

test('bytes and records: acknowledged Produce partitions in, Fetch (by name or topic id) out, only for live topics', async () => {
  const metrics = new KafscaleMetrics();
  const requestMetrics = new RequestMetrics(metrics, topics);
  const ok = batch(4, 100);
  const refused = batch(7, 50);
  requestMetrics.observe(0, false, {
    topicData: [
      { name: 't', partitionData: [{ index: 0, records: ok }, { index: 1, records: refused }] },
      { name: 'unknown', partitionData: [{ index: 0, records: ok }] },
    ],
  }, {
    responses: [
      { name: 't', partitionResponses: [{ index: 0, errorCode: 0 }, { index: 1, errorCode: 6 }] },
      { name: 'unknown', partitionResponses: [{ index: 0, errorCode: 0 }] },
    ],
  });
  requestMetrics.observe(1, false, {}, { responses: [{ topic: '', topicId: 'id-t', partitions: [{ errorCode: 0, records: [ok, batch(2, 0)] }, { errorCode: 0, records: [] }] }] });
  const value = async (counter: typeof metrics.topicBytesInTotal, topic: string) => (await counter.get()).values.find((v) => v.labels.topic === topic)?.value;
  assert.equal(await value(metrics.topicBytesInTotal, 't'), ok.length);
  assert.equal(await value(metrics.topicRecordsInTotal, 't'), 4);
  assert.equal(await value(metrics.topicBytesInTotal, 'unknown'), undefined, 'no series for a topic that does not exist');
  assert.equal(await value(metrics.topicBytesOutTotal, 't'), ok.length + 61);
  assert.equal(await value(metrics.topicRecordsOutTotal, 't'), 6);
  metrics.removeTopic('t');
  assert.equal(await value(metrics.topicBytesInTotal, 't'), undefined, 'removeTopic drops the series');
});
