import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser, type TestUser } from './helpers/app.js';
import { sendJson, startFakeUpstream, type RecordedRequest } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

/**
 * Upstream faults through the whole app: each ends in a clear error within the timeout,
 * with the question stored as a failed pair, and nothing left behind.
 */

const TIMEOUT_MS = 800;
const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;
const drips: NodeJS.Timeout[] = [];

/** Faults by question, so that other users' questions are answered normally meanwhile. */
const faults: Record<string, (res: ServerResponse) => void> = {
  'reset mid-body': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"answer": "par', () => res.socket?.destroy());
  },
  'headers then silence': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
  },
  'silence before headers': () => {
    // Never answers at all.
  },
  'slow drip': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"answer": "');
    drips.push(setInterval(() => res.write('a'), 50));
  },
  'html page': (res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>Gateway says hi</body></html>');
  },
  'wrong json shape': (res) => sendJson(res, 200, { choices: [{ text: 'not this API' }] }),
  'oversized body': (res) => sendJson(res, 200, { answer: 'x'.repeat(5 * 1024 * 1024) }),
  'rate limited': (res) => sendJson(res, 429, {}, { 'retry-after': '7' }),
  unavailable: (res) => sendJson(res, 503, {}),
};

function handle(request: RecordedRequest, res: ServerResponse): void {
  const question = (request.body as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
  const fault = faults[question];
  if (fault) fault(res);
  else sendJson(res, 200, { answer: `fine: ${question}` });
}

upstream.setHandler(handle);
useTestApp(
  { databaseUrl: join(temp.dir, 'faults.db'), upstream, env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } },
  async (suite) => {
    app = suite.app;
    ada = await createUser(app, 'Ada');
    bob = await createUser(app, 'Bob');
  },
);
// Registered last, so it runs first: the drips stop before the app and the upstream close.
afterAll(() => {
  for (const drip of drips) clearInterval(drip);
});

async function storedPair(user: TestUser, pairId: string) {
  const list = await app.inject({ method: 'GET', url: `/v1/users/${user.id}/chats?limit=100`, headers: user.headers });
  for (const chat of list.json<{ data: { id: string }[] }>().data) {
    const view = await app.inject({
      method: 'GET',
      url: `/v1/users/${user.id}/chats/${chat.id}`,
      headers: user.headers,
    });
    const pair = view
      .json<{ qa_pairs: { id: string; status: string; error: { code: string } | null }[] }>()
      .qa_pairs.find((candidate) => candidate.id === pairId);
    if (pair) return pair;
  }
  return undefined;
}

describe('upstream faults', () => {
  it.each([
    ['reset mid-body', 502, 'UPSTREAM_UNREACHABLE'],
    ['headers then silence', 504, 'UPSTREAM_TIMEOUT'],
    ['silence before headers', 504, 'UPSTREAM_TIMEOUT'],
    ['slow drip', 504, 'UPSTREAM_TIMEOUT'],
    ['html page', 502, 'UPSTREAM_BAD_RESPONSE'],
    ['wrong json shape', 502, 'UPSTREAM_BAD_RESPONSE'],
    ['oversized body', 502, 'UPSTREAM_BAD_RESPONSE'],
    ['rate limited', 503, 'UPSTREAM_RATE_LIMITED'],
    ['unavailable', 503, 'UPSTREAM_UNAVAILABLE'],
  ])('%s: %i %s and a failed pair', async (question, status, code) => {
    const response = await ask(app, ada, { question });
    expect(response.statusCode).toBe(status);
    const body = response.json<{ code: string; qa_pair_id: string }>();
    expect(body.code).toBe(code);
    expect(await storedPair(ada, body.qa_pair_id)).toMatchObject({ status: 'failed', error: { code } });
  });

  it('connection refused: 502 UPSTREAM_UNREACHABLE and a failed pair', async () => {
    const closed = await startFakeUpstream();
    const url = closed.url;
    await closed.close();
    const refused = await buildTestApp({ databaseUrl: join(temp.dir, 'refused.db'), upstreamUrl: url });
    try {
      const user = await createUser(refused);
      const response = await ask(refused, user, { question: 'anyone home?' });
      expect(response.statusCode).toBe(502);
      expect(response.json()).toMatchObject({ code: 'UPSTREAM_UNREACHABLE' });
    } finally {
      await refused.close();
    }
  });

  it('keeps serving other users while one waits on a silent upstream', async () => {
    let adaDone = false;
    const stuck = ask(app, ada, { question: 'silence before headers' }).then((response) => {
      adaDone = true;
      return response;
    });
    while (!upstream.requests.some((request) => JSON.stringify(request.body).includes('silence before headers'))) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [list, answered] = await Promise.all([
      app.inject({ method: 'GET', url: `/v1/users/${bob.id}/chats`, headers: bob.headers }),
      ask(app, bob, { question: 'quick one' }),
    ]);
    expect(list.statusCode).toBe(200);
    expect(answered.json()).toMatchObject({ qa_pair: { answer: 'fine: quick one' } });
    expect(adaDone).toBe(false);
    expect((await stuck).statusCode).toBe(504);
  });

  it('leaves no timer or socket behind', async () => {
    for (const drip of drips.splice(0)) clearInterval(drip);
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const baseline = timers();
    for (const question of ['html page', 'wrong json shape', 'reset mid-body', 'headers then silence', 'unavailable']) {
      await ask(app, ada, { question });
    }
    for (let index = 0; index < 5; index += 1) await ask(app, ada, { question: `fine ${index}` });
    // Every call's timeout timer is cleared when the call ends.
    expect(timers()).toBeLessThanOrEqual(baseline);
    // Failed connections are closed; the pool keeps at most a couple alive for reuse.
    expect(upstream.openSockets()).toBeLessThanOrEqual(2);
  });
});
