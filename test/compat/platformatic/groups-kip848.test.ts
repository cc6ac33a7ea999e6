/**
 * @platformatic/kafka 2.x with the KIP-848 consumer group protocol (`groupProtocol: 'consumer'`, i.e.
 * ConsumerGroupHeartbeat with broker-side assignment) against a real broker: three Consumers on a
 * 6-partition topic get every partition exactly once (two each), every message is consumed by exactly
 * one member; when a member leaves (epoch -1) the two others take over its partitions from its
 * committed offsets; a member started after everyone left resumes from the committed offsets. The same
 * scenario runs a second time through a kafscale proxy in front of the broker.
 * Known to fail: none known.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { startProxy } from '../../proxy/proxy-process.ts';
import { FIRST, GroupScenario, PARTITIONS, SECOND } from './group-scenario.ts';

const THIRD = 120;

let broker: BrokerProcess;
/** Where the clients connect: the broker, or a kafscale proxy in front of it (second test). */
let clientBootstrap = '';
let wire: WireClient;
let group: GroupScenario;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '500', KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: '6000' }, logLevel: 'warn' });
  wire = await WireClient.connect(broker.host, broker.port);
  clientBootstrap = broker.bootstrap;
  group = new GroupScenario({ clientId: 'kafscale-compat-platformatic-kip848', protocol: 'consumer', bootstrap: () => clientBootstrap, wire });
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

const scenario = async (t: TestContext): Promise<void> => {
  const { topic, groupId, members, everything, handedOver } = await group.handOver(t, 'platformatic-kip848');

  assert.equal(new Set(everything.filter((v) => handedOver.includes(Number(v.slice(1)) % PARTITIONS) && Number(v.slice(1)) >= FIRST)).size > 0, true, 'handed-over partitions were consumed');
  await group.until('the autocommits cover every consumed message', async () => (await group.committedTotal(groupId, topic)) === BigInt(FIRST + SECOND));

  // Everyone leaves; a new member resumes from the committed offsets and reads only what is new.
  for (const m of members.splice(0)) await group.closeForced(m.consumer);
  const described = await wire.send(69, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]?.groupState, 'Empty');
  await group.produce(topic, FIRST + SECOND, THIRD);
  const late = await group.member(groupId, topic, members);
  await group.until(`${THIRD} new messages consumed by the new member`, () => late.seen.length >= THIRD);
  await sleep(500);
  assert.equal(late.seen.length, THIRD, 'the new member resumed from the committed offsets');
  assert.ok(late.seen.every((v) => Number(v.slice(1)) >= FIRST + SECOND));
};

test('platformatic (KIP-848 consumer protocol): three members share six partitions, each message consumed once, a leaving member hands over, a new member resumes', { timeout: 90_000 }, scenario);

test('the same through a kafscale proxy in front of the broker (ConsumerGroupHeartbeat routed to the coordinator)', { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy({ bootstrap: broker.bootstrap });
  t.after(() => proxy.stop());
  clientBootstrap = proxy.bootstrap;
  try {
    await scenario(t);
  } finally {
    clientBootstrap = broker.bootstrap;
  }
});
