import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import createClient, { type Middleware } from 'openapi-fetch';
import { describe, expect, it } from 'vitest';
import type { paths } from '../src/openapi/schema.js';
import { useServerProcess, useTempDir } from './helpers/suite.js';
import { resolveDatabaseUrl } from './helpers/database.js';

/**
 * The main flows through a client generated from the committed spec (openapi-typescript
 * types + openapi-fetch), against the real server over HTTP. Types catch a renamed field or
 * route at `npm run typecheck`; at run time every response is checked against the committed
 * document: its status and content type must be declared, and a JSON body must match its schema.
 */

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

const specFile = join(import.meta.dirname, '..', 'src', 'openapi', 'openapi.json');
const document = JSON.parse(readFileSync(specFile, 'utf8')) as Document;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(document, 'openapi.json');
const validators = new Map<string, ValidateFunction>();

const pointer = (...tokens: string[]) =>
  tokens.map((token) => token.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** Fails the call when the server answers something the committed spec does not declare. */
const matchesSpec: Middleware = {
  async onResponse({ request, response, schemaPath }) {
    const method = request.method.toLowerCase();
    const where = `${request.method} ${schemaPath} -> ${response.status}`;
    const operation = document.paths[schemaPath]?.[method];
    if (!operation) throw new Error(`${request.method} ${schemaPath} is not in the spec`);
    const status = String(response.status);
    const declared = operation.responses[status] ?? operation.responses.default;
    if (!declared) throw new Error(`${where}: status not declared in the spec`);
    if (response.status === 204) return undefined;
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (!declared.content?.[mediaType]) throw new Error(`${where}: content type ${mediaType} not declared`);
    if (mediaType !== 'application/json') return undefined;
    const ref = `openapi.json#/${pointer('paths', schemaPath, method, 'responses', status, 'content', mediaType, 'schema')}`;
    let validate = validators.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      validators.set(ref, validate);
    }
    const body: unknown = await response.clone().json();
    if (!validate(body)) throw new Error(`${where}: body does not match the spec: ${ajv.errorsText(validate.errors)}`);
    return undefined;
  },
};

/** The data of a successful call, or a failure naming the status and error body. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${result.response.status}: ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const temp = useTempDir();
const server = useServerProcess(async () => ({
  DATABASE_URL: await resolveDatabaseUrl(join(temp.dir, 'client.db')),
  CHATBOT_PROVIDER: 'offline',
  RATE_LIMIT_MAX: '0',
  LOG_LEVEL: 'warn',
}));

function clientFor(apiKey?: string) {
  const client = createClient<paths>({
    baseUrl: server.base,
    ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
  });
  client.use(matchesSpec);
  return client;
}

describe('the typed client against the real server', () => {
  it('signs up, asks, reads, lists, branches, searches and exports', async () => {
    const anonymous = clientFor();
    const user = ok(await anonymous.POST('/v1/users', { body: { name: 'Ada' } }));
    expect(user.name).toBe('Ada');
    const api = clientFor(user.api_key);
    const me = ok(await api.GET('/v1/users/me'));
    expect(me.id).toBe(user.id);
    const path = { user_id: user.id };

    // Create a chat, ask twice in it: the second answer saw the first turn.
    const created = ok(await api.POST('/v1/users/{user_id}/chats', { params: { path }, body: { title: 'SQLite' } }));
    expect(created).toMatchObject({ title: 'SQLite', qa_count: 0, user_id: user.id });
    const chat = { ...path, chat_id: created.id };
    const first = ok(
      await api.POST('/search', {
        body: { user_id: user.id, chat_id: created.id, question: "What is SQLite's WAL mode?" },
      }),
    );
    expect(first.chat_id).toBe(created.id);
    expect(first.qa_pair).toMatchObject({ status: 'answered', parent_id: null, provider: 'offline' });
    const second = ok(
      await api.POST('/search', { body: { user_id: user.id, chat_id: created.id, question: 'And when not?' } }),
    );
    expect(second.qa_pair.parent_id).toBe(first.qa_pair.id);
    expect(second.qa_pair.answer).toContain('I saw 1 earlier turn');

    // Read it: the active branch, first question first.
    const read = ok(await api.GET('/v1/users/{user_id}/chats/{chat_id}', { params: { path: chat } }));
    expect(read.qa_pairs.map((pair) => pair.question)).toEqual(["What is SQLite's WAL mode?", 'And when not?']);

    // A second chat, started by asking without a chat id; list both, a page at a time.
    const other = ok(await api.POST('/search', { body: { user_id: user.id, question: 'Plan a weekend in Lisbon' } }));
    const page1 = ok(await api.GET('/v1/users/{user_id}/chats', { params: { path, query: { limit: 1 } } }));
    expect(page1.data.map((summary) => summary.id)).toEqual([other.chat_id]);
    expect(page1.has_more).toBe(true);
    const cursor = page1.next_cursor ?? expect.fail('no next_cursor');
    const page2 = ok(await api.GET('/v1/users/{user_id}/chats', { params: { path, query: { limit: 1, cursor } } }));
    expect(page2.data.map((summary) => summary.id)).toEqual([created.id]);
    expect(page2.has_more).toBe(false);

    // Branches: fork at the first pair, ask there, switch back to main.
    const branch = ok(
      await api.POST('/v1/users/{user_id}/chats/{chat_id}/branches', {
        params: { path: chat },
        body: { from_qa_pair_id: first.qa_pair.id, name: 'alternative' },
      }),
    );
    expect(branch).toMatchObject({ name: 'alternative', active: true, head_qa_pair_id: first.qa_pair.id });
    const onBranch = ok(
      await api.POST('/search', {
        body: { user_id: user.id, chat_id: created.id, question: 'Tell me about journaling' },
      }),
    );
    expect(onBranch.branch_id).toBe(branch.id);
    expect(onBranch.qa_pair.parent_id).toBe(first.qa_pair.id);
    const branches = ok(await api.GET('/v1/users/{user_id}/chats/{chat_id}/branches', { params: { path: chat } }));
    expect(branches.data.map(({ name, active }) => ({ name, active }))).toEqual([
      { name: 'main', active: false },
      { name: 'alternative', active: true },
    ]);
    const main = branches.data[0] ?? expect.fail('no main branch');
    const switched = ok(
      await api.PUT('/v1/users/{user_id}/chats/{chat_id}/active-branch', {
        params: { path: chat },
        body: { branch_id: main.id },
      }),
    );
    expect(switched).toMatchObject({ id: main.id, active: true });
    const tree = ok(await api.GET('/v1/users/{user_id}/chats/{chat_id}/tree', { params: { path: chat } }));
    expect(tree.nodes).toHaveLength(3);

    // Search finds the question, in its chat.
    const found = ok(await api.GET('/v1/users/{user_id}/search', { params: { path, query: { q: 'journaling' } } }));
    expect(found.data.map((hit) => [hit.chat_id, hit.qa_pair_id])).toEqual([[created.id, onBranch.qa_pair.id]]);
    expect(found.data[0]?.matched_in).toContain('question');

    // Export: one chat as JSON and as Markdown, everything as NDJSON.
    const exportedJson = ok(
      await api.GET('/v1/users/{user_id}/chats/{chat_id}/export', {
        params: { path: chat, query: { format: 'json' } },
      }),
    );
    // The route answers JSON or Markdown by `format`; the types say both may come back.
    const exported = typeof exportedJson === 'string' ? expect.fail('format=json answered text') : exportedJson;
    expect(exported.format).toBe('chat-history.chat');
    expect(exported.qa_pairs).toHaveLength(3);
    expect(exported.branches.map(({ name }) => name)).toEqual(['main', 'alternative']);
    const markdown = ok(
      await api.GET('/v1/users/{user_id}/chats/{chat_id}/export', {
        params: { path: chat, query: { format: 'markdown' } },
        parseAs: 'text',
      }),
    );
    expect(markdown).toContain('# SQLite');
    const ndjson = ok(await api.GET('/v1/users/{user_id}/export', { params: { path }, parseAs: 'text' }));
    expect(ndjson.trim().split('\n')).toHaveLength(2);

    // Errors come typed too.
    const missing = await api.GET('/v1/users/{user_id}/chats/{chat_id}', {
      params: { path: { ...path, chat_id: crypto.randomUUID() } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.code).toBe('CHAT_NOT_FOUND');

    const deleted = await api.DELETE('/v1/users/{user_id}/chats/{chat_id}', { params: { path: chat } });
    expect(deleted.response.status).toBe(204);
  });
});
