import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/free-port.js';
import { builtBinary } from './helpers/binary.js';
import { runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/suite.js';

/**
 * The single executable, built by `npm run build:binary`'s script (once per content of the
 * sources, see helpers/binary.ts), then copied alone into an empty folder (no node_modules
 * anywhere above it) and used there as a person would: serve, sign up, ask, read, open the
 * docs, stop; then the command line.
 */

const temp = useTempDir();
/** Shared with tests/container.test.ts: one build per content of the sources. */
let binary = '';

beforeAll(async () => {
  binary = await builtBinary();
}, 180_000);

/** An empty folder holding only a copy of the executable, and a home for its cache. */
function emptyFolder(name: string): { dir: string; executable: string; home: string } {
  const dir = join(temp.dir, name);
  mkdirSync(dir);
  const executable = join(dir, 'chat-history');
  copyFileSync(binary, executable);
  return { dir, executable, home: join(temp.dir, `${name}-home`) };
}

describe('the single executable', () => {
  it('serves the API and the explorer from an empty folder, and stops with exit 0 on SIGTERM', async () => {
    const { dir, executable, home } = emptyFolder('serve');
    const port = await freePort();
    const child = spawn(executable, [], {
      cwd: dir,
      // HOME only: the cache goes to ~/.cache, the database to ./data/chat.db.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        PORT: String(port),
        CHATBOT_PROVIDER: 'offline',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    try {
      const base = `http://127.0.0.1:${port}`;
      let ready = false;
      for (let attempt = 0; attempt < 400 && !ready && child.exitCode === null; attempt += 1) {
        ready = await fetch(`${base}/ready`).then(
          (response) => response.ok,
          () => false,
        );
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(ready, output).toBe(true);

      const signup = await fetch(`${base}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Binary' }),
      });
      expect(signup.status).toBe(201);
      const user = (await signup.json()) as { id: string; api_key: string };
      const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };

      const asked = await fetch(`${base}/search`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ user_id: user.id, question: 'Does the binary answer?' }),
      });
      expect(asked.status).toBe(200);
      const answer = (await asked.json()) as { chat_id: string; qa_pair: { answer: string; provider: string } };
      expect(answer.qa_pair.provider).toBe('offline');
      expect(answer.qa_pair.answer).not.toBe('');

      const chat = await fetch(`${base}/v1/users/${user.id}/chats/${answer.chat_id}`, { headers });
      expect(chat.status).toBe(200);
      expect(await chat.json()).toMatchObject({
        qa_pairs: [{ question: 'Does the binary answer?', status: 'answered' }],
      });

      // The explorer's page and files come from the unpacked copy of swagger-ui.
      const page = await fetch(`${base}/docs`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('swagger-ui');
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'logo.svg']) {
        const response = await fetch(`${base}/docs/static/${file}`);
        expect(response.status, file).toBe(200);
        // Read to the end: a body left unread keeps its connection busy and delays shutdown.
        expect((await response.arrayBuffer()).byteLength, file).toBeGreaterThan(0);
      }
      // The web client comes from the unpacked copy of dist/web, with what it loads at once.
      const client = await fetch(`${base}/`);
      expect(client.status).toBe(200);
      expect(client.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await client.text();
      const script = /<script[^>]*src="([^"]+)"/.exec(html)?.[1];
      expect(script).toMatch(/^\/assets\/.+\.js$/);
      const scriptResponse = await fetch(`${base}${script}`);
      expect(scriptResponse.status).toBe(200);
      expect((await scriptResponse.arrayBuffer()).byteLength).toBeGreaterThan(10_000);

      const document = await fetch(`${base}/docs/json`);
      expect(((await document.json()) as { openapi: string }).openapi).toBe('3.1.0');

      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code, output).toBe(0);

      // The same file answers on the command line, with the unpacked SQLite addon.
      const exported = await runCli(['export', '--user', user.id], {
        command: [executable],
        cwd: dir,
        env: { HOME: home },
      });
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toContain('Does the binary answer?');
    } finally {
      child.kill('SIGKILL');
    }
    expect(readdirSync(dir).sort()).toEqual(['chat-history', 'data']);
    // One cache folder, named by version and content hash.
    expect(readdirSync(join(home, '.cache', 'chat-history-service'))).toEqual([
      expect.stringMatching(/^\d+\.\d+\.\d+-[0-9a-f]{16}$/),
    ]);
  }, 60_000);

  it('unpacks its files once per build, also when several processes start at once', async () => {
    const { dir, executable } = emptyFolder('concurrent');
    const cache = join(temp.dir, 'shared-cache');
    const runs = await Promise.all(
      [1, 2, 3, 4].map((index) =>
        runCli(['migrate'], {
          command: [executable],
          cwd: dir,
          env: { CACHE_DIR: cache, DATABASE_URL: `db-${index}.sqlite` },
        }),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    // One complete folder; no temporary one left behind.
    const folders = readdirSync(cache);
    expect(folders).toHaveLength(1);
    const unpacked = join(cache, folders[0] ?? '');
    expect(existsSync(join(unpacked, 'better_sqlite3.node'))).toBe(true);
    expect(existsSync(join(unpacked, 'drizzle', 'sqlite', 'meta', '_journal.json'))).toBe(true);

    const help = await runCli(['create-user', '--help'], { command: [executable], cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: chat-history create-user');

    // A cleaner took the addon and cut a migration short: the next start unpacks again.
    rmSync(join(unpacked, 'better_sqlite3.node'));
    writeFileSync(join(unpacked, 'drizzle', 'sqlite', 'meta', '_journal.json'), '{');
    const repaired = await runCli(['migrate'], {
      command: [executable],
      cwd: dir,
      env: { CACHE_DIR: cache, DATABASE_URL: 'db-5.sqlite' },
    });
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(existsSync(join(unpacked, 'better_sqlite3.node'))).toBe(true);
    expect(readdirSync(cache)).toEqual(folders);
  }, 60_000);
});
