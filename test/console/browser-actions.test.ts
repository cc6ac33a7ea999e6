/**
 * The console's admin actions in a real browser against a real broker, each checked through a real
 * client: create a topic (kcat sees it), a clear error for a bad create, add partitions, change a config,
 * produce a test message (kcat reads it), reset an inactive group's offsets after a dry-run preview (the
 * next kafkajs consumer starts there), delete a topic and a group with typed confirmation.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { Page } from 'puppeteer-core';
import { kcat } from '../helpers/kcat.ts';
import { commitGroupOffsets, setInput, startConsoleFixture, tableRows, waitForHash, waitForRows, waitForText, type ConsoleFixture } from './browser-fixture.ts';
import { chromiumMissing } from '../helpers/browser.ts';

const { ConfigResourceTypes } = kafkajs;
let fx: ConsoleFixture;
before(async () => {
  if (chromiumMissing) return;
  fx = await startConsoleFixture();
});
after(() => fx?.close());

/** Errors other than the browser's note about a response status the test asked for. */
function unexpected(errors: readonly string[]): string[] {
  return errors.filter((error) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(error));
}

async function clickButton(page: Page, text: string): Promise<void> {
  const clicked = await page.$$eval('button', (buttons, label) => {
    const button = buttons.find((b) => (b.textContent ?? '').trim() === label && !b.hasAttribute('disabled'));
    (button as unknown as { click(): void } | undefined)?.click();
    return button !== undefined;
  }, text);
  assert.ok(clicked, `an enabled button “${text}” is on the page`);
}

async function consumeOne(groupId: string, topic: string): Promise<number> {
  const consumer = fx.kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const first = new Promise<number>((resolve) => {
    void consumer.run({ autoCommit: false, eachMessage: async ({ message }) => resolve(Number(message.offset)) });
  });
  const offset = await Promise.race([first, sleep(20_000).then(() => -1)]);
  await consumer.disconnect();
  return offset;
}

test('create a topic in the UI; kcat sees it with its partitions', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics');
  await page.waitForSelector('[data-testid="topics-table"]');
  await clickButton(page, 'Create topic');
  await setInput(page, '[data-testid="create-topic"] input[name="name"]', 'made-in-ui');
  await setInput(page, '[data-testid="create-topic"] input[name="partitions"]', '4');
  await setInput(page, '[data-testid="create-topic"] input[name="retention"]', '2');
  await fx.browser.screenshot(page, 'create-topic-light');
  await page.locator('[data-testid="create-topic"] button[type="submit"]').click();
  await waitForHash(page, '#/topics/made-in-ui');
  await waitForRows(page, 'partitions-table', 4);
  const listed = await kcat(['-L', '-b', fx.broker.bootstrap, '-t', 'made-in-ui']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /topic "made-in-ui" with 4 partitions/);
  const [described] = (await fx.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'made-in-ui', configNames: ['retention.ms'] }] })).resources;
  assert.equal(described?.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue, String(2 * 3_600_000));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a refused create shows the message from the API', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics');
  await page.waitForSelector('[data-testid="topics-table"]');
  await clickButton(page, 'Create topic');
  await setInput(page, '[data-testid="create-topic"] input[name="name"]', 'made-in-ui');
  await page.locator('[data-testid="create-topic"] button[type="submit"]').click();
  const shown = await page.waitForSelector('[data-testid="create-topic"] [role="alert"]');
  const text = await shown?.evaluate((el) => el.textContent ?? '');
  const direct = await fetch(`http://127.0.0.1:${fx.broker.opsPort}/api/v1/topics`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-kafscale-console': '1' },
    body: JSON.stringify({ name: 'made-in-ui', partitions: 1, configs: {} }),
  });
  const body = (await direct.json()) as { error: { message: string } };
  assert.ok(direct.status >= 400);
  assert.equal(text, body.error.message);
  await fx.browser.screenshot(page, 'create-topic-error-light');
  assert.deepEqual(unexpected(errors), []);
  await page.close();
});

test('add partitions and change a config in the UI; the Kafka API agrees', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics/made-in-ui');
  await waitForRows(page, 'partitions-table', 4);
  await clickButton(page, 'Add partitions');
  await setInput(page, 'form[aria-label="Add partitions"] input[name="count"]', '6');
  await page.locator('form[aria-label="Add partitions"] button[type="submit"]').click();
  await waitForRows(page, 'partitions-table', 6);
  const metadata = await fx.admin.fetchTopicMetadata({ topics: ['made-in-ui'] });
  assert.equal(metadata.topics[0]?.partitions.length, 6);

  await page.locator('nav.tabs a[href$="/configs"]').click();
  await page.waitForSelector('[data-testid="configs-table"] tbody tr');
  await page.locator('button[aria-label="Edit retention.ms"]').click();
  await setInput(page, '#cfg-retention\\.ms', '600000');
  await page.locator('[data-testid="configs-table"] form.inline button[type="submit"]').click();
  await waitForText(page, '[data-testid="configs-table"] tbody td', '600000');
  const [described] = (await fx.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'made-in-ui', configNames: ['retention.ms'] }] })).resources;
  assert.equal(described?.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue, '600000');
  await fx.browser.screenshot(page, 'topic-configs-edited-light');
  assert.deepEqual(errors, []);
  await page.close();
});

test('produce a test message in the UI; kcat reads it back with key and header', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics/made-in-ui/messages', 'dark');
  await page.waitForSelector('[data-testid="browse-form"]');
  await clickButton(page, 'Produce a message');
  await page.select('[data-testid="produce-form"] select[name="partition"]', '2');
  await setInput(page, '[data-testid="produce-form"] input[name="key"]', 'ui-key');
  await setInput(page, '[data-testid="produce-form"] textarea[name="value"]', '{"from":"the console"}');
  await setInput(page, '[data-testid="produce-form"] textarea[name="headers"]', 'origin: browser test');
  await page.locator('[data-testid="produce-form"] button[type="submit"]').click();
  const status = await page.waitForSelector('[data-testid="produce-form"] [role="status"]');
  assert.match((await status?.evaluate((el) => el.textContent)) ?? '', /partition 2 at offset 0/);
  await fx.browser.screenshot(page, 'produce-dark');
  const read = await kcat(['-C', '-b', fx.broker.bootstrap, '-t', 'made-in-ui', '-p', '2', '-o', 'beginning', '-c', '1', '-e', '-f', '%k|%s|%h\n']);
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stdout.trim(), 'ui-key|{"from":"the console"}|origin=browser test');
  assert.deepEqual(errors, []);
  await page.close();
});

test('reset offsets of an inactive group after a dry-run preview; the next kafkajs consumer starts there', { skip: chromiumMissing }, async () => {
  await fx.admin.createTopics({ topics: [{ topic: 'ledger', numPartitions: 1 }] });
  const produced = await kcat(['-P', '-b', fx.broker.bootstrap, '-t', 'ledger', '-p', '0'], Array.from({ length: 10 }, (_, i) => `entry ${i}`).join('\n') + '\n');
  assert.equal(produced.code, 0, produced.stderr);
  await commitGroupOffsets(fx.broker.bootstrap, 'ledger-readers', [{ topic: 'ledger', partition: 0, offset: 10 }]);

  const { page, errors } = await fx.open('groups/ledger-readers');
  await waitForRows(page, 'group-offsets', 1);
  assert.deepEqual((await tableRows(page, 'group-offsets'))[0]?.slice(0, 5), ['ledger', '0', '10', '10', '0']);
  await clickButton(page, 'Reset offsets');
  await page.select('[data-testid="reset-form"] select[name="to"]', 'offset');
  await setInput(page, '[data-testid="reset-form"] input[name="offset"]', '4');
  await clickButton(page, 'Preview');
  await waitForRows(page, 'reset-preview', 1);
  assert.deepEqual(await tableRows(page, 'reset-preview'), [['ledger', '0', '10', '4']]);
  const untouched = await fx.admin.fetchOffsets({ groupId: 'ledger-readers', topics: ['ledger'] });
  assert.equal(untouched[0]?.partitions[0]?.offset, '10', 'a preview changes nothing');
  await fx.browser.screenshot(page, 'group-reset-preview-light');
  await clickButton(page, 'Apply');
  await waitForText(page, '[data-testid="group-offsets"] tbody tr td:nth-child(3)', '4');
  assert.equal(await consumeOne('ledger-readers', 'ledger'), 4);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a reset of a group with members is previewed but refused, with the API message', { skip: chromiumMissing }, async () => {
  await fx.admin.createTopics({ topics: [{ topic: 'busy', numPartitions: 1 }] });
  const consumer = fx.kafka.consumer({ groupId: 'busy-readers' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'busy', fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({ eachMessage: async () => {} });
  await joined;
  try {
    const { page, errors } = await fx.open('groups/busy-readers');
    await page.waitForSelector('[data-testid="group-members"] tbody tr');
    await clickButton(page, 'Reset offsets');
    await page.waitForSelector('[data-testid="reset-form"] p.warn');
    // The consumer has committed nothing yet: name the topic (without one the reset covers committed topics only).
    await page.select('[data-testid="reset-form"] select[name="topic"]', 'busy');
    await page.select('[data-testid="reset-form"] select[name="to"]', 'latest');
    await clickButton(page, 'Preview');
    await waitForRows(page, 'reset-preview', 1);
    await clickButton(page, 'Apply');
    const alert = await page.waitForSelector('[data-testid="reset-form"] [role="alert"]');
    const shown = (await alert?.evaluate((el) => el.textContent)) ?? '';
    const direct = await fetch(`http://127.0.0.1:${fx.broker.opsPort}/api/v1/groups/busy-readers/offsets`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-kafscale-console': '1' },
      body: JSON.stringify({ topic: 'busy', to: 'latest', dryRun: false }),
    });
    assert.equal(direct.status, 409);
    assert.equal(shown, ((await direct.json()) as { error: { message: string } }).error.message);
    await fx.browser.screenshot(page, 'group-reset-refused-light');
    assert.deepEqual(unexpected(errors), []);
    await page.close();
  } finally {
    await consumer.disconnect();
  }
});

test('delete a topic and a group with typed confirmation', { skip: chromiumMissing }, async () => {
  await fx.admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 1 }] });
  await commitGroupOffsets(fx.broker.bootstrap, 'doomed-readers', [{ topic: 'doomed', partition: 0, offset: 0 }]);
  const { page, errors } = await fx.open('topics/doomed');
  await page.waitForSelector('[data-testid="partitions-table"] tbody tr');
  await clickButton(page, 'Delete topic');
  await setInput(page, 'form[aria-label="Delete topic"] input[name="confirm"]', 'doome');
  assert.equal(await page.$eval('form[aria-label="Delete topic"] button[type="submit"]', (b) => b.hasAttribute('disabled')), true,
    'the delete button stays disabled until the exact name is typed');
  await setInput(page, 'form[aria-label="Delete topic"] input[name="confirm"]', 'doomed');
  await fx.browser.screenshot(page, 'delete-topic-light');
  await page.locator('form[aria-label="Delete topic"] button[type="submit"]').click();
  await waitForHash(page, '#/topics');
  assert.ok(!(await fx.admin.listTopics()).includes('doomed'));
  const listed = await kcat(['-L', '-b', fx.broker.bootstrap]);
  assert.doesNotMatch(listed.stdout, /topic "doomed"/);

  await page.goto(`${fx.uiUrl}#/groups/doomed-readers`);
  await page.waitForSelector('[data-testid="group-offsets"]');
  await clickButton(page, 'Delete group');
  await setInput(page, 'form[aria-label="Delete group"] input[name="confirm"]', 'doomed-readers');
  await page.locator('form[aria-label="Delete group"] button[type="submit"]').click();
  await waitForHash(page, '#/groups');
  // A fresh admin: fx.admin's metadata still names the deleted topic and kafkajs would fail refreshing it.
  const admin = fx.kafka.admin();
  await admin.connect();
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
  await admin.disconnect();
  assert.ok(!groups.includes('doomed-readers'), `groups left: ${groups.join(', ')}`);
  assert.deepEqual(errors, []);
  await page.close();
});
