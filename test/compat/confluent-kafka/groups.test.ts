/**
 * librdkafka (confluent_kafka 1.7 / librdkafka 2.0, Debian python3-confluent-kafka) consumer groups
 * against a real broker: cooperative-sticky rebalancing with a member leaving, and static membership (a
 * restarted instance gets its partitions back without the others being revoked). groups.py runs the
 * clients and prints what it saw as JSON. kafka-python's groups are in test/compat/kafka-python/.
 * Known to fail: none known. Skips when confluent_kafka is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'groups.py');
const missing = (module: string): string | false =>
  spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import ${module}`;

let broker: BrokerProcess;
const confluentMissing = missing('confluent_kafka');

before(async () => {
  if (confluentMissing !== false) return;
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'warn' });
});

after(async () => {
  await broker?.stop();
});

async function scenario(name: string): Promise<Record<string, unknown>> {
  const topic = `py-g-${randomUUID().slice(0, 8)}`;
  const wire = await WireClient.connect(broker.host, broker.port);
  await wire.send(19, 5, { topics: [{ name: topic, numPartitions: 6, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  wire.close();
  const { stdout } = await run(PYTHON, [SCRIPT, name, broker.bootstrap, topic, `grp-${randomUUID().slice(0, 8)}`], { timeout: 90_000 });
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

test('librdkafka cooperative-sticky: 3 members, 2 partitions each, once-only consumption, hand-over on leave', { skip: confluentMissing, timeout: 120_000 }, async () => {
  const r = await scenario('confluent-cooperative');
  assert.equal(r.okAssign, true, JSON.stringify(r));
  assert.deepEqual(r.first, { ...(r.first as object), consumed: 60, distinct: 60 });
  assert.equal(r.okHandover, true, JSON.stringify(r));
  assert.equal(r.total, 90, JSON.stringify(r));
  assert.equal(r.distinct, 90);
});

test('librdkafka static membership: a restarted instance gets its partitions back, the other keeps its own', { skip: confluentMissing, timeout: 120_000 }, async () => {
  const r = await scenario('confluent-static');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.okRejoin, true, JSON.stringify(r));
  assert.equal(r.bRevokesDuringRestart, 0, `no rebalance on a static member's rejoin: ${JSON.stringify(r)}`);
});

