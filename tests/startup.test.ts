import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { freePort } from '../scripts/free-port.js';
import { TEST_ADMIN_KEY } from './helpers/app.js';
import { runCli } from './helpers/cli.js';
import { onPg } from './helpers/database.js';
import { sendJson } from './helpers/fake-upstream.js';
import { startServerProcess } from './helpers/server.js';
import { deferred } from './helpers/sse-client.js';
import { useFakeUpstream, useServerProcessCleanup, useTempDir } from './helpers/suite.js';

/** Start-up as an operator sees it: configuration messages, and the real process. */

const temp = useTempDir();
const upstream = useFakeUpstream();
useServerProcessCleanup();

/** The environment of a server or command on `databaseUrl`, answered by the fake upstream. */
function serverEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    YOU_API_KEY: 'startup-test-key',
    YOU_API_URL: upstream.url,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    UPSTREAM_MAX_ATTEMPTS: '1',
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'warn',
  };
}

function configMessage(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration messages', () => {
  it.each([
    [{ CHATBOT_PROVIDER: 'ollama' }, 'CHATBOT_PROVIDER must be one of you, openai, offline (got "ollama")'],
    [
      { LOG_LEVEL: 'verbose' },
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")',
    ],
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 0 to 65535 (got "eighty")'],
    [{ ALLOW_SIGNUP: 'maybe' }, 'ALLOW_SIGNUP must be true or false (got "maybe")'],
    [{ YOU_API_URL: 'ftp://example.com' }, 'YOU_API_URL must be an http(s) URL (got "ftp://example.com")'],
  ])('%o: names the variable, the value and what is allowed', (env, expected) => {
    expect(configMessage(env)).toBe(`Invalid configuration: ${expected}`);
  });

  it('names every invalid variable once, in the documented order', () => {
    expect(configMessage({ LOG_LEVEL: 'loud', PORT: '70000', HISTORY_MAX_TURNS: '1.5' })).toBe(
      'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "70000"); ' +
        'HISTORY_MAX_TURNS must be a whole number from 0 to 1000 (got "1.5"); ' +
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    );
  });

  it.each([
    ['ADMIN_API_KEY', 'short-admin'],
    ['METRICS_TOKEN', 'short-token'],
  ])('never shows the value of the secret %s', (name, value) => {
    const message = configMessage({ [name]: value });
    expect(message).toBe(
      `Invalid configuration: ${name} must be at least 16 characters long (got a value not shown: it is secret)`,
    );
    expect(message).not.toContain(value);
  });
});

// The variables the README says count as unset when empty; they used to stop start-up
// (env-schema read process.env itself, empty values included).
const EMPTY = {
  YOU_API_KEY: '',
  DATABASE_URL: '',
  OPENAI_API_KEY: '',
  ADMIN_API_KEY: '',
  CHATBOT_PROVIDER: '',
};

describe.skipIf(onPg)('empty variables in the real process', () => {
  it('a command with every documented variable empty (PORT too) runs on the defaults', async () => {
    const cwd = join(temp.dir, 'cli-cwd');
    mkdirSync(cwd);
    const result = await runCli(['migrate'], { cwd, env: { ...EMPTY, PORT: '' } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The default DATABASE_URL, relative to the working directory.
    expect(existsSync(join(cwd, 'data', 'chat.db'))).toBe(true);
  });

  it('the server starts with them empty, on the offline provider and the default database', async () => {
    const cwd = join(temp.dir, 'server-cwd');
    mkdirSync(cwd);
    const server = await startServerProcess({ ...EMPTY, LOG_LEVEL: 'info' }, { cwd });
    const health = await fetch(`${server.base}/ready`);
    expect(health.status).toBe(200);
    expect(existsSync(join(cwd, 'data', 'chat.db'))).toBe(true);
    expect(server.output()).toContain('offline');
    server.child.kill('SIGTERM');
  });
});

const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };

describe.skipIf(onPg)('one server per SQLite file', () => {
  it('a second server exits at once naming the file and pid; the first one keeps answering; the CLI works beside it', async () => {
    const databaseUrl = join(temp.dir, 'claimed.db');
    const first = await startServerProcess(serverEnv(databaseUrl));
    const user = (await (
      await fetch(`${first.base}/v1/users`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'Claim' }) })
    ).json()) as { id: string };

    const release = deferred();
    upstream.reset();
    upstream.setHandler(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'answered while a second server tried to start' });
    });
    const ask = fetch(`${first.base}/search`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ user_id: user.id, question: 'Are you still there?' }),
    });
    for (let attempt = 0; upstream.requests.length === 0 && attempt < 1000; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(upstream.requests).toHaveLength(1);

    const second = await runCli(['serve'], {
      signal: AbortSignal.timeout(25_000),
      env: { ...serverEnv(databaseUrl), PORT: String(await freePort()) },
    });
    expect(second.code).toBe(4);
    expect(second.stderr).toContain(`the database ${databaseUrl} is in use by another server (pid ${first.child.pid})`);
    expect(second.stderr).not.toContain('marked pairs');

    // Import and export do not claim the file: they work beside the running server.
    const backup = join(temp.dir, 'claimed-backup.ndjson');
    const exported = await runCli(['export', '--user', user.id, '--out', backup], { env: serverEnv(databaseUrl) });
    expect(exported.code).toBe(0);
    const imported = await runCli(['import', backup, '--user', user.id], { env: serverEnv(databaseUrl) });
    expect(imported.stdout).toBe('imported 0, skipped 1, failed 0\n');
    expect(imported.code).toBe(0);
    expect(readFileSync(backup, 'utf8')).toContain('Are you still there?');

    release.resolve();
    const answered = await ask;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({
      qa_pair: { answer: 'answered while a second server tried to start', status: 'answered' },
    });
    first.child.kill('SIGTERM');
    const [code] = (await once(first.child, 'exit')) as [number | null];
    expect(code).toBe(0);
  }, 60_000);

  it('a SIGKILLed server does not leave the file claimed', async () => {
    const databaseUrl = join(temp.dir, 'killed.db');
    const first = await startServerProcess(serverEnv(databaseUrl));
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const next = await startServerProcess(serverEnv(databaseUrl));
    expect((await fetch(`${next.base}/ready`)).status).toBe(200);
    next.child.kill('SIGTERM');
    await once(next.child, 'exit');
  }, 60_000);

  it('a busy port stops start-up naming PORT, before the database is touched', async () => {
    const running = await startServerProcess(serverEnv(join(temp.dir, 'port-owner.db')));
    const port = new URL(running.base).port;
    const otherDatabase = join(temp.dir, 'never-created', 'other.db');
    const second = await runCli(['serve'], {
      signal: AbortSignal.timeout(25_000),
      env: { ...serverEnv(otherDatabase), PORT: port, HOST: '127.0.0.1' },
    });
    expect(second.code).toBe(4);
    expect(second.stderr).toBe(
      `Cannot listen on 127.0.0.1:${port}: the port is in use (is the server already running?); stop what uses it, or set PORT to another port\n`,
    );
    expect(existsSync(join(temp.dir, 'never-created'))).toBe(false);
    running.child.kill('SIGTERM');
    await once(running.child, 'exit');
  }, 60_000);
});

describe.skipIf(onPg)('an unusable SQLite path', () => {
  it('a parent that is a file is named as such, by the server and by the command line', async () => {
    const file = join(temp.dir, 'not-a-folder.txt');
    writeFileSync(file, 'a file');
    const databaseUrl = join(file, 'chat.db');
    for (const args of [['serve'], ['migrate']]) {
      const result = await runCli(args, {
        signal: AbortSignal.timeout(25_000),
        env: { ...serverEnv(databaseUrl), PORT: String(await freePort()) },
      });
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(
        `DATABASE_URL=${databaseUrl}: its folder cannot be created: ${file} is a file, not a folder`,
      );
    }
  });

  it('a folder that cannot be created fails at once (no endless mkdir on /proc)', async () => {
    const result = await runCli(['serve'], {
      signal: AbortSignal.timeout(25_000),
      env: { ...serverEnv('/proc/nope/chat.db'), PORT: String(await freePort()) },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(
      'DATABASE_URL=/proc/nope/chat.db: its folder /proc/nope cannot be created (ENOENT)',
    );
  });
});
