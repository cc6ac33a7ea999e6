import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AclAuthorizer, ALLOW_ALL } from './acl-authorizer.ts';
import { AclOperation as Op, AclPermission, filterMatches, invalidBinding, PatternType, ResourceType, type AclBinding, type AclBindingFilter } from './acl.ts';

const alice = { principal: 'User:alice', remoteAddress: '10.0.0.1' };
const bob = { principal: 'User:bob', remoteAddress: '10.0.0.2' };

function acl(partial: Partial<AclBinding>): AclBinding {
  return {
    resourceType: ResourceType.TOPIC,
    resourceName: 'orders',
    patternType: PatternType.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation: Op.READ,
    permission: AclPermission.ALLOW,
    ...partial,
  };
}

function authorizer(bindings: AclBinding[], options: { superUsers?: string[]; allowEveryoneIfNoAclFound?: boolean } = {}): AclAuthorizer {
  return new AclAuthorizer({ superUsers: options.superUsers ?? [], allowEveryoneIfNoAclFound: options.allowEveryoneIfNoAclFound ?? false }, bindings);
}

describe('AclAuthorizer (Kafka StandardAuthorizer semantics)', () => {
  test('a literal ALLOW allows exactly its principal, operation and resource', () => {
    const a = authorizer([acl({})]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize(bob, Op.READ, ResourceType.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders2'), false);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.GROUP, 'orders'), false);
  });

  test('DENY wins over ALLOW, whichever pattern carries it', () => {
    const a = authorizer([
      acl({ resourceName: '*', operation: Op.ALL }),
      acl({ resourceName: 'ord', patternType: PatternType.PREFIXED, permission: AclPermission.DENY, operation: Op.WRITE }),
    ]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'payments'), true);
  });

  test('PREFIXED matches names that start with it; LITERAL never matches a longer name', () => {
    const a = authorizer([acl({ resourceName: 'app-', patternType: PatternType.PREFIXED }), acl({ resourceName: 'x', operation: Op.WRITE })]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'app-logs'), true);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'app-'), true);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'app'), false);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'other-app-logs'), false);
    assert.equal(a.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'xy'), false);
  });

  test("LITERAL '*' matches every resource name and User:* every principal", () => {
    const a = authorizer([acl({ resourceName: '*', principal: 'User:*', operation: Op.DESCRIBE })]);
    assert.equal(a.authorize(alice, Op.DESCRIBE, ResourceType.TOPIC, 'anything'), true);
    assert.equal(a.authorize(bob, Op.DESCRIBE, ResourceType.TOPIC, 'else'), true);
    assert.equal(a.authorize(bob, Op.READ, ResourceType.TOPIC, 'else'), false);
  });

  test('READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS; only for ALLOW', () => {
    for (const op of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
      assert.equal(authorizer([acl({ operation: op })]).authorize(alice, Op.DESCRIBE, ResourceType.TOPIC, 'orders'), true, `op ${op}`);
    }
    assert.equal(authorizer([acl({ operation: Op.CREATE })]).authorize(alice, Op.DESCRIBE, ResourceType.TOPIC, 'orders'), false);
    assert.equal(authorizer([acl({ operation: Op.ALTER_CONFIGS })]).authorize(alice, Op.DESCRIBE_CONFIGS, ResourceType.TOPIC, 'orders'), true);
    assert.equal(authorizer([acl({ operation: Op.ALTER_CONFIGS })]).authorize(alice, Op.DESCRIBE, ResourceType.TOPIC, 'orders'), false);
    assert.equal(authorizer([acl({ operation: Op.READ })]).authorize(alice, Op.WRITE, ResourceType.TOPIC, 'orders'), false);
    // A DENY of READ does not deny DESCRIBE (Kafka: implications apply to ALLOW only).
    const a = authorizer([acl({ operation: Op.DESCRIBE }), acl({ operation: Op.READ, permission: AclPermission.DENY })]);
    assert.equal(a.authorize(alice, Op.DESCRIBE, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
  });

  test('ALL allows and denies every operation', () => {
    assert.equal(authorizer([acl({ operation: Op.ALL })]).authorize(alice, Op.ALTER_CONFIGS, ResourceType.TOPIC, 'orders'), true);
    const a = authorizer([acl({ operation: Op.READ }), acl({ operation: Op.ALL, permission: AclPermission.DENY })]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
  });

  test("hosts: '*' matches every client, an IP only that client (IPv4-mapped IPv6 addresses too)", () => {
    const a = authorizer([acl({ host: '10.0.0.1' })]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize({ principal: 'User:alice', remoteAddress: '::ffff:10.0.0.1' }, Op.READ, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize({ principal: 'User:alice', remoteAddress: '10.0.0.9' }, Op.READ, ResourceType.TOPIC, 'orders'), false);
    const deny = authorizer([acl({ resourceName: '*' }), acl({ host: '10.0.0.9', permission: AclPermission.DENY })]);
    assert.equal(deny.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), true);
    assert.equal(deny.authorize({ principal: 'User:alice', remoteAddress: '10.0.0.9' }, Op.READ, ResourceType.TOPIC, 'orders'), false);
  });

  test('super users are allowed everything, even against a DENY', () => {
    const a = authorizer([acl({ principal: 'User:admin', operation: Op.ALL, permission: AclPermission.DENY })], { superUsers: ['User:admin'] });
    assert.equal(a.authorize({ principal: 'User:admin', remoteAddress: '1.1.1.1' }, Op.WRITE, ResourceType.TOPIC, 'orders'), true);
    assert.equal(a.authorize({ principal: 'User:admin', remoteAddress: '1.1.1.1' }, Op.ALTER, ResourceType.CLUSTER, 'kafka-cluster'), true);
  });

  test('allow.everyone.if.no.acl.found: off denies by default; on opens only resources no ACL applies to', () => {
    assert.equal(authorizer([]).authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
    const open = authorizer([acl({ principal: 'User:bob' })], { allowEveryoneIfNoAclFound: true });
    assert.equal(open.authorize(alice, Op.READ, ResourceType.TOPIC, 'free'), true);
    // An ACL for orders exists (for bob): alice no longer falls back to the default.
    assert.equal(open.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
    assert.equal(open.authorize(bob, Op.READ, ResourceType.TOPIC, 'orders'), true);
  });

  test('replace() swaps the rule set at once', () => {
    const a = authorizer([]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
    a.replace([acl({})]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), true);
    a.replace([]);
    assert.equal(a.authorize(alice, Op.READ, ResourceType.TOPIC, 'orders'), false);
  });

  test('authorizedOperations is the bit field of the supported operations allowed (Kafka encoding)', () => {
    const a = authorizer([acl({ operation: Op.READ }), acl({ operation: Op.ALTER_CONFIGS })]);
    const bits = a.authorizedOperations(alice, ResourceType.TOPIC, 'orders');
    assert.equal(bits, (1 << Op.READ) | (1 << Op.DESCRIBE) | (1 << Op.DESCRIBE_CONFIGS) | (1 << Op.ALTER_CONFIGS));
    assert.equal(a.authorizedOperations(bob, ResourceType.TOPIC, 'orders'), 0);
    // No authorizer: every supported operation, as Kafka reports without authorizer.class.name.
    assert.equal(ALLOW_ALL.authorizedOperations(alice, ResourceType.GROUP, 'g'), (1 << Op.READ) | (1 << Op.DESCRIBE) | (1 << Op.DELETE));
  });

  test('authorizeByResourceType follows Kafka: an undominated ALLOW somewhere allows; a wildcard DENY denies', () => {
    assert.equal(authorizer([acl({ operation: Op.WRITE })]).authorizeByResourceType(alice, Op.WRITE, ResourceType.TOPIC), true);
    assert.equal(authorizer([acl({ operation: Op.READ })]).authorizeByResourceType(alice, Op.WRITE, ResourceType.TOPIC), false);
    const dominated = authorizer([
      acl({ operation: Op.WRITE, resourceName: 'app-logs' }),
      acl({ operation: Op.WRITE, resourceName: 'app', patternType: PatternType.PREFIXED, permission: AclPermission.DENY }),
    ]);
    assert.equal(dominated.authorizeByResourceType(alice, Op.WRITE, ResourceType.TOPIC), false);
    const wildDeny = authorizer([acl({ operation: Op.WRITE }), acl({ operation: Op.WRITE, resourceName: '*', permission: AclPermission.DENY })]);
    assert.equal(wildDeny.authorizeByResourceType(alice, Op.WRITE, ResourceType.TOPIC), false);
  });
});

describe('ACL bindings and filters', () => {
  const any: AclBindingFilter = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY };

  test('invalidBinding refuses what Kafka refuses', () => {
    assert.equal(invalidBinding(acl({})), null);
    assert.match(invalidBinding(acl({ resourceType: ResourceType.ANY })) ?? '', /resource type/);
    assert.match(invalidBinding(acl({ patternType: PatternType.MATCH })) ?? '', /pattern type/);
    assert.match(invalidBinding(acl({ operation: Op.ANY })) ?? '', /operation/);
    assert.match(invalidBinding(acl({ permission: AclPermission.ANY })) ?? '', /permission/);
    assert.match(invalidBinding(acl({ principal: 'alice' })) ?? '', /Type:name/);
    assert.match(invalidBinding(acl({ resourceName: '' })) ?? '', /empty/);
    assert.match(invalidBinding(acl({ resourceType: ResourceType.CLUSTER, resourceName: 'c' })) ?? '', /kafka-cluster/);
    assert.match(invalidBinding(acl({ principal: `User:${'x'.repeat(2_000)}` })) ?? '', /longer than/);
  });

  test('filters: ANY and null match everything; MATCH selects the bindings that apply to a name', () => {
    const literal = acl({});
    const prefixed = acl({ resourceName: 'ord', patternType: PatternType.PREFIXED });
    const wildcard = acl({ resourceName: '*' });
    const other = acl({ resourceName: 'pay' });
    assert.equal(filterMatches(any, literal), true);
    const match = { ...any, resourceName: 'orders', patternType: PatternType.MATCH };
    assert.deepEqual([literal, prefixed, wildcard, other].map((b) => filterMatches(match, b)), [true, true, true, false]);
    const exact = { ...any, resourceName: 'ord', patternType: PatternType.PREFIXED };
    assert.deepEqual([literal, prefixed].map((b) => filterMatches(exact, b)), [false, true]);
    assert.equal(filterMatches({ ...any, principal: 'User:bob' }, literal), false);
    assert.equal(filterMatches({ ...any, permission: AclPermission.DENY }, literal), false);
  });
});
