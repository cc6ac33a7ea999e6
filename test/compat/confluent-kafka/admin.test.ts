/**
 * confluent_kafka 1.7 (librdkafka 2.0, Debian python3-confluent-kafka) AdminClient against a real broker;
 * admin.py does the client calls and prints what it saw as JSON, this file asserts on it.
 * Expected to pass: create_topics, list_topics, create of an existing topic fails with TOPIC_ALREADY_EXISTS.
 * Known to fail: none known. Skips when confluent_kafka is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const PYTHON = '/usr/bin/python3';
const confluentMissing = spawnSync(PYTHON, ['-c', 'import confluent_kafka'], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import confluent_kafka (apt-get install python3-confluent-kafka)`;

let broker: BrokerProcess | undefined;

before(async () => {
  if (confluentMissing === false) broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

test('confluent_kafka AdminClient: create and list topics', { skip: confluentMissing }, async () => {
  assert.ok(broker !== undefined);
  const prefix = `py-${randomUUID().slice(0, 8)}`;
  const script = fileURLToPath(new URL('admin.py', import.meta.url));
  const { stdout } = await promisify(execFile)(PYTHON, [script, broker.bootstrap, prefix], { timeout: 50_000 });
  const result = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  const topic = `${prefix}-confluent`;
  assert.equal(result['create'], 'ok');
  assert.deepEqual(result['brokers'], [{ id: (result['brokers'] as Array<{ id: number }>)[0]?.id, host: broker.host, port: broker.port }]);
  assert.equal((result['topics'] as Record<string, number>)[topic], 3);
  assert.equal(result['create_again'], 'TOPIC_ALREADY_EXISTS');
});
