import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createTempDir, createUser, type TestUser } from './helpers/app.js';
import { sendJson, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { deferred } from './helpers/sse-client.js';

/** Defects found by attacking the service from outside (issue 13), each replayed here. */

let upstream: FakeUpstream;
let app: App;
let ada: TestUser;
let bob: TestUser;
const temp = createTempDir();

interface AskBody {
  chat_id: string;
  branch_id: string;
  qa_pair: { id: string };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  app = await buildTestApp({ databaseUrl: join(temp.dir, 'attacks.db'), upstreamUrl: upstream.url });
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});

afterAll(async () => {
  await app.close();
  await upstream.close();
  temp.cleanup();
});

beforeEach(() => upstream.reset());

/** Holds the next upstream call until `release` is called; `held` resolves once it arrived. */
function holdNextAnswer() {
  const gate = deferred();
  const arrived = deferred();
  upstream.enqueue(async (_request, res) => {
    arrived.resolve();
    await gate.promise;
    sendJson(res, 200, { answer: 'the slow answer' });
  });
  return { held: arrived.promise, release: () => gate.resolve() };
}

describe("another user's requests on a chat do not wait in its queue", () => {
  it('answers 404 at once while the owner has an ask running, and leaves the queue to the owner', async () => {
    const first = (await ask(app, ada, { question: 'first' })).json<AskBody>();
    const chatId = first.chat_id;
    const pairId = first.qa_pair.id;
    const { held, release } = holdNextAnswer();
    const slow = ask(app, ada, { chat_id: chatId, question: 'slow' });
    await held;

    // Without the fix each of these waits behind Ada's held ask: the test would hang here.
    const chat = `/v1/users/${bob.id}/chats/${chatId}`;
    const bobs = await Promise.all([
      ...Array.from({ length: 12 }, (_, index) => ask(app, bob, { chat_id: chatId, question: `probe ${index}` })),
      ask(app, bob, { chat_id: chatId, question: 'streamed probe', stream: true }),
      ask(app, bob, { chat_id: chatId, question: 'after a pair', parent_id: pairId }),
      app.inject({ method: 'POST', url: `${chat}/fork`, headers: bob.headers, payload: { qa_pair_id: pairId } }),
      app.inject({ method: 'POST', url: `${chat}/qa_pairs/${pairId}/regenerate`, headers: bob.headers }),
      app.inject({ method: 'DELETE', url: `${chat}/branches/${first.branch_id}`, headers: bob.headers }),
    ]);
    for (const response of bobs) {
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    }

    // Ada's own next ask still finds room in her chat's queue.
    const next = ask(app, ada, { chat_id: chatId, question: 'next' });
    release();
    expect((await slow).statusCode).toBe(200);
    const answered = await next;
    expect(answered.statusCode).toBe(200);
    const view = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
    expect(view.json<{ qa_pairs: { question: string }[] }>().qa_pairs.map((pair) => pair.question)).toEqual([
      'first',
      'slow',
      'next',
    ]);
  });
});
