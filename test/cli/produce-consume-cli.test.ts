/**
 * `kafscale produce` and `kafscale consume` against a real broker process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionForKey } from '../../src/cli/murmur2.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { against, ok } from './cli-runner.ts';

let broker: BrokerProcess;
let cli: ReturnType<typeof against>;
const scratch = mkdtempSync(join(tmpdir(), 'kafscale-cli-test-'));

before(async () => {
  // A CLI run joins an empty group each time; Kafka's 3 s initial rebalance delay would only slow the tests.
  broker = await startBroker({ logLevel: 'warn', env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' } });
  cli = against(broker.bootstrap);
});
after(async () => {
  await broker?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface ConsumedRecord { topic: string; partition: number; offset: number; timestamp: number; key: string | null; value: string | null; headers: Record<string, string | null> }

function jsonLines(text: string): ConsumedRecord[] {
  return text.trim() === '' ? [] : text.trim().split('\n').map((line) => JSON.parse(line) as ConsumedRecord);
}

describe('produce and consume', () => {
  test('keyed lines land where Kafka\'s partitioner puts them and read back in order, with headers', async () => {
    ok(await cli(['topics', 'create', 'cli-keyed', '--partitions', '3']));
    const lines = Array.from({ length: 30 }, (_, i) => `user-${i % 7}:event ${i}`);
    const produced = JSON.parse(ok(await cli(['produce', 'cli-keyed', '--key-separator', ':', '--header', 'source=cli', '--json'], { input: lines.join('\n') + '\n' })).stdout) as {
      topic: string; records: number; partitions: { partition: number; records: number; firstOffset: number; lastOffset: number }[];
    };
    assert.equal(produced.records, 30);
    assert.equal(produced.partitions.reduce((n, p) => n + p.records, 0), 30);

    const consumed = jsonLines(ok(await cli(['consume', 'cli-keyed', '--from-beginning', '--count', '30', '--format', 'json'])).stdout);
    assert.equal(consumed.length, 30);
    for (const record of consumed) {
      assert.equal(record.partition, partitionForKey(Buffer.from(record.key!), 3), `key ${record.key}`);
      assert.deepEqual(record.headers, { source: 'cli' });
    }
    for (let partition = 0; partition < 3; partition++) {
      const mine = consumed.filter((r) => r.partition === partition);
      assert.deepEqual(mine.map((r) => r.offset), mine.map((_, i) => i), 'offsets are dense from 0');
      const expected = lines.filter((line) => partitionForKey(Buffer.from(line.split(':')[0]!), 3) === partition).map((line) => line.split(':')[1]);
      assert.deepEqual(mine.map((r) => r.value), expected, 'per-partition order is the input order');
    }

    const busiest = [0, 1, 2].sort((a, b) => consumed.filter((r) => r.partition === b).length - consumed.filter((r) => r.partition === a).length)[0]!;
    const text = ok(await cli(['consume', 'cli-keyed', '--from-beginning', '--partition', String(busiest), '--count', '2', '--print-key', '--key-separator', '=', '--idle-timeout', '5000']));
    const first = consumed.filter((r) => r.partition === busiest).slice(0, 2).map((r) => `${r.key}=${r.value}`);
    assert.equal(text.stdout, first.join('\n') + '\n');
    assert.equal(text.stderr, 'Processed 2 records\n');
  });

  test('--partition, --offset, --timestamp, latest by default, --idle-timeout; --file input; acks=0', async () => {
    ok(await cli(['topics', 'create', 'cli-positions', '--partitions', '2']));
    const file = join(scratch, 'lines.txt');
    writeFileSync(file, 'zero\none\ntwo\nthree\n');
    assert.match(ok(await cli(['produce', 'cli-positions', '--file', file, '--partition', '1'])).stdout,
      /^Produced 4 records to cli-positions \(partition@offsets: 1@0-3\)\n$/);

    assert.equal(ok(await cli(['consume', 'cli-positions', '--partition', '1', '--offset', '2', '--count', '2'])).stdout, 'two\nthree\n');
    assert.equal(ok(await cli(['consume', 'cli-positions', '--timestamp', '0', '--count', '1'])).stdout, 'zero\n');
    const future = String(Date.now() + 3_600_000);
    assert.equal(ok(await cli(['consume', 'cli-positions', '--timestamp', future, '--idle-timeout', '1000'])).stdout, '');
    assert.equal(ok(await cli(['consume', 'cli-positions', '--idle-timeout', '1000'])).stdout, '', 'latest by default: old records are not printed');

    ok(await cli(['produce', 'cli-positions', '--partition', '0', '--acks', '0'], { input: 'fire\nforget\n' }));
    const fired = ok(await cli(['consume', 'cli-positions', '--partition', '0', '--from-beginning', '--count', '2', '--idle-timeout', '10000']));
    assert.equal(fired.stdout, 'fire\nforget\n');

    const described = JSON.parse(ok(await cli(['topics', 'describe', 'cli-positions', '--json'])).stdout) as { partitions: { partition: number; startOffset: number; endOffset: number }[] }[];
    assert.deepEqual(described[0]!.partitions.map((p) => [p.partition, p.startOffset, p.endOffset]), [[0, 0, 2], [1, 0, 4]]);
  });

  test('errors: unknown topic, unknown partition, missing key separator, unreadable file', async () => {
    const unknown = await cli(['produce', 'cli-nope'], { input: 'x\n' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^kafscale: topic 'cli-nope': UNKNOWN_TOPIC_OR_PARTITION/);
    ok(await cli(['topics', 'create', 'cli-errors']));
    const badPartition = await cli(['consume', 'cli-errors', '--partition', '9', '--count', '1']);
    assert.equal(badPartition.code, 1);
    assert.match(badPartition.stderr, /^kafscale: topic 'cli-errors' partition 9: UNKNOWN_TOPIC_OR_PARTITION/);
    const noSeparator = await cli(['produce', 'cli-errors', '--key-separator', ':'], { input: 'a:1\nno separator\n' });
    assert.equal(noSeparator.code, 1);
    assert.match(noSeparator.stderr, /^kafscale: line 2 has no key separator ':'\nhint: /);
    const noFile = await cli(['produce', 'cli-errors', '--file', join(scratch, 'absent.txt')]);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /^kafscale: cannot read .*absent\.txt: ENOENT\n/);
    const conflicting = await cli(['consume', 'cli-errors', '--from-beginning', '--offset', '3']);
    assert.equal(conflicting.code, 2);
  });

  test('consume --group resumes from the committed offsets', async () => {
    ok(await cli(['topics', 'create', 'cli-grouped', '--partitions', '2']));
    ok(await cli(['produce', 'cli-grouped', '--partition', '0'], { input: 'a\nb\nc\nd\n' }));
    assert.equal(ok(await cli(['consume', 'cli-grouped', '--group', 'cli-g1', '--from-beginning', '--count', '2'])).stdout, 'a\nb\n');
    assert.equal(ok(await cli(['consume', 'cli-grouped', '--group', 'cli-g1', '--count', '2'])).stdout, 'c\nd\n');
    assert.equal(ok(await cli(['consume', 'cli-grouped', '--group', 'cli-g1', '--idle-timeout', '1500'])).stdout, '');
  });
});
