import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDatabaseUrl } from './helpers/database.js';
import { useServerProcess, useTempDir } from './helpers/suite.js';

/**
 * The committed Postman collection runs as a whole in Postman's own runner (newman), against
 * the real server on a fresh database with the offline provider: the key and ids captured by
 * its test scripts carry each request to the next, and every request asserts its status.
 * Nothing leaves 127.0.0.1.
 */

const root = join(import.meta.dirname, '..');
const collectionFile = join(root, 'src', 'openapi', 'postman-collection.json');
const newmanBin = createRequire(import.meta.url).resolve('newman/bin/newman.js');

const temp = useTempDir();
const server = useServerProcess(async () => ({
  DATABASE_URL: await resolveDatabaseUrl(join(temp.dir, 'postman.db')),
  CHATBOT_PROVIDER: 'offline',
  LOG_LEVEL: 'warn',
  // The walkthrough's webhook points at example.com: accepted without resolving it (no
  // network here), and never delivered to (no delivery rounds).
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_POLL_MS: '0',
}));

interface NewmanReport {
  run: {
    stats: Record<'requests' | 'assertions' | 'testScripts', { total: number; failed: number }>;
    failures: { error: { message: string }; source?: { name?: string } }[];
    executions: { item: { name: string }; response?: { code: number } }[];
  };
}

interface Collection {
  item: { item: unknown[] }[];
}

describe('the Postman collection', () => {
  it('runs as a whole in newman: every request answers the status its test script expects', async () => {
    const report = join(temp.dir, 'newman.json');
    const child = spawn(
      process.execPath,
      [
        newmanBin,
        'run',
        collectionFile,
        '--env-var',
        `baseUrl=${server.base}`,
        '--reporters',
        'cli,json',
        '--reporter-json-export',
        report,
        '--color',
        'off',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode, output).toBe(0);

    const { run } = JSON.parse(readFileSync(report, 'utf8')) as NewmanReport;
    expect(run.failures.map((failure) => `${failure.source?.name}: ${failure.error.message}`)).toEqual([]);
    const collection = JSON.parse(readFileSync(collectionFile, 'utf8')) as Collection;
    const requests = collection.item.reduce((count, folder) => count + folder.item.length, 0);
    expect(run.stats.requests).toMatchObject({ total: requests, failed: 0 });
    // Every request succeeded (none refused for a missing key or a placeholder id)...
    const refused = run.executions
      .filter((execution) => !(execution.response && execution.response.code >= 200 && execution.response.code < 300))
      .map((execution) => `${execution.item.name}: ${execution.response?.code ?? 'no response'}`);
    expect(refused).toEqual([]);
    // ...and says so in its own test script: one status assertion per request, at least.
    expect(run.stats.assertions.total).toBeGreaterThanOrEqual(requests);
    expect(run.stats.assertions.failed).toBe(0);
  });
});
