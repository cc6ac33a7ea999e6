/**
 * kcat (Debian package, librdkafka) metadata listing against a real broker: `kcat -L -J`.
 *
 * Expected to pass: the broker list (id, advertised host:port), every topic with its partitions and
 * leader, a single-topic query (`-t`). librdkafka negotiates ApiVersions first and then uses
 * Metadata at the highest version both sides know.
 * Known to fail: none known. Skips when the kcat binary is missing (npm test installs it as root).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createKafkajsTopic } from '../../helpers/create-kafkajs-topic.ts';

const run = promisify(execFile);
const kcatMissing = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'kcat is not installed (apt-get install kcat)';

interface KcatMetadata {
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; leader: number; error?: string }> }>;
}

let broker: BrokerProcess;
const topic = `kcat-${randomUUID().slice(0, 8)}`;

before(async () => {
  if (kcatMissing !== false) return;
  broker = await startBroker();
  await createKafkajsTopic(broker.bootstrap, topic, 2);
});

after(async () => {
  await broker?.stop();
});

async function kcatList(...extra: string[]): Promise<KcatMetadata> {
  // -m bounds the metadata wait; the outer timeout bounds the process.
  const { stdout } = await run('kcat', ['-b', broker.bootstrap, '-L', '-J', '-m', '10', ...extra], { timeout: 20_000 });
  return JSON.parse(stdout) as KcatMetadata;
}

test('kcat -L -J lists the broker and the topics', { skip: kcatMissing }, async () => {
  const metadata = await kcatList();
  assert.equal(metadata.brokers.length, 1);
  assert.equal(metadata.brokers[0]?.name, `${broker.host}:${broker.port}`);
  const listed = metadata.topics.find((entry) => entry.topic === topic);
  assert.ok(listed, `topic ${topic} is listed: ${JSON.stringify(metadata.topics.map((t) => t.topic))}`);
  assert.equal(listed.error, undefined);
  assert.deepEqual(listed.partitions.map((p) => p.partition).sort(), [0, 1]);
  for (const partition of listed.partitions) assert.equal(partition.leader, metadata.brokers[0]?.id);
});

test('kcat -L -J -t <topic> describes one topic', { skip: kcatMissing }, async () => {
  const metadata = await kcatList('-t', topic);
  assert.deepEqual(metadata.topics.map((entry) => entry.topic), [topic]);
  assert.equal(metadata.topics[0]?.partitions.length, 2);
});
