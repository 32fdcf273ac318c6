import { buildApp, type App, type BuildAppOptions } from '../../src/app.js';
import type { ChatbotProvider } from '../../src/chatbot/index.js';
import { loadConfig } from '../../src/config.js';
import { queryRows, resolveDatabaseUrl } from './database.js';

export const TEST_YOU_KEY = 'test-upstream-key-not-real';
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestAppOptions {
  /** A SQLite path or :memory:; on the PostgreSQL suite, the database standing for it. */
  databaseUrl: string;
  upstreamUrl?: string;
  env?: Record<string, string>;
  chatbot?: ChatbotProvider;
  /** Pino options replacing the silent default (a test that reads what is logged). */
  logger?: BuildAppOptions['logger'];
  /** The built web client's folder (default dist/web). */
  webDir?: string;
}

/** Builds the real app on the given database, pointed at a fake upstream, logging nothing. */
export async function buildTestApp(options: TestAppOptions): Promise<App> {
  const config = loadConfig({
    DATABASE_URL: await resolveDatabaseUrl(options.databaseUrl),
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    // One try per call unless a test is about retries: failure mappings stay exact.
    UPSTREAM_MAX_ATTEMPTS: '1',
    ...(options.upstreamUrl ? { YOU_API_URL: options.upstreamUrl, YOU_API_KEY: TEST_YOU_KEY } : {}),
    ...options.env,
  });
  return buildApp({
    config,
    ...(options.chatbot ? { chatbot: options.chatbot } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
}

export interface TestUser {
  id: string;
  name: string;
  apiKey: string;
  headers: { authorization: string };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export async function createUser(app: App, name = 'Ada'): Promise<TestUser> {
  const response = await app.inject({ method: 'POST', url: '/v1/users', payload: { name } });
  if (response.statusCode !== 201) throw new Error(`createUser failed: ${response.statusCode} ${response.body}`);
  const body = response.json<{ id: string; name: string; api_key: string }>();
  return { id: body.id, name: body.name, apiKey: body.api_key, headers: bearer(body.api_key) };
}

export async function ask(app: App, user: TestUser, body: Record<string, unknown>, headers = user.headers) {
  return app.inject({ method: 'POST', url: '/search', headers, payload: { user_id: user.id, ...body } });
}

/** Row counts of every table: a rejected request must leave them all unchanged. */
const TABLES = ['users', 'api_keys', 'chats', 'qa_pairs', 'webhooks', 'event_tickets'] as const;

export async function tableCounts(app: App): Promise<Record<(typeof TABLES)[number], number>> {
  const counts = await Promise.all(
    TABLES.map(async (table) => {
      const [row] = await queryRows<{ n: number }>(
        app,
        `SELECT count(*) AS n FROM ${table}`,
        [],
        `SELECT count(*)::int AS n FROM ${table}`,
      );
      return [table, row?.n ?? 0] as const;
    }),
  );
  return Object.fromEntries(counts) as Record<(typeof TABLES)[number], number>;
}
