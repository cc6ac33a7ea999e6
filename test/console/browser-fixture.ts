/**
 * What every console browser test starts with: a real broker (child process) with the console on,
 * one headless Chromium, and a kafkajs admin on the same broker to compare the pages against.
 */
import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Page } from 'puppeteer-core';
import { startBroker, type BrokerProcess, type StartBrokerOptions } from '../helpers/broker-process.ts';
import { startBrowser, type ConsolePage, type TestBrowser } from '../helpers/browser.ts';

export interface ConsoleFixture {
  readonly broker: BrokerProcess;
  readonly browser: TestBrowser;
  readonly kafka: Kafka;
  readonly admin: Admin;
  /** `http://127.0.0.1:<ops port>/ui/` */
  readonly uiUrl: string;
  /** Opens the console at `#/<hash>`. */
  open(hash: string, scheme?: 'light' | 'dark'): Promise<ConsolePage>;
  close(): Promise<void>;
}

/** `env` adds broker settings; `brokerOptions` e.g. a prepared data dir (users) and a SASL listener. */
export async function startConsoleFixture(env: Readonly<Record<string, string>> = {}, brokerOptions: Omit<StartBrokerOptions, 'env'> = {}): Promise<ConsoleFixture> {
  const broker = await startBroker({ logLevel: 'warn', ...brokerOptions, env: { KAFSCALE_CONSOLE: 'true', ...env } });
  let browser: TestBrowser | null = null;
  try {
    browser = await startBrowser();
    const kafka = new Kafka({ clientId: 'console-browser-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const uiUrl = `http://127.0.0.1:${broker.opsPort}/ui/`;
    const opened = browser;
    return {
      broker,
      browser: opened,
      kafka,
      admin,
      uiUrl,
      open: (hash, scheme) => opened.page(`${uiUrl}#/${hash}`, scheme),
      async close() {
        await admin.disconnect().catch(() => {});
        await opened.close();
        await broker.stop();
      },
    };
  } catch (error) {
    await browser?.close();
    await broker.stop();
    throw error;
  }
}

/**
 * Commits `offset` for a group without members, as an admin tool does (OffsetCommit, generation -1), with
 * @platformatic/kafka: kafkajs' setOffsets joins the group with a consumer first, seconds per call.
 */
export async function commitGroupOffsets(bootstrap: string, groupId: string, commits: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
  const admin = new PlatformaticAdmin({ clientId: 'console-browser-test', bootstrapBrokers: [bootstrap], retries: 2, timeout: 10_000 });
  try {
    const topics = [...new Set(commits.map((c) => c.topic))].map((name) => ({
      name,
      partitionOffsets: commits.filter((c) => c.topic === name).map((c) => ({ partition: c.partition, offset: BigInt(c.offset) })),
    }));
    await admin.alterConsumerGroupOffsets({ groupId, topics });
  } finally {
    await admin.close();
  }
}

/** The text of every cell of a table's body rows. */
export function tableRows(page: Page, testId: string): Promise<string[][]> {
  return page.$$eval(`[data-testid="${testId}"] tbody tr`, (rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].map((cell) => (cell.textContent ?? '').trim())));
}

/**
 * Sets a controlled input (number, datetime-local, text) the way typing does: value, then `input`. Waits
 * for the input first: under load the page may still be rendering it (a run failed on the login form).
 */
export async function setInput(page: Page, selector: string, value: string): Promise<void> {
  await page.waitForSelector(selector, { timeout: 15_000 });
  await page.$eval(selector, (element, text) => {
    (element as unknown as { value: string }).value = text;
    element.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** Waits until a table has at least `count` body rows; resolves with performance.now() at that moment. */
export async function waitForRows(page: Page, testId: string, count: number, timeoutMs = 15_000): Promise<number> {
  // A string runs in the page (this project's type check has no DOM library).
  const handle = await page.waitForFunction(
    `document.querySelectorAll('[data-testid="${testId}"] tbody tr').length >= ${count} && performance.now()`,
    { polling: 'mutation', timeout: timeoutMs },
  );
  return (await handle.jsonValue()) as number;
}

/** Waits until the page's location hash is `hash` (after an action navigates). */
export async function waitForHash(page: Page, hash: string): Promise<void> {
  await page.waitForFunction(`location.hash === ${JSON.stringify(hash)}`);
}

/** Waits until some element matching `selector` has exactly `text`, e.g. a link to a new topic. */
export async function waitForText(page: Page, selector: string, text: string, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].some((el) => el.textContent.trim() === ${JSON.stringify(text)})`,
    { timeout: timeoutMs },
  );
}

/** The local wall-clock form a `datetime-local` input takes, in this machine's time zone (Chromium's too). */
export function localDateTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
