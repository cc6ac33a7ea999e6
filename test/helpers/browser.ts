/**
 * A headless Chromium (Debian's `chromium` package, driven by puppeteer-core; nothing is downloaded) for
 * the console's browser tests. One launch per test file; every page records console errors and uncaught
 * exceptions so a test can assert that a page loaded cleanly.
 *
 *   const browser = await startBrowser();
 *   after(() => browser.close());
 *   const page = await browser.page(`http://127.0.0.1:${opsPort}/ui/`);
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM_PATH = '/usr/bin/chromium';
/** False when Chromium is installed, else the reason to skip (`npm test` installs Debian's `chromium`). */
export const chromiumMissing: false | string = existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} is not installed (apt-get install chromium)`;
/** Screenshots for a person to look at; git-ignored (test-artifacts/). */
export const ARTIFACTS_DIR = join(repoRoot, 'test-artifacts', 'console');
/** A laptop screen: the console must lay out well from here up. */
export const VIEWPORT = { width: 1280, height: 800 } as const;

export interface ConsolePage {
  readonly page: Page;
  /** Console errors and uncaught exceptions seen so far on this page. */
  readonly errors: string[];
}

export interface TestBrowser {
  /** Opens a new tab on `url` in the given colour scheme and waits for the network to settle. */
  page(url: string, scheme?: 'light' | 'dark'): Promise<ConsolePage>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<TestBrowser> {
  const browser: Browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Tests run as root in a container: Chromium's sandbox needs user namespaces that are not there.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
    defaultViewport: VIEWPORT,
    timeout: 30_000,
  });
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const pages: Page[] = [];
  return {
    async page(url, scheme = 'light') {
      const page = await browser.newPage();
      pages.push(page);
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url ?? ''})`);
      });
      page.on('pageerror', (error) => errors.push(`pageerror: ${(error as Error).message}`));
      page.setDefaultTimeout(15_000);
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
      await page.goto(url, { waitUntil: 'load' });
      return { page, errors };
    },
    async screenshot(page, name) {
      // A background tab paints no frames: a screenshot of it would wait for one.
      await page.bringToFront();
      await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`) as `${string}.png`, fullPage: false });
    },
    async close() {
      await browser.close();
    },
  };
}
