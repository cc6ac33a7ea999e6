/**
 * @platformatic/kafka 2.x consumer group (classic protocol) against a real broker: three Consumers in
 * one group on a 6-partition topic get every partition exactly once (two each), every message is
 * consumed by exactly one member, and when a member leaves (close → LeaveGroup) the two others take
 * over its partitions from its committed offsets, so nothing is consumed twice or lost
 * (group-scenario.ts, shared with the KIP-848 test).
 * Known to fail: none known.
 */
import { after, before, test } from 'node:test';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { WireClient } from '../../helpers/wire-client.ts';
import { GroupScenario } from './group-scenario.ts';

let broker: BrokerProcess;
let wire: WireClient;
let scenario: GroupScenario;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000' }, logLevel: 'warn' });
  wire = await WireClient.connect(broker.host, broker.port);
  scenario = new GroupScenario({ clientId: 'kafscale-compat-platformatic-groups', protocol: 'classic', bootstrap: () => broker.bootstrap, wire });
});

after(async () => {
  wire?.close();
  await broker?.stop();
});

test('platformatic: three members share six partitions, each message consumed once, a leaving member hands over', { timeout: 90_000 }, async (t) => {
  await scenario.handOver(t, 'platformatic-groups');
});
