import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createTempDir } from './helpers/app.js';
import { runCli } from './helpers/cli.js';
import { onPg } from './helpers/database.js';
import { killServerProcesses, startServerProcess } from './helpers/server.js';

/** Start-up as an operator sees it: configuration messages, and the real process. */

const temp = createTempDir();
afterAll(() => {
  killServerProcesses();
  temp.cleanup();
});

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
