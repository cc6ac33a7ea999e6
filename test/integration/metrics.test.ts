/**
 * Acceptance for the ops listener: after real traffic, GET /metrics parses with a strict Prometheus
 * text parser (bench/prometheus-text.ts) and the key series are present with plausible values;
 * /healthz is 200 and /readyz is 200 with a JSON body. Produce/consume traffic is added when the broker
 * advertises Produce (0) / Fetch (1) and kcat is installed; the admin traffic always runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { parsePrometheusText, samplesNamed, sumSamples, type MetricFamily } from '../../bench/prometheus-text.ts';
import { waitFor } from '../helpers/wait-for.ts';

const kcatPresent = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
const topic = `metrics-${randomUUID().slice(0, 8)}`;
const MESSAGES = 20;
const deletedTopic = `metrics-gone-${randomUUID().slice(0, 8)}`;
const groupId = `metrics-group-${randomUUID().slice(0, 8)}`;
const COMMITTED = 1n;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

let broker: BrokerProcess;
let consumed = false;
let families: Map<string, MetricFamily>;
let contentType: string;
let openClient: WireClient | null = null;
let scrapedAtSeconds = 0;
let highWatermark0 = -1n;

function ops(path: string): Promise<Response> {
  return fetch(`http://${broker.host}:${broker.opsPort}${path}`, { signal: AbortSignal.timeout(5_000) });
}

const total = (name: string, labels: Record<string, string> = {}): number => sumSamples(families, name, labels);

before(async () => {
  broker = await startBroker({ logLevel: 'warn' });
  const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], clientId: 'metrics-test', logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: deletedTopic, numPartitions: 1 }] }), true);
    await admin.fetchTopicMetadata({ topics: [topic, deletedTopic] });
  } finally {
    await admin.disconnect();
  }

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: MESSAGES }, (_, i) => ({ value: `metrics message ${i}` })) });
    await producer.send({ topic: deletedTopic, acks: -1, messages: [{ value: 'soon gone' }] });
  } finally {
    await producer.disconnect();
  }
  if (kcatPresent) {
    const run = spawnSync('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-c', String(MESSAGES), '-q'], {
      stdio: 'ignore',
      timeout: 20_000,
    });
    assert.equal(run.status, 0, `kcat consumed ${MESSAGES} messages`);
    consumed = true;
  }

  // A topic with traffic, then deleted: its per-topic series must go (bounded label set).
  const deleter = kafka.admin();
  await deleter.connect();
  try {
    await deleter.deleteTopics({ topics: [deletedTopic] });
  } finally {
    await deleter.disconnect();
  }
  // A committed offset (for the lag gauge) and a request answered with an error code (Metadata for a
  // topic that does not exist → UNKNOWN_TOPIC_OR_PARTITION).
  const wire = await WireClient.connect(broker.host, broker.port);
  try {
    const committed = await wire.send(8, 9, {
      groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: COMMITTED, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
    });
    assert.equal(committed.topics[0]?.partitions[0]?.errorCode, 0);
    const missing = await wire.send(3, 12, { topics: [{ name: 'metrics-no-such-topic', topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(missing.topics[0]?.errorCode, 3);
    const end = await wire.send(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
    highWatermark0 = end.topics[0]?.partitions[0]?.offset ?? -1n;
  } finally {
    wire.close();
  }

  // kcat exits with a long-poll Fetch still parked in the broker; the gauge must drain once the broker
  // sees the close (bounded wait), and the scrape below then sees no request in flight.
  await waitFor('no request in flight', async () => sumSamples(parsePrometheusText(await (await ops('/metrics')).text()), 'kafscale_requests_in_flight') === 0, 3_000).catch(() => {});

  // One connection stays open during the scrape, so the active-connections gauge has something to show.
  openClient = await WireClient.connect(broker.host, broker.port);
  await openClient.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  const response = await ops('/metrics');
  assert.equal(response.status, 200);
  contentType = response.headers.get('content-type') ?? '';
  scrapedAtSeconds = Date.now() / 1000;
  families = parsePrometheusText(await response.text());
});

after(async () => {
  openClient?.close();
  await broker?.stop();
});

test('/metrics is Prometheus text 0.0.4 and every family is kafscale_* with HELP and TYPE', () => {
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.ok(families.size > 20, `expected many families, got ${families.size}`);
  for (const family of families.values()) {
    assert.match(family.name, /^kafscale_/, `family ${family.name} is kafscale_-prefixed`);
    assert.notEqual(family.help, null, `${family.name} has HELP`);
    assert.notEqual(family.type, 'untyped', `${family.name} has a TYPE`);
  }
  for (const sample of samplesNamed(families, 'kafscale_requests_total')) {
    assert.equal(sample.labels['broker_id'], '0', 'the broker_id default label is on every series');
  }
});

test('kafscale_requests_total counts requests by api_key', () => {
  assert.equal(families.get('kafscale_requests_total')?.type, 'counter');
  // ApiVersions: our probe, kafkajs's connections and startBroker's readiness probes.
  assert.ok(total('kafscale_requests_total', { api_key: '18' }) >= 3);
  assert.ok(total('kafscale_requests_total', { api_key: '3' }) >= 2, 'Metadata from kafkajs and the open client');
  assert.ok(total('kafscale_requests_total', { api_key: '19' }) >= 1, 'CreateTopics');
  assert.ok(total('kafscale_requests_total', { api_key: '0' }) >= 1, 'Produce');
  if (consumed) assert.ok(total('kafscale_requests_total', { api_key: '1' }) >= 1, 'Fetch');
  for (const sample of samplesNamed(families, 'kafscale_requests_total')) {
    assert.match(sample.labels['api_key'] ?? '', /^\d{1,3}$/);
    assert.ok(Number.isInteger(sample.value) && sample.value < 100_000, `plausible count ${sample.value}`);
  }
});

test('kafscale_request_duration_seconds has one observation per answered request, with plausible times', () => {
  assert.equal(families.get('kafscale_request_duration_seconds')?.type, 'histogram');
  for (const apiKey of ['18', '3', '19', '0', ...(consumed ? ['1'] : [])]) {
    const count = total('kafscale_request_duration_seconds_count', { api_key: apiKey });
    const sum = total('kafscale_request_duration_seconds_sum', { api_key: apiKey });
    const requests = total('kafscale_requests_total', { api_key: apiKey });
    if (apiKey === '1') {
      // kcat exits with its next long-poll Fetch still waiting; a response never written is not observed.
      assert.ok(count >= 1 && count <= requests, `Fetch: ${count} observations for ${requests} requests`);
    } else {
      // Every other request was answered before the scrape, and the scrape is no Kafka request.
      assert.equal(count, requests, `api_key ${apiKey}: observations = requests`);
    }
    assert.ok(sum > 0 && sum / count < 5, `api_key ${apiKey}: mean ${sum / count} s`);
  }
  // ApiVersions is answered from a table: it must sit in the lowest buckets, not near a second.
  const apiVersionsCount = total('kafscale_request_duration_seconds_count', { api_key: '18' });
  assert.ok(total('kafscale_request_duration_seconds_bucket', { api_key: '18', le: '0.1' }) >= apiVersionsCount * 0.9);
  assert.equal(total('kafscale_requests_in_flight'), 0, 'nothing in flight between requests');
});

test('connection and network series reflect the traffic', () => {
  const accepted = total('kafscale_connections_accepted_total');
  const active = total('kafscale_connections_active');
  assert.ok(accepted >= 4, `accepted ${accepted}: probe, kafkajs, the open client, ...`);
  assert.ok(active >= 1 && active <= accepted, `active ${active} of ${accepted}`);
  assert.ok(total('kafscale_connections_closed_total') <= accepted);
  assert.ok(total('kafscale_connections_closed_total', { reason: 'client' }) >= 1, 'the probes closed their connections');
  const received = total('kafscale_network_received_bytes_total');
  const sent = total('kafscale_network_sent_bytes_total');
  assert.ok(received > 100 && sent > 100, `received ${received} B, sent ${sent} B`);
  assert.ok(received > MESSAGES * 'metrics message 0'.length, 'produced payloads were received');
  assert.equal(total('kafscale_frames_rejected_total'), 0);
});

test('process and runtime metrics are plausible', () => {
  const rss = total('kafscale_process_resident_memory_bytes');
  assert.ok(rss > 20 * 1024 * 1024 && rss < 4 * 1024 ** 3, `RSS ${rss}`);
  const cpu = total('kafscale_process_cpu_seconds_total');
  assert.ok(cpu > 0 && cpu < 600, `CPU ${cpu} s`);
  const startedAt = total('kafscale_process_start_time_seconds');
  assert.ok(startedAt > scrapedAtSeconds - 600 && startedAt <= scrapedAtSeconds + 1, `started ${startedAt}`);
  assert.ok(families.has('kafscale_nodejs_eventloop_lag_seconds'));
  assert.ok(total('kafscale_nodejs_heap_size_used_bytes') > 0);
});

test('object-store series count the PUTs behind the produced data', () => {
  const puts = total('kafscale_object_store_requests_total', { operation: 'put', outcome: 'ok' });
  assert.ok(puts >= 1 && puts <= MESSAGES, `${puts} PUTs for ${MESSAGES} messages in one send`);
  assert.equal(total('kafscale_object_store_requests_total', { outcome: 'error' }), 0);
  assert.equal(families.get('kafscale_object_store_request_duration_seconds')?.type, 'histogram');
  assert.ok(total('kafscale_object_store_request_duration_seconds_count', { operation: 'put' }) >= puts);
});

test('flush and metadata-store series count the flushes behind the produced data', () => {
  const flushes = total('kafscale_flushes_total', { outcome: 'ok' });
  const puts = total('kafscale_object_store_requests_total', { operation: 'put', outcome: 'ok' });
  // Two sends (one per topic), each at least one flush; merging may PUT segments too.
  assert.ok(flushes >= 2 && flushes <= puts, `${flushes} flushes, ${puts} PUTs`);
  assert.equal(total('kafscale_flushes_total', { outcome: 'error' }), 0);
  assert.equal(total('kafscale_flush_duration_seconds_count'), flushes, 'one duration per flush');
  assert.ok(total('kafscale_flush_duration_seconds_sum') / flushes < 5, 'plausible flush time');
  assert.equal(total('kafscale_flush_object_bytes_count'), flushes);
  assert.ok(total('kafscale_flush_object_bytes_sum') >= MESSAGES * 'metrics message 0'.length, 'the WAL objects hold the produced values');
  // Every flush commits its log entries in at least one transaction.
  assert.ok(total('kafscale_metadata_store_requests_total', { operation: 'txn', outcome: 'ok' }) >= flushes);
  assert.ok(total('kafscale_metadata_store_requests_total', { operation: 'range', outcome: 'ok' }) >= 1, 'start-up reads');
  assert.equal(total('kafscale_metadata_store_requests_total', { outcome: 'error' }), 0);
  assert.ok(total('kafscale_metadata_store_request_duration_seconds_count', { operation: 'txn' }) >= flushes);
});

test('bytes and records in and out per topic; a deleted topic has no series', () => {
  assert.equal(total('kafscale_topic_records_in_total', { topic }), MESSAGES, 'records counted from batch headers');
  const bytesIn = total('kafscale_topic_bytes_in_total', { topic });
  assert.ok(bytesIn >= MESSAGES * 'metrics message 0'.length && bytesIn < 64 * 1024, `${bytesIn} bytes in`);
  if (consumed) {
    assert.ok(total('kafscale_topic_records_out_total', { topic }) >= MESSAGES, 'kcat read every record');
    assert.ok(total('kafscale_topic_bytes_out_total', { topic }) >= bytesIn);
  }
  for (const name of ['kafscale_topic_bytes_in_total', 'kafscale_topic_records_in_total', 'kafscale_topic_bytes_out_total', 'kafscale_topic_records_out_total']) {
    for (const sample of samplesNamed(families, name)) assert.notEqual(sample.labels['topic'], deletedTopic, `${name} has no series of the deleted topic`);
  }
});

test('kafscale_request_errors_total counts the Kafka error codes returned, by name', () => {
  assert.ok(total('kafscale_request_errors_total', { api_key: '3', error: 'UNKNOWN_TOPIC_OR_PARTITION' }) >= 1, 'Metadata for a missing topic');
  assert.equal(total('kafscale_request_errors_total', { error: 'exception' }), 0, 'no handler threw');
  for (const sample of samplesNamed(families, 'kafscale_request_errors_total')) assert.match(sample.labels['error'] ?? '', /^[A-Z_]+$|^exception$/);
});

test('partitions owned, range cache and consumer groups are read at scrape time', () => {
  assert.equal(total('kafscale_partitions_owned'), 2, 'the live topic has 2 partitions; the deleted one was released');
  const cacheBytes = total('kafscale_cache_bytes');
  assert.ok(cacheBytes >= 0 && cacheBytes < 1024 ** 3);
  assert.ok(families.has('kafscale_cache_hits_total') && families.has('kafscale_cache_misses_total'));
  const ratio = total('kafscale_cache_hit_ratio');
  assert.ok(Number.isNaN(ratio) || (ratio >= 0 && ratio <= 1), `hit ratio ${ratio}`);
  // The standalone commit created an Empty group with offsets.
  assert.ok(total('kafscale_consumer_groups', { state: 'Empty' }) >= 1);
  assert.equal(total('kafscale_consumer_groups', { state: 'Stable' }), 0);
  assert.ok(highWatermark0 >= COMMITTED, `high watermark of partition 0: ${highWatermark0}`);
  assert.equal(total('kafscale_consumer_group_lag', { group: groupId, topic, partition: '0' }), Number(highWatermark0 - COMMITTED));
  assert.equal(samplesNamed(families, 'kafscale_consumer_group_lag').length, 1, 'only committed partitions have a lag series');
});

test('/healthz answers 200 while the process is alive', async () => {
  const response = await ops('/healthz');
  assert.equal(response.status, 200);
  assert.equal((await response.text()).trim(), 'ok');
});

test('/readyz answers 200 with a JSON body when every probe passes', async () => {
  const response = await ops('/readyz');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await response.json(), { ready: true, failures: {} });
});

test('an unknown ops path is 404 and names the real ones', async () => {
  const response = await ops('/nope');
  assert.equal(response.status, 404);
  assert.match(await response.text(), /\/metrics/);
});
