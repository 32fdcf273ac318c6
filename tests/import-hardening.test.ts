import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { StorageServiceStores } from '../src/services/index.js';
import { createAccessService } from '../src/services/access.js';
import { fromChatGpt } from '../src/services/imports/chatgpt.js';
import { ImportError } from '../src/services/imports/common.js';
import { createPortabilityService } from '../src/services/portability.js';
import { WorkMeter } from '../src/services/work-meter.js';
import { createUser, tableCounts, type TestUser } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
let app: App;
let ada: TestUser;
useTestApp(
  { databaseUrl: join(temp.dir, 'import-hardening.db'), env: { CHATBOT_PROVIDER: 'offline' } },
  async (suite) => {
    app = suite.app;
    ada = await createUser(app, 'Ada');
  },
);

interface Report {
  imported: number;
  skipped: number;
  failed: number;
  results: { status: string; chat_id: string | null; error: string | null; qa_pairs: number }[];
}
interface ExportedPair {
  id: string;
  question: string;
  answer: string | null;
  status: string;
  error: { code: string; message: string } | null;
  answered_at: string | null;
  search_results: Record<string, unknown>[];
}
interface Exported {
  chat: { id: string; title: string };
  qa_pairs: ExportedPair[];
}

const importUrl = (user: TestUser) => `/v1/users/${user.id}/chats/import`;
const importJson = (user: TestUser, payload: unknown) =>
  app.inject({ method: 'POST', url: importUrl(user), headers: user.headers, payload: payload as object });
const exportChat = async (user: TestUser, chatId: string) =>
  (
    await app.inject({
      method: 'GET',
      url: `/v1/users/${user.id}/chats/${chatId}/export?format=json`,
      headers: user.headers,
    })
  ).json<Exported>();

const T = 1_700_000_000;
function gptNode(id: string, parent: string | null, children: string[], role: string | null, text: string) {
  return {
    id,
    parent,
    children,
    message:
      role === null ? null : { id, author: { role }, create_time: T, content: { content_type: 'text', parts: [text] } },
  };
}

/** One question followed by a chain of `messages` assistant and tool messages (an agent run). */
function agentRun(messages: number, id = `agent-${messages}`) {
  const mapping: Record<string, unknown> = { q: gptNode('q', null, messages > 0 ? ['m0'] : [], 'user', 'Run it') };
  for (let index = 0; index < messages; index += 1) {
    const next = index + 1 < messages ? [`m${index + 1}`] : [];
    const role = index % 2 === 0 ? 'assistant' : 'tool';
    mapping[`m${index}`] = gptNode(
      `m${index}`,
      index === 0 ? 'q' : `m${index - 1}`,
      next,
      role,
      `${role} step ${index}`,
    );
  }
  return { title: 'Agent run', conversation_id: id, create_time: T, mapping, current_node: `m${messages - 1}` };
}

/** A chat exported through the API: one answered question. */
async function exportedChat(user: TestUser, question: string): Promise<Exported & Record<string, unknown>> {
  const asked = await app.inject({
    method: 'POST',
    url: '/search',
    headers: user.headers,
    payload: { user_id: user.id, question },
  });
  expect(asked.statusCode, asked.body).toBe(200);
  const chatId = asked.json<{ chat_id: string }>().chat_id;
  const exported = await exportChat(user, chatId);
  // Another user imports it, so it is not skipped as "the chat it was exported from".
  return exported as Exported & Record<string, unknown>;
}

describe('valid conversations that used to fail', () => {
  it('imports a ChatGPT conversation ending in an unanswered question as a failed NOT_ANSWERED pair', async () => {
    const user = await createUser(app, 'Una');
    const conversation = {
      title: 'Unanswered',
      conversation_id: 'conv-unanswered',
      create_time: T,
      current_node: 'u2',
      mapping: {
        u1: gptNode('u1', null, ['a1'], 'user', 'First question'),
        a1: gptNode('a1', 'u1', ['u2'], 'assistant', 'First answer'),
        u2: gptNode('u2', 'a1', [], 'user', 'Second question, never answered'),
      },
    };
    const response = await importJson(user, [conversation]);
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Report>();
    expect(report.results[0]).toMatchObject({ status: 'imported', qa_pairs: 2, error: null });
    const exported = await exportChat(user, report.results[0]?.chat_id ?? '');
    expect(exported.qa_pairs.map((pair) => [pair.status, pair.error?.code ?? null, pair.answered_at])).toEqual([
      ['answered', null, new Date(T * 1000).toISOString()],
      ['failed', 'NOT_ANSWERED', null],
    ]);
  });

  it('imports our export of a pair that was still streaming as a failed INTERRUPTED pair', async () => {
    const exported = await exportedChat(ada, 'A question whose answer was streaming');
    const pair = exported.qa_pairs[0] as ExportedPair;
    Object.assign(pair, { status: 'streaming', answer: 'Half an ans', answered_at: null, error: null });
    const bob = await createUser(app, 'Bob');
    const response = await importJson(bob, exported);
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Report>();
    expect(report.results[0]).toMatchObject({ status: 'imported', error: null });
    const again = await exportChat(bob, report.results[0]?.chat_id ?? '');
    expect(again.qa_pairs[0]).toMatchObject({
      status: 'failed',
      answer: 'Half an ans',
      answered_at: null,
      error: { code: 'INTERRUPTED' },
    });
  });
});

describe('what an import stores', () => {
  it('keeps only the declared fields of search results', async () => {
    const exported = await exportedChat(ada, 'A question with extra source fields');
    const pair = exported.qa_pairs[0] as ExportedPair;
    pair.search_results = [
      { url: 'https://example.com/a', name: 'A', snippet: 'one', smuggled_field: 'x'.repeat(1000) },
    ];
    (pair as unknown as Record<string, unknown>).smuggled_pair_field = 'nope';
    const carol = await createUser(app, 'Carol');
    const report = (await importJson(carol, exported)).json<Report>();
    expect(report.results[0]).toMatchObject({ status: 'imported' });
    // What is stored, not what the export's response schema lets out.
    const rows = await queryRows<{ search_results: unknown }>(
      app,
      'SELECT search_results FROM qa_pairs WHERE chat_id = ?',
      [report.results[0]?.chat_id],
      'SELECT search_results::text AS search_results FROM qa_pairs WHERE chat_id = ?',
    );
    expect(rows).toHaveLength(1);
    expect(JSON.parse(String(rows[0]?.search_results))).toEqual([
      { url: 'https://example.com/a', name: 'A', snippet: 'one' },
    ]);
  });

  it('refuses a value nested 20,000 deep with its own message, writing nothing', async () => {
    const exported = await exportedChat(ada, 'A question with a deep source');
    const pair = exported.qa_pairs[0] as ExportedPair;
    const dave = await createUser(app, 'Dave');
    const before = await tableCounts(app);
    // JSON.stringify would recurse as deep as the value: the body is written by hand.
    const deep = `${'{"a":'.repeat(20_000)}"bottom"${'}'.repeat(20_000)}`;
    const withDeep = JSON.stringify({ ...exported, qa_pairs: [{ ...pair, search_results: [] }] }).replace(
      '"search_results":[]',
      `"search_results":[{"url":"https://example.com/a","name":"A","snippet":"one","extra":${deep}}]`,
    );
    const response = await app.inject({
      method: 'POST',
      url: importUrl(dave),
      headers: { ...dave.headers, 'content-type': 'application/json' },
      payload: withDeep,
    });
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Report>();
    expect(report.results[0]).toMatchObject({ status: 'failed' });
    expect(report.results[0]?.error).toMatch(/nested more than \d+ levels deep/);
    expect(report.results[0]?.error).not.toMatch(/call stack/i);
    expect(await tableCounts(app)).toEqual(before);
  });
});

describe('import reports', () => {
  it('carry our own message when storing fails; the cause goes to the log', async () => {
    const logged: { obj: unknown; msg: string | undefined }[] = [];
    const stores = {
      transfer: {
        importChat: () => Promise.reject(new TypeError("Cannot read properties of null (reading 'getTime')")),
      },
    } as unknown as StorageServiceStores;
    // A user acting for themselves: access needs no user lookup.
    const access = createAccessService({ users: {} as StorageServiceStores['users'], adminApiKey: undefined });
    const service = createPortabilityService({ stores, access });
    const reports = await service.importChats(
      { kind: 'user', userId: 'u1' },
      'u1',
      { kind: 'json', value: agentRun(2) },
      { error: (obj: unknown, msg?: string) => void logged.push({ obj, msg }) },
    );
    expect(reports[0]?.status).toBe('failed');
    expect(reports[0]?.error).toBe('could not be stored');
    const cause = (logged[0]?.obj as { err?: unknown } | undefined)?.err;
    expect(cause instanceof Error ? cause.message : '').toContain('getTime');
  });
});

describe('large imports', () => {
  it('walks a long chain of messages in linear work', async () => {
    const work = async (messages: number) => {
      const meter = new WorkMeter({ sliceUnits: Number.MAX_SAFE_INTEGER });
      const chat = await fromChatGpt(agentRun(messages), meter);
      expect(chat.pairs).toHaveLength(1);
      return meter.units;
    };
    const small = await work(2_000);
    const large = await work(32_000);
    // Sixteen times the messages: sixteen times the work (a quadratic walk would be 256 times).
    expect(large / small).toBeLessThan(17);
    expect(large).toBeLessThan(32_000 * 10);
  });

  it('lets the event loop run: /health sent during a large import is answered before it', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const user = await createUser(app, 'Loop');
    const url = importUrl(user);
    /** Responses in the order the server finished them. */
    const finished: string[] = [];
    let polling: Promise<void> | undefined;
    let importDone = false;
    app.server.on('request', (req, res) => {
      res.on('finish', () => finished.push(req.url ?? ''));
      // Once the server has the whole import body, ask for /health until the import answers.
      if (req.url === url && polling === undefined) {
        req.on('end', () => {
          polling = (async () => {
            for (let attempt = 0; attempt < 10_000 && !importDone; attempt += 1) {
              expect((await fetch(`${base}/health`)).status).toBe(200);
            }
          })();
        });
      }
    });
    const response = await fetch(`${base}${url}`, {
      method: 'POST',
      headers: { ...user.headers, 'content-type': 'application/json' },
      body: JSON.stringify([agentRun(30_000)]),
    });
    importDone = true;
    expect(response.status).toBe(200);
    expect(((await response.json()) as Report).imported).toBe(1);
    await polling;
    const importAt = finished.indexOf(url);
    expect(importAt).toBeGreaterThan(-1);
    expect(finished.slice(0, importAt)).toContain('/health');
  });
});

describe('the conversion itself', () => {
  it('refuses a mapping that is not a tree with its own message', async () => {
    const conversation = {
      conversation_id: 'cycle',
      mapping: {
        u1: gptNode('u1', null, ['a1'], 'user', 'Q'),
        a1: gptNode('a1', 'u1', ['a1'], 'assistant', 'A'),
      },
    };
    await expect(fromChatGpt(conversation, new WorkMeter())).rejects.toBeInstanceOf(ImportError);
  });
});
