/**
 * `kafscale acls add|list|remove` against real broker processes: one with KAFSCALE_AUTHORIZER=acl (the
 * CLI is User:ANONYMOUS and allow.everyone.if.no.acl.found is on, so it may manage ACLs), one without
 * an authorizer (SECURITY_DISABLED).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { against, ok } from './cli-runner.ts';

let secured: BrokerProcess;
let open: BrokerProcess;
let cli: ReturnType<typeof against>;

before(async () => {
  [secured, open] = await Promise.all([
    startBroker({ logLevel: 'warn', env: { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'true' } }),
    startBroker({ logLevel: 'warn' }),
  ]);
  cli = against(secured.bootstrap);
});
after(async () => {
  await Promise.all([secured?.stop(), open?.stop()]);
});

interface Row { resourceType: string; name: string; patternType: string; principal: string; host: string; operation: string; permission: string }

test('add (principals × hosts × operations × resources), list as table and JSON, remove', async () => {
  const added = ok(await cli(['acls', 'add', '--allow-principal', 'User:alice', '--allow-principal', 'User:bob', '--operation', 'Read', '--operation', 'describe-configs', '--topic', 'orders']));
  assert.match(added.stdout, /^Added 4 ACL binding\(s\):/);
  ok(await cli(['acls', 'add', '--deny-principal', 'User:mallory', '--deny-host', '10.0.0.66', '--operation', 'All', '--topic', 'app-', '--resource-pattern-type', 'prefixed']));
  ok(await cli(['acls', 'add', '--allow-principal', 'User:alice', '--operation', 'Read', '--group', 'billing']));

  const table = ok(await cli(['acls', 'list', '--topic', 'orders'])).stdout.trim().split('\n');
  assert.deepEqual(table[0]?.trim().split(/\s{2,}/), ['RESOURCE', 'NAME', 'PATTERN', 'PRINCIPAL', 'HOST', 'OPERATION', 'PERMISSION']);
  assert.equal(table.length, 5);

  const all = JSON.parse(ok(await cli(['acls', 'list', '--json'])).stdout) as Row[];
  assert.equal(all.length, 6);
  assert.ok(all.some((r) => r.resourceType === 'TOPIC' && r.name === 'app-' && r.patternType === 'PREFIXED' && r.principal === 'User:mallory' && r.host === '10.0.0.66' && r.operation === 'ALL' && r.permission === 'DENY'));
  // MATCH: what applies to topic app-logs is the prefixed DENY.
  const matching = JSON.parse(ok(await cli(['acls', 'list', '--topic', 'app-logs', '--resource-pattern-type', 'match', '--json'])).stdout) as Row[];
  assert.deepEqual(matching.map((r) => r.principal), ['User:mallory']);
  const alices = JSON.parse(ok(await cli(['acls', 'list', '--principal', 'User:alice', '--json'])).stdout) as Row[];
  assert.deepEqual(alices.map((r) => `${r.name}:${r.operation}`).sort(), ['billing:READ', 'orders:DESCRIBE_CONFIGS', 'orders:READ']);

  const removed = ok(await cli(['acls', 'remove', '--allow-principal', 'User:bob', '--topic', 'orders']));
  assert.match(removed.stdout, /^Removed 2 ACL binding\(s\):/);
  const removedAll = JSON.parse(ok(await cli(['acls', 'remove', '--topic', 'orders', '--json'])).stdout) as Row[];
  assert.equal(removedAll.length, 2);
  assert.equal((JSON.parse(ok(await cli(['acls', 'list', '--json'])).stdout) as Row[]).length, 2);
});

test("--producer / --consumer add kafka-acls.sh's sets", async () => {
  // --idempotent puts an ACL on the cluster, which ends allow-everyone there: keep this (ANONYMOUS) CLI able to manage ACLs.
  ok(await cli(['acls', 'add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Alter', '--operation', 'Describe', '--cluster']));
  const producer = JSON.parse(ok(await cli(['acls', 'add', '--allow-principal', 'User:svc', '--producer', '--idempotent', '--topic', 'svc-', '--resource-pattern-type', 'prefixed', '--json'])).stdout) as Row[];
  assert.deepEqual(producer.map((r) => `${r.resourceType}:${r.name}:${r.patternType}:${r.operation}`).sort(), [
    'CLUSTER:kafka-cluster:LITERAL:IDEMPOTENT_WRITE', 'TOPIC:svc-:PREFIXED:CREATE', 'TOPIC:svc-:PREFIXED:DESCRIBE', 'TOPIC:svc-:PREFIXED:WRITE',
  ]);
  const consumer = JSON.parse(ok(await cli(['acls', 'add', '--allow-principal', 'User:svc', '--consumer', '--topic', 'orders2', '--group', 'svc-group', '--json'])).stdout) as Row[];
  assert.deepEqual(consumer.map((r) => `${r.resourceType}:${r.name}:${r.operation}`).sort(), ['GROUP:svc-group:READ', 'TOPIC:orders2:DESCRIBE', 'TOPIC:orders2:READ']);
  const noGroup = await cli(['acls', 'add', '--allow-principal', 'User:svc', '--consumer', '--topic', 'orders2']);
  assert.equal(noGroup.code, 2);
  assert.match(noGroup.stderr, /--consumer needs --group/);
  ok(await cli(['acls', 'remove', '--allow-principal', 'User:svc', '--topic', 'svc-', '--resource-pattern-type', 'prefixed']));
  ok(await cli(['acls', 'remove', '--allow-principal', 'User:svc', '--topic', 'orders2', '--group', 'svc-group', '--cluster']));
});

test('usage errors exit 2 with a hint; a broker without an authorizer says SECURITY_DISABLED', async () => {
  const badOp = await cli(['acls', 'add', '--allow-principal', 'User:a', '--operation', 'Fly', '--topic', 't']);
  assert.equal(badOp.code, 2);
  assert.match(badOp.stderr, /unknown operation 'Fly'/);
  const wrongType = await cli(['acls', 'add', '--allow-principal', 'User:a', '--operation', 'Read', '--cluster']);
  assert.equal(wrongType.code, 2);
  assert.match(wrongType.stderr, /operation READ does not apply to cluster resources/);
  const noResource = await cli(['acls', 'add', '--allow-principal', 'User:a', '--operation', 'Read']);
  assert.equal(noResource.code, 2);
  const badPrincipal = await cli(['acls', 'add', '--allow-principal', 'alice', '--operation', 'Read', '--topic', 't']);
  assert.equal(badPrincipal.code, 2);
  assert.match(badPrincipal.stderr, /Type:name/);

  const disabled = await against(open.bootstrap)(['acls', 'list']);
  assert.equal(disabled.code, 1);
  assert.match(disabled.stderr, /SECURITY_DISABLED/);
  assert.match(disabled.stderr, /KAFSCALE_AUTHORIZER=acl/);
});
