import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { EmbeddedMetadataStore } from '../../storage/meta/embedded-metadata-store.ts';
import { AclAuthorizer } from './acl-authorizer.ts';
import { AclStore } from './acl-store.ts';
import { AclOperation as Op, AclPermission, PatternType, ResourceType, type AclBinding } from './acl.ts';
import { waitFor } from '../../../test/helpers/wait-for.ts';

const log = pino({ level: 'silent' });
const read: AclBinding = { resourceType: ResourceType.TOPIC, resourceName: 'a/b%c', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation: Op.READ, permission: AclPermission.ALLOW };
const write: AclBinding = { ...read, operation: Op.WRITE };
const any = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY };

test('ACLs written through one store instance reach another through the watch, and survive a reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kafscale-acl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let store = await EmbeddedMetadataStore.open({ dir, log });
  const writer = await AclStore.open(store, log);
  const reader = await AclStore.open(store, log);
  const authorizer = new AclAuthorizer({ superUsers: [], allowEveryoneIfNoAclFound: false });
  reader.subscribe((bindings) => authorizer.replace(bindings));
  const alice = { principal: 'User:alice', remoteAddress: '127.0.0.1' };

  await writer.create([read, write, read]);
  assert.equal(writer.list().length, 2, 'a binding created twice is stored once');
  await waitFor('the ACL seen by the authorizer', () => authorizer.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'a/b%c'), { timeoutMs: 2_000, intervalMs: 10 });

  const deleted = await writer.delete([{ ...any, operation: Op.WRITE }]);
  assert.deepEqual(deleted, [[write]]);
  await waitFor('the ACL deletion seen by the authorizer', () => !authorizer.authorize(alice, Op.WRITE, ResourceType.TOPIC, 'a/b%c'), { timeoutMs: 2_000, intervalMs: 10 });
  assert.equal(authorizer.authorize(alice, Op.READ, ResourceType.TOPIC, 'a/b%c'), true);

  await writer.close();
  await reader.close();
  await store.close();
  store = await EmbeddedMetadataStore.open({ dir, log });
  const reopened = await AclStore.open(store, log);
  assert.deepEqual(reopened.list(), [read]);
  await reopened.close();
  await store.close();
});
