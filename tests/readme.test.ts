import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useServerProcess, useTempDir } from './helpers/suite.js';
import { resolveDatabaseUrl } from './helpers/database.js';

/**
 * The README's curl walkthrough, run as written: its `sh walkthrough` blocks, in order, in
 * one bash against the real server on a loopback port, with the offline chatbot (nothing
 * leaves the machine). Every command must succeed (`set -Eeuo pipefail`, a trap naming the
 * one that failed), and curl fails on an HTTP error status.
 */

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```sh walkthrough\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');

const PREAMBLE = `set -Eeuo pipefail
trap 'echo "walkthrough failed at: $BASH_COMMAND" >&2' ERR
curl() { command curl --fail-with-body --show-error "$@"; }
`;

const temp = useTempDir();
beforeAll(() => {
  // curl and bash are the walkthrough's tools: without them it cannot be checked, and a
  // skipped check would let the README drift unseen, so this fails instead.
  const tools = spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' });
  if (tools.error || tools.status !== 0) {
    throw new Error('tests/readme.test.ts runs the README walkthrough with bash and curl: install them');
  }
});
const server = useServerProcess(async () => ({
  DATABASE_URL: await resolveDatabaseUrl(join(temp.dir, 'readme.db')),
  CHATBOT_PROVIDER: 'offline',
  LOG_LEVEL: 'warn',
}));

async function runBash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', script], {
    cwd: temp.dir, // the walkthrough writes chats.ndjson where it runs
    // HOME keeps a developer's ~/.curlrc out; BASE points the walkthrough at this server.
    env: { PATH: process.env.PATH ?? '', HOME: temp.dir, BASE: server.base },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('the README walkthrough', () => {
  it('has its blocks marked for this test', () => {
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatch(/^BASE=\$\{BASE:-http:\/\/127\.0\.0\.1:3000\}$/m);
  });

  it('runs from top to bottom against the real server, every request succeeding', async () => {
    const { code, stdout, stderr } = await runBash(PREAMBLE + blocks.join('\n'));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    // Sign-up, who-am-I, asks in one chat.
    expect(stdout).toMatch(/"name":"Ada".*"api_key":"/);
    expect(stdout).toContain('You asked: \\"And when should I not use it?\\"');
    // The idempotent retry: the first response, then the same one replayed.
    expect(stdout.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(2);
    expect(stdout).toMatch(/^idempotent-replayed: true/im);
    // The stream ends with its stored pair.
    expect(stdout).toMatch(/^event: done$/m);
    // Settings, then the exact upstream body the next question would send.
    expect(stdout).toContain('"system_prompt":"Answer in one sentence."');
    expect(stdout).toContain('"history_turns":0');
    // Export, re-import: every chat already there.
    expect(stdout).toMatch(/^# What is SQLite's WAL mode\?$/m);
    expect(stdout).toMatch(/"status":"skipped"/);
    expect(stdout).not.toMatch(/"status":"(imported|failed)"/);
    expect(stdout).toMatch(/^\{"status":"ok"/m);
    // Search found the question; the chat was renamed, then deleted.
    expect(stdout).toContain('<mark>SQLite</mark>');
    expect(stdout).toContain('"title":"SQLite notes"');
    expect(stdout).toMatch(/^204$/m);
    // The branching session: an edit, a regeneration, a named branch, a fork.
    expect(stdout).toContain('"name":"food"');
    expect(stdout).toContain('"name":"original"');
    expect(stdout).toContain('"deleted_qa_pairs"');
    expect(stdout).toMatch(/"title":"Lisbon food".*"forked_from":\{"chat_id":"/);
  });
});
