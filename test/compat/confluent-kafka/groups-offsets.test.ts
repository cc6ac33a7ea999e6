/**
 * Python clients' group offsets against a real broker (the parts of the consumer-group acceptance the
 * other group files cover only with kafkajs): a new group with auto.offset.reset=latest (confluent_kafka
 * and kafka-python) consumes only what is produced after it joined; confluent_kafka's committed offsets
 * survive a consumer restart and a broker restart; and a librdkafka member killed with SIGKILL (no
 * LeaveGroup) has its partitions handed to the survivor within the session timeout.
 * groups-offsets.py runs the clients and prints what it saw as JSON.
 * Known to fail: none known. Skips when a Python module is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'groups-offsets.py');
const SESSION_TIMEOUT_MS = 6_000;
const missing = (module: string): string | false =>
  spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0 ? false : `${PYTHON} cannot import ${module}`;
const confluentMissing = missing('confluent_kafka');
const kafkaPythonMissing = confluentMissing || missing('kafka');

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' }, logLevel: 'warn' });
});

after(async () => {
  await broker?.stop();
});

async function createTopic(): Promise<string> {
  const topic = `py-go-${randomUUID().slice(0, 8)}`;
  const wire = await WireClient.connect(broker.host, broker.port);
  try {
    const created = await wire.send(19, 5, { topics: [{ name: topic, numPartitions: 6, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(created.topics[0]?.errorCode, 0);
  } finally {
    wire.close();
  }
  return topic;
}

async function scenario(name: string, topic: string, group: string, ...extra: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, [SCRIPT, name, broker.bootstrap, topic, group, ...extra], { timeout: 60_000 });
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

const newGroup = (): string => `grp-${randomUUID().slice(0, 8)}`;
const NEW_ONLY = ['v12', 'v13', 'v14', 'v15', 'v16', 'v17'];

test('confluent_kafka: a new group with auto.offset.reset=latest consumes only later messages', { skip: confluentMissing, timeout: 60_000 }, async () => {
  const r = await scenario('confluent-latest', await createTopic(), newGroup());
  assert.equal(r.resolved, true, JSON.stringify(r));
  assert.deepEqual(r.positions, [2, 2, 2, 2, 2, 2], 'latest = the log end of each partition (12 messages on 6)');
  assert.deepEqual(r.seen, NEW_ONLY);
});

test('kafka-python: a new group with auto_offset_reset=latest consumes only later messages', { skip: kafkaPythonMissing, timeout: 60_000 }, async () => {
  const r = await scenario('kafka-python-latest', await createTopic(), newGroup());
  assert.equal(r.resolved, true, JSON.stringify(r));
  assert.deepEqual(r.positions, [2, 2, 2, 2, 2, 2], 'latest = the log end of each partition (12 messages on 6)');
  assert.deepEqual(r.seen, NEW_ONLY);
});

test('confluent_kafka: committed offsets survive a consumer restart and a broker restart', { skip: confluentMissing, timeout: 90_000 }, async () => {
  const topic = await createTopic();
  const group = newGroup();
  const names = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `v${from + i}`);
  const first = await scenario('confluent-resume', topic, group, '0', '12');
  assert.deepEqual(first.seen, names(0, 12));
  assert.deepEqual(first.committed, [0, 1, 2, 3, 4, 5].map((p) => [p, 2]), 'committed to the log end');
  // A new consumer process in the same group resumes after the committed offsets.
  const second = await scenario('confluent-resume', topic, group, '12', '6');
  assert.deepEqual(second.seen, names(12, 6), 'a restarted consumer reads only what came after its commit');
  await broker.restart();
  const third = await scenario('confluent-resume', topic, group, '18', '6');
  assert.deepEqual(third.seen, names(18, 6), 'after a broker restart the group resumes from its committed offsets');
  assert.deepEqual(third.committed, [0, 1, 2, 3, 4, 5].map((p) => [p, 4]));
});

interface PyMember {
  readonly child: ChildProcess;
  assigned(): number[];
}

function pyMember(topic: string, group: string, children: ChildProcess[]): PyMember {
  const child = spawn(PYTHON, [SCRIPT, 'confluent-member', broker.bootstrap, topic, group], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let assigned: number[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { assigned?: number[] };
      if (parsed.assigned !== undefined) assigned = parsed.assigned;
    }
  });
  return { child, assigned: () => assigned };
}

test('confluent_kafka: a SIGKILLed member’s partitions go to the survivor within the session timeout', { skip: confluentMissing, timeout: 60_000 }, async (t) => {
  const topic = await createTopic();
  const group = newGroup();
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const a = pyMember(topic, group, children);
  const b = pyMember(topic, group, children);
  const split = (): boolean => [...a.assigned(), ...b.assigned()].sort((x, y) => x - y).join(',') === '0,1,2,3,4,5' && a.assigned().length === 3;
  await waitFor('the two members split six partitions', split, 30_000);
  const exited = new Promise((resolve) => b.child.once('exit', resolve));
  b.child.kill('SIGKILL');
  await exited;
  // The dead member's session expires after SESSION_TIMEOUT_MS; the survivor learns of the rebalance
  // from its next heartbeat (500 ms) and rejoins. Allow one rebalance round on top.
  const tookMs = await waitFor('the survivor owns all six partitions', () => a.assigned().length === 6, SESSION_TIMEOUT_MS + 6_000);
  t.diagnostic(`hand-over took ${tookMs} ms after the kill`);
  const stopped = new Promise((resolve) => a.child.once('exit', resolve));
  a.child.kill('SIGTERM');
  await stopped;
});
