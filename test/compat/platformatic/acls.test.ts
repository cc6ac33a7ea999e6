/**
 * @platformatic/kafka admin client against a broker with KAFSCALE_AUTHORIZER=acl: createAcls,
 * describeAcls and deleteAcls over the wire, and a DENY taking WRITE away from the client's open
 * connection. The client is User:ANONYMOUS (no SASL here) and the broker runs with
 * allow.everyone.if.no.acl.found on, so it may manage ACLs until a DENY says otherwise.
 * Known to fail: none.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AclOperations, AclPermissionTypes, Admin, Producer, ResourcePatternTypes, ResourceTypes, stringSerializers } from '@platformatic/kafka';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBroker({ env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' } });
  admin = new Admin({ clientId: 'kafscale-compat-platformatic-acls', bootstrapBrokers: [broker.bootstrap], retries: 1, timeout: 10_000 });
});

after(async () => {
  await admin?.close();
  await broker?.stop();
});

const anyFilter = {
  resourceType: ResourceTypes.ANY,
  resourceName: null,
  resourcePatternType: ResourcePatternTypes.ANY,
  principal: null,
  host: null,
  operation: AclOperations.ANY,
  permissionType: AclPermissionTypes.ANY,
};

test('createAcls, describeAcls and deleteAcls round-trip', async () => {
  await admin.createAcls({
    creations: [
      { resourceType: ResourceTypes.TOPIC, resourceName: 'logs-', resourcePatternType: ResourcePatternTypes.PREFIXED, principal: 'User:carol', host: '*', operation: AclOperations.READ, permissionType: AclPermissionTypes.ALLOW },
      // Not on the cluster: an ACL there would end allow-everyone for the cluster and lock this client out.
      { resourceType: ResourceTypes.GROUP, resourceName: 'carols', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:carol', host: '*', operation: AclOperations.READ, permissionType: AclPermissionTypes.ALLOW },
    ],
  });
  const resources = await admin.describeAcls({ filter: { ...anyFilter, principal: 'User:carol' } });
  assert.deepEqual(resources.map((r) => `${r.resourceType}/${r.resourceName}/${r.resourcePatternType}`).sort(), [`${ResourceTypes.TOPIC}/logs-/${ResourcePatternTypes.PREFIXED}`, `${ResourceTypes.GROUP}/carols/${ResourcePatternTypes.LITERAL}`].sort());
  const deleted = await admin.deleteAcls({ filters: [{ ...anyFilter, resourceType: ResourceTypes.TOPIC }] });
  assert.equal(deleted.length, 1);
  assert.equal(deleted[0]?.resourceName, 'logs-');
  const rest = await admin.describeAcls({ filter: anyFilter });
  assert.deepEqual(rest.map((r) => r.resourceName), ['carols']);
  await admin.deleteAcls({ filters: [anyFilter] });
  assert.deepEqual(await admin.describeAcls({ filter: anyFilter }), []);
});

test('a DENY WRITE for User:ANONYMOUS refuses the next produce on an open connection; deleting it restores WRITE', async () => {
  const topic = `acl-pl-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  const producer = new Producer({ clientId: 'kafscale-compat-platformatic-acls', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers, retries: 0 });
  try {
    await producer.send({ messages: [{ topic, value: 'before' }] });
    const deny = { resourceType: ResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation: AclOperations.WRITE, permissionType: AclPermissionTypes.DENY };
    await admin.createAcls({ creations: [deny] });
    await assert.rejects(producer.send({ messages: [{ topic, value: 'denied' }] }), (error: unknown) => {
      assert.match(JSON.stringify(error, Object.getOwnPropertyNames(error as object)) + String(error), /TOPIC_AUTHORIZATION_FAILED|authorization/i);
      return true;
    });
    await admin.deleteAcls({ filters: [{ ...anyFilter, resourceType: ResourceTypes.TOPIC, resourceName: topic }] });
    await producer.send({ messages: [{ topic, value: 'after' }] });
  } finally {
    await producer.close();
  }
});
