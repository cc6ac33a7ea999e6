/**
 * Console security against a real broker: with a SASL listener the console logs in with the SCRAM users
 * and every call is authorized by the broker's ACLs as the user (ACLs created through Kafka's CreateAcls
 * by kafkajs); with only an ops token the token is the login; and the config refuses an unauthenticated
 * console on a non-loopback ops listener.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { loadConfig } from '../../src/config/index.ts';
import { createUser } from '../helpers/security.ts';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;
import { ConsoleClient, startConsoleBroker, type ConsoleBroker } from './api-harness.ts';

const FAILURE_DELAY_MS = 300;

describe('console with SASL and ACLs', { timeout: 120_000 }, () => {
  let dir: string;
  let broker: ConsoleBroker;
  let admin: ConsoleClient;
  let alice: ConsoleClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-console-sec-'));
    await createUser({ KAFSCALE_DATA_DIR: dir }, 'admin', 'admin-secret', 'SCRAM-SHA-512');
    await createUser({ KAFSCALE_DATA_DIR: dir }, 'alice', 'alice-secret', 'SCRAM-SHA-256');
    broker = await startConsoleBroker({
      KAFSCALE_LISTENERS: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
      KAFSCALE_AUTHORIZER: 'acl',
      KAFSCALE_SUPER_USERS: 'User:admin',
      KAFSCALE_AUTH_FAILURE_DELAY_MS: String(FAILURE_DELAY_MS),
    }, dir);
    admin = new ConsoleClient(broker.base);
    alice = new ConsoleClient(broker.base);
  });

  after(async () => {
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a login is required; a wrong password is 401 after the failure delay', async () => {
    const session = await admin.get('/api/v1/session');
    assert.deepEqual(session.json, { authRequired: true, authMode: 'sasl', user: null, warning: null });
    const anonymous = await admin.get('/api/v1/topics');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error.code, 'KSC_CONSOLE_UNAUTHENTICATED');
    const started = Date.now();
    const wrong = await admin.call('POST', '/api/v1/session', { body: { user: 'admin', password: 'nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'SASL_AUTHENTICATION_FAILED');
    assert.ok(Date.now() - started >= FAILURE_DELAY_MS - 20, `answered after ${Date.now() - started} ms`);
    const unknown = await admin.call('POST', '/api/v1/session', { body: { user: 'mallory', password: 'nope' } });
    assert.equal(unknown.status, 401);
    assert.equal(admin.cookie, null);
    const forged = new ConsoleClient(broker.base);
    forged.cookie = 'kafscale_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    assert.equal((await forged.get('/api/v1/overview')).status, 401);
    // The static UI is served without a session (it shows the login page).
    assert.equal((await admin.get('/ui/')).status, 200);
  });

  test('the session cookie is HttpOnly and SameSite=Strict; the super user can act', async () => {
    const login = await admin.call('POST', '/api/v1/session', { body: { user: 'admin', password: 'admin-secret' } });
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.json, { user: 'admin' });
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.doesNotMatch(cookie, /Secure/);
    assert.equal((await admin.get('/api/v1/session')).json.user, 'admin');
    for (const name of ['public', 'secret']) assert.equal((await admin.call('POST', '/api/v1/topics', { body: { name, partitions: 1 } })).status, 201);
    assert.equal((await admin.call('POST', '/api/v1/topics/secret/messages', { body: { value: 'classified' } })).status, 201);
    assert.equal((await admin.call('POST', '/api/v1/topics/public/messages', { body: { value: 'hello' } })).status, 201);
  });

  test('a user sees and does only what the ACLs allow', async () => {
    const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.app.listenerPort('SASL_PLAINTEXT')}`], sasl: { mechanism: 'scram-sha-512', username: 'admin', password: 'admin-secret' }, logLevel: logLevel.NOTHING });
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    try {
      const allow = (resourceType: kafkajs.AclResourceTypes, resourceName: string, operation: kafkajs.AclOperationTypes) => ({
        resourceType, resourceName, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
      });
      await kafkaAdmin.createAcls({ acl: [allow(AclResourceTypes.TOPIC, 'public', AclOperationTypes.DESCRIBE), allow(AclResourceTypes.TOPIC, 'public', AclOperationTypes.READ)] });
    } finally {
      await kafkaAdmin.disconnect();
    }
    const deadline = Date.now() + 10_000;
    assert.equal((await alice.call('POST', '/api/v1/session', { body: { user: 'alice', password: 'alice-secret' } })).status, 200);
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (await alice.get('/api/v1/topics')).json.topics.map((t: { name: string }) => t.name);
      if (names.includes('public')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(names, ['public']);
    assert.equal((await alice.get('/api/v1/overview')).json.totals.topics, 1);
    const hidden = await alice.get('/api/v1/topics/secret');
    assert.equal(hidden.status, 404);
    assert.equal((await alice.get('/api/v1/topics/secret/messages?from=earliest')).status, 404);
    const browse = await alice.get('/api/v1/topics/public/messages?from=earliest');
    assert.equal(browse.status, 200);
    assert.equal(browse.json.messages[0].value.text, 'hello');
    const produce = await alice.call('POST', '/api/v1/topics/public/messages', { body: { value: 'x' } });
    assert.equal(produce.status, 403);
    assert.equal(produce.json.error.code, 'TOPIC_AUTHORIZATION_FAILED');
    const create = await alice.call('POST', '/api/v1/topics', { body: { name: 'mine', partitions: 1 } });
    assert.equal(create.status, 403);
    assert.equal((await alice.call('PATCH', '/api/v1/topics/public/configs', { body: { set: { 'retention.ms': '1000' } } })).status, 403);
    assert.equal((await alice.call('POST', '/api/v1/topics/public/partitions', { body: { count: 2 } })).status, 403);
    assert.equal((await alice.call('DELETE', '/api/v1/topics/public?confirm=public')).status, 403);
    assert.equal((await alice.get('/api/v1/topics/public')).json.configsVisible, false);
    assert.equal((await alice.get('/api/v1/groups/any')).status, 403);
    assert.equal((await alice.call('DELETE', '/api/v1/groups/any')).status, 403);
    // The admin still sees both; alice's logout ends her session.
    assert.equal((await admin.get('/api/v1/topics')).json.topics.length, 2);
    const stream = await fetch(`${broker.base}/api/v1/events`, { headers: { cookie: alice.cookie ?? '' } });
    assert.equal(stream.status, 200);
    const ended = stream.text();
    assert.equal((await alice.call('DELETE', '/api/v1/session')).status, 204);
    assert.equal(alice.cookie, null);
    const started = Date.now();
    await ended;
    assert.ok(Date.now() - started < 8_000, 'the event stream of a logged-out session ends');
    assert.equal((await alice.get('/api/v1/topics')).status, 401);
  });
});

describe('console with the ops token and no SASL', { timeout: 60_000 }, () => {
  let dir: string;
  let broker: ConsoleBroker;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kafscale-console-token-'));
    writeFileSync(join(dir, 'token'), 'a-long-enough-ops-token\n');
    broker = await startConsoleBroker({ KAFSCALE_OPS_TOKEN_FILE: join(dir, 'token') }, dir);
  });

  after(async () => {
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the token is the console login; /metrics still needs the bearer token', async () => {
    const client = new ConsoleClient(broker.base);
    assert.equal((await client.get('/api/v1/session')).json.authMode, 'token');
    assert.equal((await client.get('/api/v1/topics')).status, 401);
    assert.equal((await client.get('/metrics')).status, 401);
    assert.equal((await client.call('POST', '/api/v1/session', { body: { password: 'wrong-token-xxxxxxxx' } })).status, 401);
    const login = await client.call('POST', '/api/v1/session', { body: { password: 'a-long-enough-ops-token' } });
    assert.equal(login.status, 200);
    assert.equal(login.json.user, 'ops-token');
    assert.equal((await client.get('/api/v1/topics')).status, 200);
    assert.equal((await client.get('/metrics')).status, 401);
    const bearer = await fetch(`${broker.base}/metrics`, { headers: { authorization: 'Bearer a-long-enough-ops-token' } });
    assert.equal(bearer.status, 200);
  });
});

describe('console configuration', () => {
  const base = { KAFSCALE_DATA_DIR: '/tmp/kafscale-console-config', KAFSCALE_CONSOLE: 'true' };

  test('an unauthenticated console on a non-loopback ops listener is refused, naming the settings', () => {
    assert.throws(() => loadConfig({ argv: [], env: { ...base, KAFSCALE_METRICS_ADDR: '0.0.0.0:9093' }, cwd: '/tmp' }), (error: Error) => {
      assert.match(error.message, /KAFSCALE_CONSOLE\b/);
      assert.match(error.message, /KAFSCALE_CONSOLE_ALLOW_UNAUTHENTICATED/);
      assert.match(error.message, /KAFSCALE_METRICS_ADDR/);
      return true;
    });
  });

  test('loopback, SASL, the ops token or the explicit opt-in are accepted; the console is off by default', () => {
    assert.equal(loadConfig({ argv: [], env: { ...base, KAFSCALE_METRICS_ADDR: '127.0.0.1:9093' }, cwd: '/tmp' }).console.enabled, true);
    assert.equal(loadConfig({ argv: [], env: { ...base, KAFSCALE_METRICS_ADDR: '0.0.0.0:9093', KAFSCALE_CONSOLE_ALLOW_UNAUTHENTICATED: 'true' }, cwd: '/tmp' }).console.enabled, true);
    // The ops token is the console's password when no listener uses SASL.
    assert.equal(loadConfig({ argv: [], env: { ...base, KAFSCALE_METRICS_ADDR: '0.0.0.0:9093', KAFSCALE_OPS_TOKEN_FILE: '/run/secrets/ops-token' }, cwd: '/tmp' }).console.enabled, true);
    const sasl = loadConfig({ argv: [], env: { ...base, KAFSCALE_LISTENERS: 'SASL_PLAINTEXT://0.0.0.0:9092' }, cwd: '/tmp' });
    assert.equal(sasl.console.enabled, true);
    assert.equal(sasl.console.maxBytes, 1024 * 1024);
    assert.equal(loadConfig({ argv: [], env: { KAFSCALE_DATA_DIR: '/tmp/x' }, cwd: '/tmp' }).console.enabled, false);
    assert.throws(() => loadConfig({ argv: [], env: { ...base, KAFSCALE_METRICS_ADDR: '127.0.0.1:9093', KAFSCALE_CONSOLE_MAX_BYTES: '10' }, cwd: '/tmp' }), /KAFSCALE_CONSOLE_MAX_BYTES/);
  });
});
