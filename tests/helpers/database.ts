import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { App } from '../../src/app.js';
import type { OpenedDatabase } from '../../src/db/sqlite/client.js';

/**
 * Which engine the suite runs on: SQLite by default, PostgreSQL when TEST_DATABASE_URL
 * names a server (`npm run test:pg` starts a private one). Test files keep naming their
 * databases as SQLite paths; on PostgreSQL each distinct path becomes its own database
 * (created on first use, dropped by the global teardown), so every file still has its own.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const engine: 'sqlite' | 'pg' = TEST_DATABASE_URL ? 'pg' : 'sqlite';
export const onPg = engine === 'pg';
/** Prefix of every database the suite creates, so the teardown can find them. */
export const TEST_DATABASE_PREFIX = 'chat_test_';

const databases = new Map<string, string>();
let admin: pg.Pool | undefined;

function adminPool(): pg.Pool {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  admin ??= new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  return admin;
}

/** The URL of a fresh, empty PostgreSQL database (for tests that need one outright). */
export async function createPgDatabase(label = 'db'): Promise<string> {
  const name = `${TEST_DATABASE_PREFIX}${label
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 20)
    .toLowerCase()}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await adminPool().query(`CREATE DATABASE "${name}"`);
  const url = new URL(TEST_DATABASE_URL ?? '');
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The DATABASE_URL to give the app for what a test calls `location`: the location itself
 * on SQLite; on PostgreSQL the database standing for it (a new one for :memory:).
 */
export async function resolveDatabaseUrl(location: string): Promise<string> {
  if (!onPg || /^postgres(ql)?:\/\//.test(location)) return location;
  if (location === ':memory:') return createPgDatabase('memory');
  const known = databases.get(location);
  if (known) return known;
  const label = location.split('/').at(-1) ?? 'db';
  const url = await createPgDatabase(`${label}_${createHash('sha256').update(location).digest('hex').slice(0, 4)}`);
  databases.set(location, url);
  return url;
}

/** The app's SQLite handle, for the tests that are about SQLite itself. */
export function sqliteOf(app: App): OpenedDatabase {
  if (app.database.engine !== 'sqlite') throw new Error('this test needs SQLite');
  return app.database;
}

/**
 * Runs one statement on the app's own database and returns its rows. `?` placeholders are
 * numbered for PostgreSQL; `pgText` replaces the statement there when the SQL differs.
 */
export async function queryRows<T = Record<string, unknown>>(
  app: App,
  text: string,
  params: unknown[] = [],
  pgText?: string,
): Promise<T[]> {
  const database = app.database;
  if (database.engine === 'sqlite') {
    const statement = database.sqlite.prepare(text);
    if (statement.reader) return statement.all(...params) as T[];
    statement.run(...params);
    return [];
  }
  let index = 0;
  const numbered = (pgText ?? text).replace(/\?/g, () => `$${(index += 1)}`);
  return (await database.pool.query(numbered, params)).rows as T[];
}

/** Drops every database this suite created (global teardown). */
export async function dropTestDatabases(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const { rows } = await pool.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${TEST_DATABASE_PREFIX}%`,
    ]);
    for (const { datname } of rows) await pool.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await pool.end();
  }
}
