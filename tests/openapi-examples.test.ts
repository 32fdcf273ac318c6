import { readdirSync, readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { EXAMPLE_IDS } from '../src/schemas/common.js';
import { ask, createUser, type TestUser } from './helpers/app.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/**
 * The examples the document gives are the ones the explorer ("Try it out") and Postman send:
 * every request body example must succeed as shown, with only the example ids replaced by
 * real ones, and every error response must show a code the server really uses.
 */

interface MediaType {
  example?: unknown;
}
interface Operation {
  operationId: string;
  security?: unknown[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

const temp = useTempDir();
let app: App;
let ada: TestUser;
let document: Document;
// The webhook example's URL (example.com) is accepted without resolving it (no network
// here) and never delivered to (no delivery rounds).
const env = { CHATBOT_PROVIDER: 'offline', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '0' };
useTestApp({ databaseUrl: join(temp.dir, 'examples.db'), env }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<Document>();
});

const operations = () =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );

/** A fresh chat with one answered pair: the real ids that stand in for EXAMPLE_IDS. */
async function realIds(): Promise<Record<keyof typeof EXAMPLE_IDS, string>> {
  const response = await ask(app, ada, { question: 'Where should I start?' });
  expect(response.statusCode).toBe(200);
  const body = response.json<{ chat_id: string; branch_id: string; qa_pair: { id: string } }>();
  return { user_id: ada.id, chat_id: body.chat_id, qa_pair_id: body.qa_pair.id, branch_id: body.branch_id };
}

function substitute(value: unknown, ids: Record<string, string>): unknown {
  if (typeof value === 'string') {
    const key = Object.entries(EXAMPLE_IDS).find(([, example]) => example === value)?.[0];
    return key === undefined ? value : ids[key];
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, ids));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, ids)]));
  return value;
}

describe('request body examples', () => {
  it('exist for every operation with a body, and each succeeds as shown', async () => {
    const withBody = operations().filter(({ operation }) => operation.requestBody);
    expect(withBody.length).toBeGreaterThanOrEqual(10);
    for (const { path, method, operation } of withBody) {
      const example = operation.requestBody?.content['application/json']?.example;
      expect(example, `${operation.operationId} has an example`).toBeDefined();
      const ids = await realIds();
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name as keyof typeof ids] ?? `{${name}}`);
      const open = Array.isArray(operation.security) && operation.security.length === 0;
      const response = await app.inject({
        method: method as 'POST',
        url,
        headers: open ? {} : ada.headers,
        payload: substitute(example, ids) as Record<string, unknown>,
      });
      expect(response.statusCode, `${operation.operationId}: ${response.body}`).toBeGreaterThanOrEqual(200);
      expect(response.statusCode, `${operation.operationId}: ${response.body}`).toBeLessThan(300);
    }
  });

  it('shows sign-up as open: no key needed (the example above runs without one)', async () => {
    const createUserOp = document.paths['/v1/users']?.post;
    expect(createUserOp?.security).toEqual([]);
  });
});

/** Every .ts file of src but the document's own examples: where a code must appear to be real. */
function serverSource(): string {
  const root = join(import.meta.dirname, '..', 'src');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .filter((file) => !['schemas/error-examples.ts'].includes(relative(root, join(root, file)).replaceAll('\\', '/')));
  return files.map((file) => readFileSync(join(root, file), 'utf8')).join('\n');
}

describe('error response examples', () => {
  it('exist for every error response, with a code the server really sends and its status', () => {
    const source = serverSource();
    let count = 0;
    for (const { operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        count += 1;
        const where = `${operation.operationId} ${status}`;
        const example = response.content?.['application/json']?.example as Record<string, unknown> | undefined;
        expect(example, where).toBeDefined();
        expect(example?.statusCode, where).toBe(Number(status));
        expect(example?.error, where).toBe(Number(status) === 499 ? 'Client Closed Request' : STATUS_CODES[status]);
        const code = String(example?.code);
        expect(code, where).toMatch(/^[A-Z][A-Z_]+$/);
        expect(code, where).not.toMatch(/^FST_/);
        expect(source.includes(`'${code}'`), `${where}: ${code} is a code the server sends`).toBe(true);
      }
    }
    expect(count).toBeGreaterThan(50);
  });
});
