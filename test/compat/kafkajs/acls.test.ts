/**
 * kafkajs 2.2.4 against a broker with KAFSCALE_AUTHORIZER=acl: createAcls / describeAcls / deleteAcls
 * over the wire, and ACLs added while a producer and a consumer run take effect on their open
 * connections without a restart.
 *
 * kafkajs connects without SASL here, so it is User:ANONYMOUS; the broker runs with
 * allow.everyone.if.no.acl.found on, so ANONYMOUS may do what no ACL speaks about (including managing
 * ACLs: the cluster resource has none), and a DENY for User:ANONYMOUS takes a right away.
 * Known to fail: none.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import kafkajs, { type Admin, type Consumer, type Producer } from 'kafkajs';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

let broker: BrokerProcess;
let kafka: InstanceType<typeof Kafka>;
let admin: Admin;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true', KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' } });
  kafka = new Kafka({ clientId: 'kafscale-compat-kafkajs-acls', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

const anyFilter = {
  resourceType: AclResourceTypes.ANY,
  resourcePatternType: ResourcePatternTypes.ANY,
  operation: AclOperationTypes.ANY,
  permissionType: AclPermissionTypes.ANY,
};

test('createAcls, describeAcls and deleteAcls round-trip Kafka bindings', async () => {
  const created = await admin.createAcls({
    acl: [
      { resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW },
      { resourceType: AclResourceTypes.TOPIC, resourceName: 'app-', resourcePatternType: ResourcePatternTypes.PREFIXED, principal: 'User:alice', host: '10.0.0.1', operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.DENY },
      { resourceType: AclResourceTypes.GROUP, resourceName: 'g1', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:bob', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW },
    ],
  });
  assert.equal(created, true);

  const alice = await admin.describeAcls({ ...anyFilter, principal: 'User:alice' });
  const seen = alice.resources.flatMap((r) => r.acls.map((a) => `${r.resourceType}/${r.resourceName}/${r.resourcePatternType} ${a.principal}@${a.host} ${a.operation} ${a.permissionType}`)).sort();
  assert.deepEqual(seen, [
    `${AclResourceTypes.TOPIC}/app-/${ResourcePatternTypes.PREFIXED} User:alice@10.0.0.1 ${AclOperationTypes.WRITE} ${AclPermissionTypes.DENY}`,
    `${AclResourceTypes.TOPIC}/orders/${ResourcePatternTypes.LITERAL} User:alice@* ${AclOperationTypes.READ} ${AclPermissionTypes.ALLOW}`,
  ]);
  // MATCH: every binding that applies to topic app-logs (the prefixed one).
  const matching = await admin.describeAcls({ ...anyFilter, resourceType: AclResourceTypes.TOPIC, resourceName: 'app-logs', resourcePatternType: ResourcePatternTypes.MATCH });
  assert.deepEqual(matching.resources.map((r) => r.resourceName), ['app-']);

  const deleted = await admin.deleteAcls({ filters: [{ ...anyFilter, resourceType: AclResourceTypes.TOPIC, principal: 'User:alice' }] });
  assert.equal(deleted.filterResponses[0]?.errorCode, 0);
  assert.equal(deleted.filterResponses[0]?.matchingAcls.length, 2);
  const rest = await admin.describeAcls(anyFilter);
  assert.deepEqual(rest.resources.map((r) => r.resourceName), ['g1']);
  await admin.deleteAcls({ filters: [anyFilter] });
});

test('an ACL added while a producer and a consumer run takes effect on their open connections', async () => {
  const topic = `acl-live-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const producer: Producer = kafka.producer({ retry: { retries: 0 } });
  const consumer: Consumer = kafka.consumer({ groupId: `acl-live-${randomUUID().slice(0, 8)}`, retry: { retries: 0 }, maxWaitTimeInMs: 100 });
  const received: string[] = [];
  const crashes: unknown[] = [];
  try {
    await producer.connect();
    await consumer.connect();
    consumer.on(consumer.events.CRASH, (event) => crashes.push(event.payload.error));
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push(String(message.value)) });
    await producer.send({ topic, messages: [{ value: 'before' }] });
    await waitFor("the message 'before'", () => received.includes('before'), 15_000);

    const denyFor = (operation: number) => ({ resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation, permissionType: AclPermissionTypes.DENY });
    await admin.createAcls({ acl: [denyFor(AclOperationTypes.WRITE)] });
    const startedMs = Date.now();
    await assert.rejects(producer.send({ topic, messages: [{ value: 'denied' }] }), (error: Error & { type?: string; cause?: { type?: string } }) => {
      assert.match(`${error.type ?? ''} ${error.cause?.type ?? ''} ${error.message}`, /TOPIC_AUTHORIZATION_FAILED|authorization failed/i);
      return true;
    });
    assert.ok(Date.now() - startedMs < 5_000);

    await admin.createAcls({ acl: [denyFor(AclOperationTypes.READ)] });
    await waitFor('the consumer to crash', () => crashes.length > 0, 15_000);
    assert.match(String(crashes[0]), /Topic authorization failed/);

    await admin.deleteAcls({ filters: [{ ...anyFilter, resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL }] });
    await producer.send({ topic, messages: [{ value: 'after' }] });
    assert.ok(!received.includes('denied'));
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
});

