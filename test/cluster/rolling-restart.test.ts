/**
 * Rolling restart: each of three brokers in turn gets SIGTERM (graceful: drain, release ownership,
 * revoke the session), is started again, and the next one follows once every partition has a live
 * leader again. kafkajs and confluent-kafka produce with acks=all and their default retry settings
 * throughout: no produce error may surface to either client, and every acknowledged record is stored
 * once at its acknowledged offset. (confluent-producer.py bounds message.timeout.ms at 30 s so the test
 * ends in time; retries stay at librdkafka's default.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useClusterWithTopic } from '../helpers/cluster.ts';
import { verifyAcknowledged } from '../fault/crash-produce-run.ts';
import { ClusterProducer } from './cluster-producer.ts';
import { KafkajsLaneProducer, runConfluentProducer } from './real-clients.ts';

const SESSION_TTL_MS = 2_000;
const PARTITIONS = 6;
const SETTLE_MS = 2_000;

const fixture = useClusterWithTopic({ topicPrefix: 'rolling', partitions: PARTITIONS, sessionTtlMs: SESSION_TTL_MS });
const { topic, stops } = fixture;


test('rolling SIGTERM restart of all brokers: no produce error reaches kafkajs or confluent-kafka', { timeout: 85_000 }, async () => {
  const { cluster } = fixture;
  const kjs = new KafkajsLaneProducer({ brokers: cluster.brokers.map((b) => b.bootstrap), topic, partitions: PARTITIONS, prefix: 'kafkajs', idempotent: false, pauseMs: 30 });
  stops.push(() => kjs.stop());
  const wire = new ClusterProducer({ cluster, topic, partitions: PARTITIONS, recordsPerBatch: 1, valuePrefix: 'wire', requestTimeoutMs: 4_000, pauseMs: 30 });
  stops.push(() => wire.stop());
  await kjs.start();
  wire.start();
  const confluent = runConfluentProducer({ bootstrap: cluster.bootstrap, topic, partitions: PARTITIONS, prefix: 'confluent', seconds: 30, idempotent: false });
  stops.push(() => confluent.kill());
  await sleep(SETTLE_MS);

  const startMs = Date.now();
  const steps: string[] = [];
  for (const [id, broker] of cluster.brokers.entries()) {
    const stepMs = Date.now();
    await broker.restart();
    await cluster.waitForLeaders(topic, PARTITIONS, 20_000);
    steps.push(`broker ${id} restarted and all partitions led after ${Date.now() - stepMs} ms`);
    await sleep(SETTLE_MS);
  }
  const endMs = Date.now();
  await sleep(SETTLE_MS);
  await kjs.stop();
  await wire.stop();
  const outcome = await confluent.result;

  const wireErrors = wire.between(startMs, Date.now()).filter((a) => a.outcome !== 0);
  console.log(
    `rolling-restart: ${steps.join('; ')} (${endMs - startMs} ms)\n` +
      `  kafkajs: ${kjs.acks.length} acks, errors ${JSON.stringify(kjs.errors.slice(0, 3))}\n` +
      `  confluent: sent ${outcome.sent}, acks ${outcome.acks.length}, failures ${JSON.stringify(outcome.failures.slice(0, 3))}, remaining ${outcome.remaining}\n` +
      `  wire (no retries): ${wire.acks().length} acks, outcomes seen by a client without retries ${JSON.stringify([...new Set(wireErrors.map((a) => a.outcome))])}, ` +
      `longest gap ${JSON.stringify([...wire.longestGapMs(startMs, endMs)])}`,
  );
  assert.deepEqual(kjs.errors, [], 'kafkajs (default retries) saw no produce error');
  assert.equal(outcome.exitCode, 0, outcome.stderr.slice(-2_000));
  assert.deepEqual(outcome.failures, [], 'confluent-kafka (default retries) saw no delivery failure');
  assert.equal(outcome.remaining, 0, 'confluent-kafka delivered everything it was given');
  assert.ok(kjs.acks.length > 0 && outcome.acks.length > 0);

  const reader = cluster.brokers[0];
  assert.ok(reader);
  await verifyAcknowledged(reader, topic, PARTITIONS, [...kjs.acks, ...outcome.acks, ...wire.acks()]);
  const final = await cluster.metadata(topic);
  assert.deepEqual(final.brokerIds, [0, 1, 2], 'every broker is back');
});
