/**
 * `kafscale topics ...` and `kafscale cluster` against a real broker process: table and JSON output,
 * exit codes, and the one-line errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { freePort } from '../helpers/free-port.ts';
import { against, kafscale, ok } from './cli-runner.ts';

let broker: BrokerProcess;
let cli: ReturnType<typeof against>;

before(async () => {
  broker = await startBroker({ logLevel: 'warn' });
  cli = against(broker.bootstrap);
});
after(async () => {
  await broker?.stop();
});

function tableRows(text: string): string[][] {
  return text.trim().split('\n').map((line) => line.trim().split(/\s{2,}/));
}

describe('topics', () => {
  test('create, list (table and JSON), describe, alter, delete', async () => {
    assert.match(ok(await cli(['topics', 'create', 'cli-orders', '--partitions', '3', '--config', 'retention.ms=60000'])).stdout,
      /^Created topic cli-orders with 3 partitions\n$/);

    const table = tableRows(ok(await cli(['topics', 'list'])).stdout);
    assert.deepEqual(table[0], ['TOPIC', 'PARTITIONS', 'TOPIC ID']);
    const row = table.find((r) => r[0] === 'cli-orders');
    assert.ok(row !== undefined, 'cli-orders is listed');
    assert.equal(row[1], '3');
    assert.match(row[2] ?? '', /^[0-9a-f-]{36}$/);

    const listed = JSON.parse(ok(await cli(['topics', 'list', '--json'])).stdout) as { name: string; partitions: number; topicId: string }[];
    const entry = listed.find((t) => t.name === 'cli-orders');
    assert.deepEqual(entry, { name: 'cli-orders', partitions: 3, topicId: row[2], internal: false });

    const described = JSON.parse(ok(await cli(['topics', 'describe', 'cli-orders', '--json'])).stdout) as {
      name: string; partitions: { partition: number; leader: number; leaderEpoch: number }[]; configs: { name: string; value: string; source: string }[];
    }[];
    assert.equal(described.length, 1);
    assert.deepEqual(described[0]!.partitions.map((p) => p.partition), [0, 1, 2]);
    for (const p of described[0]!.partitions) assert.ok(p.leader >= 0 && p.leaderEpoch >= 0, 'every partition has a leader');
    assert.deepEqual(described[0]!.configs.find((c) => c.name === 'retention.ms'), {
      name: 'retention.ms', value: '60000', source: 'dynamic-topic', sensitive: false, readOnly: false,
    });

    const human = ok(await cli(['topics', 'describe', 'cli-orders'])).stdout;
    assert.match(human, /^Topic: cli-orders {2}TopicId: [0-9a-f-]{36} {2}Partitions: 3\n/);
    assert.match(human, /PARTITION {2}LEADER {2}EPOCH/);
    assert.match(human, /retention\.ms {2}60000 {2}dynamic-topic/);

    assert.equal(ok(await cli(['topics', 'alter', 'cli-orders', '--partitions', '5', '--config', 'retention.ms=120000'])).stdout,
      'Altered topic cli-orders: partitions=5, retention.ms=120000\n');
    const altered = JSON.parse(ok(await cli(['--json', 'topics', 'describe', 'cli-orders'])).stdout) as typeof described;
    assert.equal(altered[0]!.partitions.length, 5);
    assert.equal(altered[0]!.configs.find((c) => c.name === 'retention.ms')?.value, '120000');

    ok(await cli(['topics', 'alter', 'cli-orders', '--delete-config', 'retention.ms']));
    const reset = JSON.parse(ok(await cli(['topics', 'describe', 'cli-orders', '--json'])).stdout) as typeof described;
    assert.equal(reset[0]!.configs.find((c) => c.name === 'retention.ms'), undefined, 'a deleted setting is back to its default');

    assert.deepEqual(JSON.parse(ok(await cli(['topics', 'delete', 'cli-orders', '--json'])).stdout), { deleted: ['cli-orders'], failed: [] });
    const afterDelete = JSON.parse(ok(await cli(['topics', 'list', '--json'])).stdout) as { name: string }[];
    assert.equal(afterDelete.some((t) => t.name === 'cli-orders'), false);
  });

  test('create --if-not-exists succeeds on an existing topic; without it the error names the topic', async () => {
    ok(await cli(['topics', 'create', 'cli-twice']));
    const again = await cli(['topics', 'create', 'cli-twice']);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^kafscale: topic 'cli-twice': TOPIC_ALREADY_EXISTS: .*\nhint: .+\n$/);
    assert.equal(ok(await cli(['topics', 'create', 'cli-twice', '--if-not-exists'])).stdout, 'Topic cli-twice already exists\n');
  });

  test('an unknown topic is exit 1 with one line and a hint, in text and JSON', async () => {
    const text = await cli(['topics', 'describe', 'cli-no-such-topic']);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /^kafscale: topic 'cli-no-such-topic': UNKNOWN_TOPIC_OR_PARTITION: .*\nhint: check the name with 'kafscale topics list'\n$/);

    const json = await cli(['topics', 'delete', 'cli-no-such-topic', '--json']);
    assert.equal(json.code, 1);
    const error = JSON.parse(json.stderr) as { error: string; hint: string; kafkaError: string; exitCode: number };
    assert.equal(error.kafkaError, 'UNKNOWN_TOPIC_OR_PARTITION');
    assert.equal(error.exitCode, 1);
    assert.match(error.error, /cli-no-such-topic/);
  });

  test('invalid partition counts are refused by the broker or as usage errors', async () => {
    const zero = await cli(['topics', 'create', 'cli-bad', '--partitions', '0']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /--partitions must be an integer >= 1/);
    ok(await cli(['topics', 'create', 'cli-shrink', '--partitions', '2']));
    const shrink = await cli(['topics', 'alter', 'cli-shrink', '--partitions', '1']);
    assert.equal(shrink.code, 1);
    assert.match(shrink.stderr, /^kafscale: topic 'cli-shrink': INVALID_PARTITIONS/);
  });
});

describe('cluster', () => {
  test('lists the broker and the leader and epoch of every partition', async () => {
    ok(await cli(['topics', 'create', 'cli-cluster', '--partitions', '2']));
    const json = JSON.parse(ok(await cli(['cluster', '--json'])).stdout) as {
      clusterId: string; brokers: { id: number; host: string; port: number; partitionsLed: number }[];
      partitions: { topic: string; partition: number; leader: number; leaderEpoch: number }[];
    };
    assert.equal(typeof json.clusterId, 'string');
    assert.equal(json.brokers.length, 1);
    assert.equal(json.brokers[0]!.host, broker.host);
    assert.equal(json.brokers[0]!.port, broker.port);
    const mine = json.partitions.filter((p) => p.topic === 'cli-cluster');
    assert.deepEqual(mine.map((p) => p.partition), [0, 1]);
    for (const p of mine) assert.equal(p.leader, json.brokers[0]!.id);
    assert.equal(json.brokers[0]!.partitionsLed, json.partitions.length);

    const text = ok(await cli(['cluster'])).stdout;
    assert.match(text, new RegExp(`^Cluster: ${json.clusterId} {2}Controller: -?\\d+ {2}Brokers: 1\\n`));
    assert.match(text, new RegExp(`BROKER {2}HOST +PORT {2}RACK {2}PARTITIONS LED\\n +${json.brokers[0]!.id} {2}${broker.host} {2}${broker.port}`));
    assert.match(text, /cli-cluster +1 +\d+ +\d+\n/);
  });
});

describe('errors and usage', () => {
  test('cannot connect: exit 3, one line naming the address, a hint', async () => {
    const port = await freePort('127.0.0.1');
    const result = await kafscale(['topics', 'list', '--bootstrap', `127.0.0.1:${port}`]);
    assert.equal(result.code, 3);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^kafscale: cannot connect to a broker at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\nhint: .*--bootstrap.*\\n$`));
  });

  test('KAFSCALE_BOOTSTRAP is the default bootstrap', async () => {
    const result = await kafscale(['topics', 'list', '--json'], { env: { KAFSCALE_BOOTSTRAP: broker.bootstrap } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Array.isArray(JSON.parse(result.stdout)));
  });

  test('usage errors are exit 2 with a hint naming the command', async () => {
    const missing = await kafscale(['topics', 'create']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "kafscale: missing required argument 'topic'\nhint: run 'kafscale topics create --help'\n");
    const unknown = await kafscale(['topics', 'lst']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'lst'/);
    const badOption = await kafscale(['cluster', '--nope']);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /unknown option '--nope'\nhint: run 'kafscale cluster --help'\n$/);
    const badAddress = await kafscale(['topics', 'list', '--bootstrap', 'no-port']);
    assert.equal(badAddress.code, 2);
    assert.match(badAddress.stderr, /^kafscale: bad broker address 'no-port'\n/);
    const nothing = await cli(['topics', 'alter', 'x']);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to alter/);
  });

  test('--help works everywhere and exits 0; broker --help still lists the settings', async () => {
    const top = ok(await kafscale(['--help']));
    for (const command of ['broker', 'topics', 'cluster']) assert.match(top.stdout, new RegExp(`\\n  ${command}\\b`));
    assert.match(ok(await kafscale(['topics', 'create', '--help'])).stdout, /--partitions <n>/);
    assert.match(ok(await kafscale(['broker', '--help'])).stdout, /^usage: kafscale broker \[settings\]\n\nSettings/);
    const bare = await kafscale([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /Usage: kafscale <command>/);
  });
});
