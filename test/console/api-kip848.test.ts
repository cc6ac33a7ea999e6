/**
 * A KIP-848 consumer group (@platformatic/kafka with `groupProtocol: 'consumer'`) in the console: listed
 * with protocol "consumer", its member and broker-side assignment shown, offsets reset refused while it
 * has a member and applied once it left — the next member starts there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer } from '@platformatic/kafka';
import { ConsoleClient, startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

const TOPIC = 'kip848-topic';
const GROUP = 'kip848-group';

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 25_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function consumer(bootstrap: string): Consumer<Buffer, Buffer, Buffer, Buffer> {
  return new Consumer({ clientId: 'console-kip848', groupId: GROUP, groupProtocol: 'consumer', bootstrapBrokers: [bootstrap], rebalanceTimeout: 60_000, maxWaitTime: 200, retries: 5, timeout: 10_000 });
}

describe('console with a KIP-848 consumer group', { timeout: 120_000 }, () => {
  let broker: ConsoleBroker;
  let client: ConsoleClient;

  before(async () => {
    broker = await startConsoleBroker({ KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '500', KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: '6000' });
    client = new ConsoleClient(broker.base);
    assert.equal((await client.call('POST', '/api/v1/topics', { body: { name: TOPIC, partitions: 2 } })).status, 201);
    for (let i = 0; i < 10; i++) assert.equal((await client.call('POST', `/api/v1/topics/${TOPIC}/messages`, { body: { partition: i % 2, value: `m${i}` } })).status, 201);
  });

  after(async () => {
    await broker?.close();
  });

  test('member and assignment shown; reset refused while it is active, applied after it left', async () => {
    const first = consumer(broker.bootstrap);
    const seen: string[] = [];
    const stream = await first.consume({ topics: [TOPIC], mode: 'earliest', autocommit: 100 });
    stream.on('data', (message) => void seen.push(message.value.toString()));
    await until('10 messages and a commit', async () => {
      if (seen.length < 10) return false;
      const detail = await client.get(`/api/v1/groups/${GROUP}`);
      return detail.status === 200 && detail.json.offsets.every((o: { committedOffset: number | null }) => o.committedOffset === 5) && detail.json.offsets.length === 2;
    });
    const listed = (await client.get('/api/v1/groups')).json.groups.find((g: { groupId: string }) => g.groupId === GROUP);
    assert.equal(listed.protocol, 'consumer');
    assert.equal(listed.members, 1);
    assert.equal(listed.lag, 0);
    const detail = (await client.get(`/api/v1/groups/${GROUP}`)).json;
    assert.equal(detail.protocol, 'consumer');
    assert.equal(detail.members.length, 1);
    assert.deepEqual(detail.members[0].assignments, [{ topic: TOPIC, partitions: [0, 1] }]);
    assert.ok(detail.offsets.every((o: { memberId: string }) => o.memberId === detail.members[0].memberId));
    const refused = await client.call('POST', `/api/v1/groups/${GROUP}/offsets`, { body: { to: 'earliest', dryRun: false } });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error.code, 'NON_EMPTY_GROUP');
    await stream.close();
    await first.close();
    await until('the group to be empty', async () => (await client.get(`/api/v1/groups/${GROUP}`)).json.state === 'Empty');
    const applied = await client.call('POST', `/api/v1/groups/${GROUP}/offsets`, { body: { to: 'offset', offset: 3, dryRun: false } });
    assert.equal(applied.status, 200, applied.text);
    assert.deepEqual(applied.json.offsets.map((o: { partition: number; current: number; target: number }) => [o.partition, o.current, o.target]), [[0, 5, 3], [1, 5, 3]]);

    const next = consumer(broker.bootstrap);
    const again: string[] = [];
    const nextStream = await next.consume({ topics: [TOPIC], mode: 'committed', fallbackMode: 'earliest' });
    nextStream.on('data', (message) => void again.push(message.value.toString()));
    try {
      await until('the next member to read from the reset offsets', () => again.length >= 4);
      assert.deepEqual(again.sort(), ['m6', 'm7', 'm8', 'm9']);
    } finally {
      await nextStream.close();
      await next.close();
    }
  });
});
