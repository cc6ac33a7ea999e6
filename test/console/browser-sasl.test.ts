/**
 * The console with a SASL listener and ACLs, in a real browser: the login form asks for a SCRAM user;
 * a user sees only the topics the ACLs let them DESCRIBE, a refused action shows the API's message,
 * and a super user sees everything. Users are made with `kafscale users set`, ACLs with kafkajs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { Page } from 'puppeteer-core';
import { chromiumMissing } from '../helpers/browser.ts';
import { createUser } from '../helpers/security.ts';
import { setInput, startConsoleFixture, tableRows, waitForRows, waitForText, type ConsoleFixture } from './browser-fixture.ts';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;
const dir = mkdtempSync(join(tmpdir(), 'kafscale-console-sasl-'));
let fx: ConsoleFixture;

before(async () => {
  if (chromiumMissing) return;
  await createUser({ KAFSCALE_DATA_DIR: dir }, 'admin', 'admin-secret', 'SCRAM-SHA-512');
  await createUser({ KAFSCALE_DATA_DIR: dir }, 'alice', 'alice-secret', 'SCRAM-SHA-256');
  fx = await startConsoleFixture(
    { KAFSCALE_AUTHORIZER: 'acl', KAFSCALE_SUPER_USERS: 'User:admin' },
    { dataDir: dir, extraListeners: ['SASL_PLAINTEXT'] },
  );
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${fx.broker.listenerPorts['SASL_PLAINTEXT']}`],
    sasl: { mechanism: 'scram-sha-512', username: 'admin', password: 'admin-secret' },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'public', numPartitions: 1 }, { topic: 'secret', numPartitions: 1 }] });
    const allow = (operation: kafkajs.AclOperationTypes) => ({
      resourceType: AclResourceTypes.TOPIC, resourceName: 'public', resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
    });
    await admin.createAcls({ acl: [allow(AclOperationTypes.DESCRIBE), allow(AclOperationTypes.READ)] });
  } finally {
    await admin.disconnect();
  }
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.waitForSelector('form.login input[name="user"]');
  await setInput(page, 'form.login input[name="user"]', user);
  await setInput(page, 'form.login input[name="password"]', password);
  await page.locator('form.login button[type="submit"]').click();
  await waitForText(page, 'header .user', `${user} Log out`);
}

/** The same call from inside the page (with its session cookie): the message the UI must show. */
async function apiMessage(page: Page, method: string, path: string, body: unknown): Promise<string> {
  return (await page.evaluate(`fetch(${JSON.stringify(path)}, { method: ${JSON.stringify(method)}, headers: { 'content-type': 'application/json', 'x-kafscale-console': '1' }, body: ${JSON.stringify(JSON.stringify(body))} })
    .then((r) => r.json()).then((b) => b.error.message)`)) as string;
}

test('a SCRAM user sees only what the ACLs allow, refusals show the API message, a super user sees all', { skip: chromiumMissing, timeout: 120_000 }, async () => {
  const { page, errors } = await fx.open('topics');
  await logIn(page, 'alice', 'alice-secret');
  await waitForRows(page, 'topics-table', 1);
  assert.deepEqual((await tableRows(page, 'topics-table')).map((row) => row[0]), ['public'], 'alice may DESCRIBE public only');

  await page.locator('.title-row button.primary').click();
  await setInput(page, '[data-testid="create-topic"] input[name="name"]', 'alice-made');
  await page.locator('[data-testid="create-topic"] button[type="submit"]').click();
  const alert = await page.waitForSelector('[data-testid="create-topic"] [role="alert"]');
  const shown = (await alert?.evaluate((el) => el.textContent)) ?? '';
  assert.equal(shown, await apiMessage(page, 'POST', '/api/v1/topics', { name: 'alice-made', partitions: 3, configs: {} }));
  await fx.browser.screenshot(page, 'sasl-refused-light');

  await page.locator('header .user button').click();
  await logIn(page, 'admin', 'admin-secret');
  await page.goto(`${fx.uiUrl}#/topics`);
  await waitForRows(page, 'topics-table', 2);
  assert.deepEqual((await tableRows(page, 'topics-table')).map((row) => row[0]), ['public', 'secret']);
  assert.deepEqual(errors.filter((e) => !/status of 40[134]/.test(e)), []);
  await page.close();
});
