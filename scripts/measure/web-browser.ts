/**
 * What the web measurements share: the real app on a temporary SQLite database, answered by
 * a fake upstream on 127.0.0.1 (the tests' own), listening on a loopback port, and Debian's
 * Chromium driven by playwright-core (never a downloaded browser). Builds the client first
 * when its sources changed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildIfStale } from '../build/if-stale.mjs';
import { createUser, type TestUser } from '../../tests/helpers/app.js';
import { startFakeUpstream, type FakeUpstream } from '../../tests/helpers/fake-upstream.js';
import { echoingUpstream } from '../../tests/helpers/web-seed.js';

/** Debian's Chromium (as the browser tests use it). */
const CHROMIUM = '/usr/bin/chromium';

export interface WebBench {
  app: App;
  baseUrl: string;
  upstream: FakeUpstream;
  browser: Browser;
  user: TestUser;
  /** A fresh page, signed in as `user`, `width` x `height` CSS pixels. */
  signedInPage(size?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function startWebBench(): Promise<WebBench> {
  await buildIfStale(join(import.meta.dirname, '..', '..'), ['web']);
  const dir = mkdtempSync(join(tmpdir(), 'web-measure-'));
  const upstream = await startFakeUpstream();
  upstream.setHandler(echoingUpstream);
  const app = await buildApp({
    config: loadConfig({
      DATABASE_URL: join(dir, 'web.db'),
      LOG_LEVEL: 'silent',
      YOU_API_URL: upstream.url,
      YOU_API_KEY: 'measure-upstream-key',
    }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
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
  const user = await createUser(app, 'Ada');
  return {
    app,
    baseUrl,
    upstream,
    browser,
    user,
    async signedInPage(size = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport: size, colorScheme: 'light' });
      const page = await context.newPage();
      await page.goto(baseUrl);
      await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      return page;
    },
    async close() {
      await browser.close();
      await app.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
