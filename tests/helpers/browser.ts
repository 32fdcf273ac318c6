import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * Debian's Chromium, driven by playwright-core (which never downloads a browser): one
 * browser per test file, a fresh context (storage, cookies) per test. `.ci/run` installs
 * the package when it is missing.
 */
export const CHROMIUM = '/usr/bin/chromium';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface BrowserHandle {
  /** A fresh page in a fresh context (closed after the test), recording what the page complains of. */
  newPage(): Promise<Page>;
  /** Console errors and CSP violations the pages reported so far in this test. */
  readonly problems: string[];
}

export function useBrowser(): BrowserHandle {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`the browser tests need Chromium at ${CHROMIUM}: apt-get install chromium`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    problems.length = 0;
  });
  afterAll(async () => {
    // Playwright gave it a fresh profile folder of its own, and removes it on close.
    await browser?.close();
  });
  return {
    problems,
    async newPage() {
      if (!browser) throw new Error('the browser starts in beforeAll');
      const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
      contexts.push(context);
      const page = await context.newPage();
      // A missing element fails within the test's own timeout, naming the locator. Waits are
      // for conditions, never for time: this only bounds them, and CI runs the browser tests
      // beside the rest of the suite on two cores (a live page also refetches on its events),
      // where 10 s was once not enough for a failed answer to be shown.
      page.setDefaultTimeout(20_000);
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      return page;
    },
  };
}

/** Runs axe-core in the page: the serious and critical violations, as "rule: target" lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: an inline <script> would be refused by the page's CSP.
  await page.evaluate(axeSource);
  const results = await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
  );
  return results as string[];
}

/** Asserts axe-core finds nothing serious or critical on the page as it is now. */
export async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousViolations(page)).toEqual([]);
}
