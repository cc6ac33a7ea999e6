/**
 * Logging in to the console in a real browser: a broker without SASL but with an ops token asks for the
 * token; a wrong one shows the API's message, the right one opens the overview, logging out returns to
 * the form. And the keyboard: the skip link and the navigation are reachable with Tab, with a visible ring.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setInput, startConsoleFixture, waitForText, type ConsoleFixture } from './browser-fixture.ts';
import { chromiumMissing } from '../helpers/browser.ts';

const TOKEN = 'a-long-enough-console-test-token';
const dir = mkdtempSync(join(tmpdir(), 'kafscale-console-login-'));
let fx: ConsoleFixture;

before(async () => {
  if (chromiumMissing) return;
  writeFileSync(join(dir, 'token'), TOKEN + '\n');
  fx = await startConsoleFixture({ KAFSCALE_OPS_TOKEN_FILE: join(dir, 'token') });
});
after(async () => {
  await fx?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the ops token is the login: a wrong one is refused with the API message, the right one opens the console', { skip: chromiumMissing }, async () => {
  const { page, errors } = await fx.open('');
  await page.waitForSelector('form.login');
  assert.equal(await page.$('[data-testid="cluster-id"]'), null, 'nothing of the cluster shows before login');
  assert.equal(await page.$('form.login input[name="user"]'), null, 'token mode asks for the token only');
  await fx.browser.screenshot(page, 'login-light');

  await setInput(page, 'form.login input[name="password"]', 'wrong-token-of-some-length');
  await page.locator('form.login button[type="submit"]').click();
  const alert = await page.waitForSelector('form.login [role="alert"]');
  const shown = (await alert?.evaluate((el) => el.textContent)) ?? '';
  const direct = await fetch(`http://127.0.0.1:${fx.broker.opsPort}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-kafscale-console': '1' },
    body: JSON.stringify({ user: '', password: 'wrong-token-of-some-length' }),
  });
  assert.equal(direct.status, 401);
  assert.equal(shown, ((await direct.json()) as { error: { message: string } }).error.message);

  await setInput(page, 'form.login input[name="password"]', TOKEN);
  await page.locator('form.login button[type="submit"]').click();
  await page.waitForSelector('[data-testid="cluster-id"]');
  await waitForText(page, 'header .user', 'ops-token Log out');
  await waitForText(page, 'header .live', '● live');

  await page.locator('header .user button').click();
  await page.waitForSelector('form.login');
  assert.equal(await page.$('[data-testid="cluster-id"]'), null);
  // The only errors: the browser's notes about the 401s this test asked for.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await page.close();
});

test('keyboard: Tab reaches the skip link and the navigation, with a visible focus ring', { skip: chromiumMissing }, async () => {
  const login = await fx.open('', 'dark');
  await setInput(login.page, 'form.login input[name="password"]', TOKEN);
  await login.page.locator('form.login button[type="submit"]').click();
  await login.page.waitForSelector('[data-testid="cluster-id"]');
  await login.page.close();
  // A fresh page (the session cookie is the browser's): Tab starts from the top of the document.
  const { page, errors } = await fx.open('', 'dark');
  await page.waitForSelector('[data-testid="cluster-id"]');
  const focused = async (): Promise<{ text: string; outline: string; left: number }> => (await page.evaluate(`(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return { text: el.textContent.trim(), outline: style.outlineStyle + ' ' + style.outlineWidth, left: el.getBoundingClientRect().left };
  })()`)) as { text: string; outline: string; left: number };
  await page.keyboard.press('Tab');
  const skip = await focused();
  assert.equal(skip.text, 'Skip to content');
  assert.ok(skip.left >= 0, 'the skip link comes into view when focused');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  const overviewLink = await focused();
  assert.equal(overviewLink.text, 'Overview');
  assert.match(overviewLink.outline, /^solid [1-9]/, 'a visible focus ring');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="topics-table"]');
  await fx.browser.screenshot(page, 'keyboard-focus-dark');
  assert.deepEqual(errors, []);
  await page.close();
});
