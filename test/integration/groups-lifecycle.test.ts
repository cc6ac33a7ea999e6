/**
 * Group coordinator lifecycle on a broker process: committed offsets of a deleted topic are removed
 * (Kafka's onPartitionsDeleted) so a re-created topic of the same name starts without them, and a
 * SIGTERM is not held by a JoinGroup parked for a rebalance (the coordinator answers it before the
 * Kafka listener drains).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { WireClient } from '../helpers/wire-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
let broker: BrokerProcess;
let wire: WireClient;

before(async () => {
  // A long initial rebalance delay parks the first JoinGroup of a new group (Kafka's InitialDelayedJoin).
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '30000', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '500' }, logLevel: 'warn' });
  wire = await WireClient.connect(broker.host, broker.port);
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

async function createTopic(name: string): Promise<void> {
  const created = await wire.send(19, 5, { topics: [{ name, numPartitions: 2, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]?.errorCode, ErrorCode.NONE);
}

function commit(groupId: string, topic: string, offset: bigint) {
  return wire.send(8, 9, {
    groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: topic, partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null })) }],
  });
}

async function committed(groupId: string): Promise<string[]> {
  const all = await wire.send(9, 9, { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  return (all.groups[0]?.topics ?? []).flatMap((t) => t.partitions.map((p) => `${t.name}/${p.partitionIndex}=${p.committedOffset}`)).sort();
}

test('offsets of a deleted topic are removed; a re-created topic of that name starts without them', async () => {
  await createTopic('doomed');
  await createTopic('survivor');
  for (const groupId of ['lc-a', 'lc-b']) {
    for (const topic of ['doomed', 'survivor']) assert.deepEqual((await commit(groupId, topic, 42n)).topics[0]?.partitions.map((p) => p.errorCode), [0, 0]);
  }
  assert.deepEqual(await committed('lc-a'), ['doomed/0=42', 'doomed/1=42', 'survivor/0=42', 'survivor/1=42']);

  const removed = await wire.send(20, 6, { topics: [{ name: 'doomed', topicId: ZERO_UUID }], timeoutMs: 10_000 });
  assert.equal(removed.responses[0]?.errorCode, ErrorCode.NONE);
  assert.deepEqual(await committed('lc-a'), ['survivor/0=42', 'survivor/1=42'], 'not reported once the topic is gone');

  // The removal runs on the topic watch; re-creating the name must not bring the old offsets back.
  await createTopic('doomed');
  let seen: string[] = [];
  await waitFor('the offsets of the deleted topic removed', async () => {
    seen = [...(await committed('lc-a')), ...(await committed('lc-b'))];
    return !seen.some((o) => o.startsWith('doomed/'));
  }, { timeoutMs: 5_000, detail: () => JSON.stringify(seen) });
  assert.deepEqual(seen, ['survivor/0=42', 'survivor/1=42', 'survivor/0=42', 'survivor/1=42']);
});

test('SIGTERM is not held by a JoinGroup parked for a rebalance', async () => {
  const joiner = await WireClient.connect(broker.host, broker.port);
  try {
    // v3: no MEMBER_ID_REQUIRED round trip; the join parks for the 30 s initial rebalance delay.
    const parked = joiner.send(11, 3, { groupId: 'lc-parked', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] }, 20_000);
    const settled = parked.then((r) => ({ errorCode: r.errorCode }), (error: unknown) => ({ error }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    await broker.stop();
    const stopMs = Date.now() - started;
    // Before the fix the listener drained for its full 5 s while the join waited.
    assert.ok(stopMs < 3_000, `broker stopped in ${stopMs} ms`);
    const outcome = await settled;
    if ('errorCode' in outcome) assert.notEqual(outcome.errorCode, ErrorCode.NONE, 'the parked join is answered with an error');
  } finally {
    joiner.close();
  }
});
