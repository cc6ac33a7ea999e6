/**
 * The console in a real browser against a real broker: every page loads without console errors in
 * both themes (screenshots in test-artifacts/console/), the overview agrees with the Kafka API, the
 * message browser finds kcat's messages by offset and by time, and pages update live.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kcat } from '../helpers/kcat.ts';
import { localDateTime, setInput, startConsoleFixture, tableRows, waitForRows, waitForText, type ConsoleFixture } from './browser-fixture.ts';
import { chromiumMissing } from '../helpers/browser.ts';

let fx: ConsoleFixture;
const ORDER = { id: 42, items: [{ sku: 'A-1', qty: 2 }], customer: { name: 'Ada' } };
const LATE_ORDER = { id: 43, late: true };
/** Between the two kcat runs: every record of the second run has a timestamp at or after this. */
let boundaryMs = 0;

before(async () => {
  if (chromiumMissing) return;
  fx = await startConsoleFixture();
  await fx.admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }, { topic: 'audit', numPartitions: 1 }] });
  // Partition 0 of orders: offsets 0-2 plain text, 3 the JSON order (with a header), then later 4-5.
  const first = await kcat(['-P', '-b', fx.broker.bootstrap, '-t', 'orders', '-p', '0', '-K', '|'], 'k0|hello\nk1|world\nk2|plain text\n');
  assert.equal(first.code, 0, first.stderr);
  const json = await kcat(['-P', '-b', fx.broker.bootstrap, '-t', 'orders', '-p', '0', '-K', '|', '-H', 'source=kcat'], `order-42|${JSON.stringify(ORDER)}\n`);
  assert.equal(json.code, 0, json.stderr);
  await sleep(50);
  boundaryMs = Date.now();
  await sleep(50);
  const late = await kcat(['-P', '-b', fx.broker.bootstrap, '-t', 'orders', '-p', '0'], `${JSON.stringify(LATE_ORDER)}\nafter\n`);
  assert.equal(late.code, 0, late.stderr);
  // A group that has read orders and left: it shows with lag 0 on partition 0.
  const consumer = fx.kafka.consumer({ groupId: 'orders-readers' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  let seen = 0;
  await consumer.run({ eachMessage: async () => { seen++; } });
  const deadline = Date.now() + 20_000;
  while (seen < 6 && Date.now() < deadline) await sleep(100);
  await consumer.disconnect();
  assert.equal(seen, 6, 'the kafkajs consumer read every record');
});
after(() => fx?.close());

const PAGES = [
  { name: 'overview', hash: '', ready: '[data-testid="cluster-id"]' },
  { name: 'topics', hash: 'topics', ready: '[data-testid="topics-table"] tbody tr' },
  { name: 'topic-partitions', hash: 'topics/orders', ready: '[data-testid="partitions-table"] tbody tr' },
  { name: 'topic-configs', hash: 'topics/orders/configs', ready: '[data-testid="configs-table"] tbody tr' },
  { name: 'topic-consumers', hash: 'topics/orders/consumers', ready: '[data-testid="consumers-table"] tbody tr' },
  { name: 'groups', hash: 'groups', ready: '[data-testid="groups-table"] tbody tr' },
  { name: 'group', hash: 'groups/orders-readers', ready: '[data-testid="group-offsets"] tbody tr' },
] as const;

for (const scheme of ['light', 'dark'] as const) {
  // Seven pages with screenshots; the first also warms up Chromium. Generous on a loaded machine.
  test(`every page loads without console errors in the ${scheme} theme`, { skip: chromiumMissing, timeout: 120_000 }, async () => {
    for (const { name, hash, ready } of PAGES) {
      const { page, errors } = await fx.open(hash, scheme);
      await page.waitForSelector(ready);
      await page.waitForSelector('[data-testid="session-warning"]');
      // Charts and late fetches settle; a failed request would be logged by then.
      await sleep(300);
      await fx.browser.screenshot(page, `${name}-${scheme}`);
      assert.deepEqual(errors, [], `${name} (${scheme}) logged errors`);
      const theme = await page.evaluate('getComputedStyle(document.documentElement).colorScheme');
      assert.equal(theme, scheme, `${name} follows prefers-color-scheme`);
      await page.close();
    }
  });
}

test('the overview numbers match what the Kafka API says', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('');
  await page.waitForSelector('[data-testid="cluster-id"]');
  const text = async (id: string): Promise<string> => page.$eval(`[data-testid="${id}"]`, (el) => (el.textContent ?? '').trim());
  const cluster = await fx.admin.describeCluster();
  const topics = await fx.admin.listTopics();
  const metadata = await fx.admin.fetchTopicMetadata({ topics });
  const partitions = metadata.topics.reduce((sum, topic) => sum + topic.partitions.length, 0);
  const groups = (await fx.admin.listGroups()).groups;
  assert.equal(await text('cluster-id'), cluster.clusterId);
  assert.equal(await text('total-topics'), topics.length.toLocaleString('en-US'));
  assert.equal(await text('total-partitions'), partitions.toLocaleString('en-US'));
  assert.equal(await text('total-groups'), groups.length.toLocaleString('en-US'));
  assert.equal(await text('total-brokers'), String(cluster.brokers.length));
  const brokers = await tableRows(page, 'brokers');
  assert.deepEqual(brokers.map((row) => row[1]), cluster.brokers.map((b) => `${b.host}:${b.port}`));
  assert.match(await text('health-metadata-store'), /healthy/);
  assert.match(await text('health-object-store'), /healthy/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the message browser finds a kcat message by offset and shows its JSON pretty-printed', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics/orders/messages', 'dark');
  await page.waitForSelector('[data-testid="browse-form"]');
  await page.select('[data-testid="browse-form"] select[name="partition"]', '0');
  await page.select('[data-testid="browse-form"] select[name="from"]', 'offset');
  await setInput(page, '[data-testid="browse-form"] input[name="offset"]', '3');
  await setInput(page, '[data-testid="browse-form"] input[name="limit"]', '1');
  await page.locator('[data-testid="browse-form"] button[type="submit"]').click();
  await waitForRows(page, 'messages-table', 1);
  const rows = await tableRows(page, 'messages-table');
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]?.slice(0, 2), ['0', '3']);
  assert.equal(rows[0]?.[3], 'order-42');
  const value = await page.$eval('[data-testid="messages-table"] tbody tr td.wide pre', (pre) => ({ text: pre.textContent, kind: pre.className }));
  assert.equal(value.text, JSON.stringify(ORDER, null, 2));
  assert.match(value.kind, /json/);
  assert.match(rows[0]?.[5] ?? '', /source\s*kcat/);
  await fx.browser.screenshot(page, 'messages-by-offset-dark');
  // The hex view of the same record: its first bytes are `{"` = 7b 22.
  await page.locator('[data-testid="browse-form"] input[name="mode"][value="hex"]').click();
  const hex = await page.$eval('[data-testid="messages-table"] tbody tr td.wide pre', (pre) => pre.textContent ?? '');
  assert.match(hex, /^7b 22 69 64/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the message browser reads from a timestamp', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics/orders/messages');
  await page.waitForSelector('[data-testid="browse-form"]');
  await page.select('[data-testid="browse-form"] select[name="partition"]', '0');
  await page.select('[data-testid="browse-form"] select[name="from"]', 'timestamp');
  await setInput(page, '[data-testid="browse-form"] input[name="timestamp"]', localDateTime(boundaryMs));
  await setInput(page, '[data-testid="browse-form"] input[name="limit"]', '10');
  await page.locator('[data-testid="browse-form"] button[type="submit"]').click();
  await waitForRows(page, 'messages-table', 1);
  const rows = await tableRows(page, 'messages-table');
  assert.deepEqual(rows.map((row) => row[1]), ['4', '5'], 'exactly the records produced after the boundary');
  const first = await page.$eval('[data-testid="messages-table"] tbody tr td.wide pre', (pre) => pre.textContent);
  assert.equal(first, JSON.stringify(LATE_ORDER, null, 2));
  await fx.browser.screenshot(page, 'messages-by-time-light');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a live page shows a topic created elsewhere without a reload, and the overview counts it', { skip: chromiumMissing }, async () => {
  const topicsPage = await fx.open('topics');
  await topicsPage.page.waitForSelector('[data-testid="topics-table"] tbody tr');
  const overview = await fx.open('');
  await overview.page.waitForSelector('[data-testid="total-topics"]');
  const before = await overview.page.$eval('[data-testid="total-topics"]', (el) => Number((el.textContent ?? '').replace(/,/g, '')));
  await topicsPage.page.evaluate('window.marker = "not reloaded"');
  await fx.admin.createTopics({ topics: [{ topic: "live-arrival", numPartitions: 2 }] });
  await waitForText(topicsPage.page, '[data-testid="topics-table"] a', 'live-arrival');
  assert.equal(await topicsPage.page.evaluate('window.marker'), 'not reloaded', 'the page was not reloaded');
  // The overview event comes every 5 s and replaces the numbers in place.
  await waitForText(overview.page, '[data-testid="total-topics"]', (before + 1).toLocaleString('en-US'));
  await fx.browser.screenshot(topicsPage.page, 'topics-live-light');
  assert.deepEqual(topicsPage.errors, []);
  assert.deepEqual(overview.errors, []);
  await topicsPage.page.close();
  await overview.page.close();
});

test('the theme toggle switches light to dark and the choice outlives a reload', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('topics', 'light');
  await page.waitForSelector('[data-testid="topics-table"] tbody tr');
  const scheme = async (): Promise<unknown> => page.evaluate('getComputedStyle(document.documentElement).colorScheme');
  assert.equal(await scheme(), 'light');
  await page.locator('button[aria-label="Switch to dark theme"]').click();
  assert.equal(await scheme(), 'dark');
  await page.reload();
  await page.waitForSelector('[data-testid="topics-table"] tbody tr');
  assert.equal(await scheme(), 'dark', 'the stored choice wins over prefers-color-scheme: light');
  await page.locator('button[aria-label="Switch to light theme"]').click();
  assert.equal(await scheme(), 'light');
  assert.deepEqual(errors, []);
  await page.close();
});
