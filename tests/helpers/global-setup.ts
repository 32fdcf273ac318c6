import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIfStale } from '../../scripts/build/if-stale.mjs';
import { dropTestDatabases } from './database.js';

const testsDir = join(import.meta.dirname, '..');

/**
 * The groups of tests that run on one engine only, read from the test files themselves
 * (`describe.skipIf(onPg)('title', ...)` runs on SQLite only, `skipIf(!onPg)` on PostgreSQL
 * only), so the list printed below can never drift from what is really skipped.
 */
export function engineOnlyGroups(): { file: string; title: string; engine: 'sqlite' | 'pg' }[] {
  const groups: { file: string; title: string; engine: 'sqlite' | 'pg' }[] = [];
  for (const file of readdirSync(testsDir)
    .filter((name) => name.endsWith('.test.ts'))
    .sort()) {
    const source = readFileSync(join(testsDir, file), 'utf8');
    for (const match of source.matchAll(/describe\.skipIf\((!?)onPg\)\(\s*(['"`])(.*?)\2/g)) {
      groups.push({ file: `tests/${file}`, title: match[3] ?? '', engine: match[1] === '!' ? 'pg' : 'sqlite' });
    }
  }
  return groups;
}

/**
 * Says which tests this run skips and why (vitest only counts them), and on PostgreSQL drops
 * the databases the test files created once all of them are done.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  // The browser tests (tests/web/) drive the built client: built once here when its sources
  // changed since the last build, instead of once per file.
  const built = await buildIfStale(join(testsDir, '..'), ['web']);
  if (built.length > 0) process.stdout.write('Built the web client (dist/web) for the browser tests\n');
  const url = process.env.TEST_DATABASE_URL;
  const running = url ? 'pg' : 'sqlite';
  const skipped = engineOnlyGroups().filter((group) => group.engine !== running);
  if (skipped.length > 0) {
    const other = running === 'sqlite' ? 'PostgreSQL' : 'SQLite';
    const how = running === 'sqlite' ? '`npm run test:pg` runs them' : '`npm test` runs them';
    const lines = skipped.map((group) => `  ${group.file}: ${group.title}`);
    process.stdout.write(
      `Running on ${running === 'sqlite' ? 'SQLite' : 'PostgreSQL'}; skipping the ${other}-only tests (${how}):\n${lines.join('\n')}\n`,
    );
  }
  if (!url) return undefined;
  return () => dropTestDatabases(url);
}
