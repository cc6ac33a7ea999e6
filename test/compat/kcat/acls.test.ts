/**
 * kcat (librdkafka) against a broker with KAFSCALE_AUTHORIZER=acl: librdkafka has no ACL admin calls
 * in kcat (and Debian's confluent-kafka 1.7 has no AdminClient ACL API, added in 1.9), so ACLs are managed
 * with kafkajs here and kcat shows what a librdkafka client sees: a topic it may not DESCRIBE is missing
 * from `kcat -L`, and a produce to a topic it may not WRITE fails with librdkafka's "Topic authorization
 * failed". kcat is User:ANONYMOUS (no SASL yet), with allow.everyone.if.no.acl.found on.
 * Known to fail: none.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs, { type Admin } from 'kafkajs';
import { startBroker, type BrokerProcess } from '../../helpers/broker-process.ts';

const run = promisify(execFile);
const kcatMissing = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'kcat is not installed (apt-get install kcat)';
const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  if (kcatMissing !== false) return;
  broker = await startBroker({ env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' } });
  admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

function acl(topic: string, operation: number, permissionType: number) {
  return { resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation, permissionType };
}

test('kcat -L hides a topic the client may not DESCRIBE; kcat -P to a topic it may not WRITE fails with Topic authorization failed', { skip: kcatMissing }, async () => {
  const visible = `acl-kcat-${randomUUID().slice(0, 8)}`;
  const hidden = `acl-kcat-hidden-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic: visible, numPartitions: 1 }, { topic: hidden, numPartitions: 1 }] });
  // Once an ACL names a topic, allow-everyone no longer applies to it: visible gets an explicit ALLOW ALL,
  // and the DENY WRITE wins over it for writes only.
  await admin.createAcls({ acl: [acl(hidden, AclOperationTypes.DESCRIBE, AclPermissionTypes.DENY), acl(visible, AclOperationTypes.ALL, AclPermissionTypes.ALLOW), acl(visible, AclOperationTypes.WRITE, AclPermissionTypes.DENY)] });

  const listing = await run('kcat', ['-b', broker.bootstrap, '-L', '-J'], { timeout: 30_000 });
  const names = (JSON.parse(listing.stdout) as { topics: { topic: string }[] }).topics.map((t) => t.topic);
  assert.ok(names.includes(visible), `${visible} is listed`);
  assert.ok(!names.includes(hidden), `${hidden} is not listed`);

  const produced = spawnSync('kcat', ['-b', broker.bootstrap, '-P', '-t', visible, '-p', '0', '-X', 'message.send.max.retries=0'], { input: 'refused\n', encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(produced.status, 0);
  assert.match(produced.stderr, /Topic authorization failed/i);

  await admin.deleteAcls({ filters: [{ resourceType: AclResourceTypes.TOPIC, resourceName: visible, resourcePatternType: ResourcePatternTypes.LITERAL, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.DENY }] });
  const allowed = spawnSync('kcat', ['-b', broker.bootstrap, '-P', '-t', visible, '-p', '0'], { input: 'accepted\n', encoding: 'utf8', timeout: 30_000 });
  assert.equal(allowed.status, 0, allowed.stderr);
});
