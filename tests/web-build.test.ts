import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JS_BUDGET_BYTES, measureFirstLoad } from '../scripts/measure/web-first-load.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/** The built client (dist/web, built by the global set-up when stale): what the browser gets. */

const root = join(import.meta.dirname, '..');
const webDir = join(root, 'dist', 'web');
const temp = useTempDir();
const handle = useTestApp({ databaseUrl: join(temp.dir, 'build.db'), env: { CHATBOT_PROVIDER: 'offline' } });

describe('the built web client', () => {
  it('has no inline script in index.html (the CSP would refuse it) and loads nothing from another host', () => {
    const html = readFileSync(join(webDir, 'index.html'), 'utf8');
    for (const [tag] of html.matchAll(/<script\b[^>]*>/g)) expect(tag).toMatch(/\bsrc="\/assets\//);
    expect(html).not.toMatch(/<script\b[^>]*>[^<\s]/);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });

  it("is React's production build, with no source paths of this machine", () => {
    const scripts = readdirSync(join(webDir, 'assets')).filter((file) => file.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      const code = readFileSync(join(webDir, 'assets', file), 'utf8');
      expect(code, file).not.toContain(root);
      expect(code, file).not.toMatch(/jsxDEV\)?\(/);
    }
  });

  it('transfers at most 200 KB of JavaScript (gzip) on the first load', async () => {
    const load = await measureFirstLoad(async (url, gzip) => {
      const response = await handle.app.inject({
        method: 'GET',
        url,
        headers: gzip ? { 'accept-encoding': 'gzip' } : {},
      });
      return { statusCode: response.statusCode, body: response.body, headers: response.headers };
    });
    expect(load.files.length).toBeGreaterThan(1);
    expect(load.jsBytes).toBeGreaterThan(10_000);
    expect(load.jsBytes).toBeLessThanOrEqual(JS_BUDGET_BYTES);
  });
});
