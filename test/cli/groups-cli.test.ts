/**
 * `kafscale groups ...` against a real broker process, with a group made by `kafscale consume --group`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { against, ok } from './cli-runner.ts';

let broker: BrokerProcess;
let cli: ReturnType<typeof against>;

before(async () => {
  // A CLI run joins an empty group each time; Kafka's 3 s initial rebalance delay would only slow the tests.
  broker = await startBroker({ logLevel: 'warn', env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' } });
  cli = against(broker.bootstrap);
});
after(async () => {
  await broker?.stop();
});

interface Described {
  groupId: string; state: string; members: unknown[];
  offsets: { topic: string; partition: number; committed: number | null; end: number | null; lag: number | null }[];
}

describe('groups', () => {
  test('list, describe (lag), reset-offsets (dry run, then --execute), delete', async () => {
    ok(await cli(['topics', 'create', 'cli-lag', '--partitions', '1']));
    ok(await cli(['produce', 'cli-lag'], { input: 'a\nb\nc\nd\n' }));
    assert.equal(ok(await cli(['consume', 'cli-lag', '--group', 'cli-group', '--from-beginning', '--count', '3'])).stdout, 'a\nb\nc\n');

    const listed = JSON.parse(ok(await cli(['groups', 'list', '--json'])).stdout) as { groupId: string; state: string | null; protocolType: string }[];
    const mine = listed.find((g) => g.groupId === 'cli-group');
    assert.ok(mine !== undefined, 'the group is listed');
    assert.equal(mine.protocolType, 'consumer');
    assert.match(ok(await cli(['groups', 'list'])).stdout, /^GROUP +STATE +TYPE\n(.*\n)*cli-group +\S+ +consumer\n/);

    const described = JSON.parse(ok(await cli(['groups', 'describe', 'cli-group', '--json'])).stdout) as Described;
    assert.equal(described.state, 'Empty', 'the consumer left the group');
    assert.deepEqual(described.offsets, [{ topic: 'cli-lag', partition: 0, committed: 3, end: 4, lag: 1, memberId: null }]);
    const text = ok(await cli(['groups', 'describe', 'cli-group'])).stdout;
    assert.match(text, /^Group: cli-group {2}State: Empty {2}Members: 0/);
    assert.match(text, /TOPIC +PARTITION +COMMITTED +END +LAG +MEMBER\ncli-lag +0 +3 +4 +1 +-\n/);

    const dry = ok(await cli(['groups', 'reset-offsets', 'cli-group', '--topic', 'cli-lag', '--to-earliest']));
    assert.match(dry.stdout, /^GROUP +TOPIC +PARTITION +CURRENT +NEW\ncli-group +cli-lag +0 +3 +0\n$/);
    assert.match(dry.stderr, /dry run: no offsets were changed; add --execute to apply/);
    const still = JSON.parse(ok(await cli(['groups', 'describe', 'cli-group', '--json'])).stdout) as Described;
    assert.equal(still.offsets[0]!.committed, 3, 'a dry run changes nothing');

    const executed = JSON.parse(ok(await cli(['groups', 'reset-offsets', 'cli-group', '--topic', 'cli-lag', '--to-offset', '1', '--execute', '--json'])).stdout) as {
      executed: boolean; partitions: { partition: number; current: number; new: number }[];
    };
    assert.deepEqual(executed, { groupId: 'cli-group', executed: true, partitions: [{ topic: 'cli-lag', partition: 0, current: 3, new: 1 }] });
    assert.equal(ok(await cli(['consume', 'cli-lag', '--group', 'cli-group', '--count', '3'])).stdout, 'b\nc\nd\n');

    const clamped = JSON.parse(ok(await cli(['groups', 'reset-offsets', 'cli-group', '--topic', 'cli-lag', '--to-offset', '99', '--json'])).stdout) as typeof executed;
    assert.equal(clamped.partitions[0]!.new, 4, '--to-offset is clamped to the end');
    const byTime = JSON.parse(ok(await cli(['groups', 'reset-offsets', 'cli-group', '--topic', 'cli-lag', '--to-timestamp', '0', '--json'])).stdout) as typeof executed;
    assert.equal(byTime.partitions[0]!.new, 0);

    assert.equal(ok(await cli(['groups', 'delete', 'cli-group'])).stdout, 'Deleted group cli-group\n');
    const gone = await cli(['groups', 'describe', 'cli-group']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^kafscale: group 'cli-group': GROUP_ID_NOT_FOUND/);
  });

  test('reset-offsets needs a target; unknown topics and groups are one-line errors', async () => {
    const noTarget = await cli(['groups', 'reset-offsets', 'g', '--topic', 't']);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.stderr, /^kafscale: say where to move the offsets\nhint: pass one of --to-earliest/);
    const noTopic = await cli(['groups', 'reset-offsets', 'g', '--to-earliest']);
    assert.equal(noTopic.code, 2);
    assert.match(noTopic.stderr, /required option '-t, --topic <topic>' not specified/);
    const unknownGroup = await cli(['groups', 'delete', 'cli-never-was']);
    assert.equal(unknownGroup.code, 1);
    assert.match(unknownGroup.stderr, /^kafscale: group 'cli-never-was': GROUP_ID_NOT_FOUND/);
  });
});
