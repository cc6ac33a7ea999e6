/**
 * kafka-python from Debian (run with /usr/bin/python3) against a real broker; admin.py does the client
 * calls and prints what it saw as JSON, this file asserts on it.
 *
 * kafka-python 2.0.2 KafkaAdminClient — expected to pass: create_topics with topic_configs,
 * list_topics, describe_topics, describe_configs, alter_configs, create_partitions (increase; a decrease
 * raises InvalidPartitionsError), describe_cluster, delete_topics. It probes the broker version from
 * ApiVersions and then uses its own highest versions (CreateTopics v3, DescribeConfigs v2, ...).
 * confluent_kafka's AdminClient is tested in test/compat/confluent-kafka/admin.test.ts.
 * Known to fail: none known. Skips when kafka-python is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'admin.py');

function missingModule(module: string, debianPackage: string): string | false {
  const probe = spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
  return probe.status === 0 ? false : `${PYTHON} cannot import ${module} (apt-get install ${debianPackage})`;
}
const kafkaPythonMissing = missingModule('kafka', 'python3-kafka');

let broker: BrokerProcess | undefined;

before(async () => {
  if (kafkaPythonMissing !== false) return;
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

async function runScript(): Promise<Record<string, unknown>> {
  if (broker === undefined) throw new Error('broker not started');
  const prefix = `py-${randomUUID().slice(0, 8)}`;
  const { stdout } = await run(PYTHON, [SCRIPT, broker.bootstrap, prefix], { timeout: 50_000 });
  const lastLine = stdout.trimEnd().split('\n').at(-1) ?? '';
  const result = JSON.parse(lastLine) as Record<string, unknown>;
  return { ...result, prefix };
}

test('kafka-python KafkaAdminClient: topics, configs, partitions, cluster', { skip: kafkaPythonMissing }, async () => {
  const result = await runScript();
  const topic = `${String(result['prefix'])}-main`;
  assert.deepEqual(result['create'], [[topic, 0]]);
  assert.ok((result['list'] as string[]).includes(topic));
  assert.deepEqual(result['describe_topics'], [{ topic, error_code: 0, partitions: [0, 1] }]);
  assert.equal((result['describe_configs'] as Record<string, string>)['retention.ms'], '86400000');
  assert.equal((result['after_alter'] as Record<string, string>)['retention.ms'], '3600000');
  assert.deepEqual(result['increase'], [[topic, 0]]);
  assert.equal(result['decrease'], 'InvalidPartitionsError');
  assert.deepEqual(result['partitions_after'], [0, 1, 2, 3]);
  const cluster = result['cluster'] as { brokers: Array<{ node_id: number; host: string; port: number }>; controller_id: number };
  assert.deepEqual(
    cluster.brokers.map((b) => [b.host, b.port]),
    [[broker?.host, broker?.port]],
  );
  assert.equal(cluster.controller_id, cluster.brokers[0]?.node_id);
  assert.deepEqual(result['delete'], [[topic, 0]]);
  assert.equal(result['list_after_delete'], false);
});
