import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { TEST_ADMIN_KEY } from './helpers/app.js';
import { resolveDatabaseUrl } from './helpers/database.js';
import { startSse, writeSse } from './helpers/fake-upstream.js';
import { startServerProcess, untilClosing, type RunningServer } from './helpers/server.js';
import { deferred, openEventStream } from './helpers/sse-client.js';
import { useFakeUpstream, useServerProcessCleanup, useTempDir } from './helpers/suite.js';

/**
 * A client that sends a request's headers and the start of its body, then nothing: the real
 * server (a child process) cuts it off after REQUEST_TIMEOUT_MS, and SIGTERM is not held up
 * by it.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();
useServerProcessCleanup();

async function startServer(name: string, env: Record<string, string>): Promise<RunningServer> {
  return startServerProcess({
    DATABASE_URL: await resolveDatabaseUrl(join(temp.dir, name)),
    YOU_API_KEY: 'stalled-upload-test-key',
    YOU_API_URL: upstream.url,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    UPSTREAM_MAX_ATTEMPTS: '1',
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'info',
    ...env,
  });
}

/**
 * A connection that announces a 100-byte body, sends 4 bytes of it and falls silent.
 * `closed` resolves with everything the server wrote on it once the server closes it.
 */
async function stalledUpload(base: string) {
  const socket = connect(Number(new URL(base).port), '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined); // a reset is a close too
  const closed = once(socket, 'close').then(() => received);
  socket.write(
    'POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na',
  );
  // Once a request on another connection is answered, the server has read this one's headers.
  await fetch(`${base}/health`);
  return { socket, closed };
}

/** Waits, bounded, until the server's output contains `text`. */
async function outputContains(server: RunningServer, text: string): Promise<boolean> {
  for (let attempt = 0; attempt < 300 && !server.output().includes(text); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return server.output().includes(text);
}

describe('REQUEST_TIMEOUT_MS', () => {
  it('is 30 s unless set, and refused outside 1 s to 10 min, naming the variable', () => {
    expect(loadConfig({}).requestTimeoutMs).toBe(30_000);
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '1000' }).requestTimeoutMs).toBe(1000);
    for (const value of ['999', '600001', '2.5']) {
      expect(() => loadConfig({ REQUEST_TIMEOUT_MS: value })).toThrow(
        new ConfigError(
          `Invalid configuration: REQUEST_TIMEOUT_MS must be a whole number from 1000 to 600000 (got "${value}")`,
        ),
      );
    }
  });
});

describe('a stalled upload', () => {
  it('is answered 408 REQUEST_TIMEOUT in the one error shape, its connection closed, and logged', async () => {
    const server = await startServer('timeout.db', { REQUEST_TIMEOUT_MS: '1000' });
    const { closed } = await stalledUpload(server.base);

    const answer = await closed;
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(head).toMatch(/^connection: close$/im);
    expect(JSON.parse(body)).toEqual({
      statusCode: 408,
      code: 'REQUEST_TIMEOUT',
      error: 'Request Timeout',
      message: expect.any(String),
    });
    // The request's one line says what it was answered.
    expect(await outputContains(server, '"msg":"POST /v1/users 408 REQUEST_TIMEOUT"')).toBe(true);
    // The server goes on serving.
    expect((await fetch(`${server.base}/ready`)).status).toBe(200);
    server.child.kill('SIGTERM');
  }, 60_000);

  it('does not hold up SIGTERM: a running stream still finishes within the grace, the upload is cut, exit 0', async () => {
    // The default REQUEST_TIMEOUT_MS (30 s) is far longer than the grace: shutdown itself cuts the upload.
    const server = await startServer('shutdown.db', { SHUTDOWN_GRACE_MS: '3000' });
    const created = await fetch(`${server.base}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Stalled' }),
    });
    const user = (await created.json()) as { id: string; api_key: string };
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, 'Hel', 'token');
      await release.promise;
      writeSse(res, 'lo', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const stream = await openEventStream(`${server.base}/search`, {
      headers: { authorization: `Bearer ${user.api_key}` },
      body: { user_id: user.id, question: 'Finish before you go', stream: true },
    });
    expect((await stream.next())?.event).toBe('start');
    expect(await stream.next()).toEqual({ event: 'token', data: { text: 'Hel' } });
    const upload = await stalledUpload(server.base);

    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    // Closing has begun once readiness is refused; then the stream may finish.
    await untilClosing(server.base);
    release.resolve();

    const done = (await stream.rest()).at(-1);
    expect(done).toMatchObject({ event: 'done', data: { qa_pair: { answer: 'Hello', status: 'answered' } } });
    await upload.closed;
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    // The upload really was under way when shutdown began (not a connection still idle).
    expect(server.output()).toMatch(/"uploading":1\b/);
    expect(server.output()).toContain('closed the connections of uploads still arriving');
  }, 60_000);
});
