import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engine, resolveDatabaseUrl } from './helpers/database.js';
import { startServerProcess } from './helpers/server.js';
import { useServerProcessCleanup, useTempDir } from './helpers/suite.js';

/**
 * What a real server process (src/server.ts) has loaded: only its engine's driver and
 * Drizzle dialect, only its chatbot client, and the import parsers only once something is
 * imported. scripts/measure/loaded-modules.mjs, preloaded, records every module file the
 * process loads and writes the list when it exits.
 */

const temp = useTempDir();
useServerProcessCleanup();
const root = join(import.meta.dirname, '..');
const recorder = join(root, 'scripts', 'measure', 'loaded-modules.mjs');

interface Loaded {
  packages: string[];
  /** Files of this repository, relative to it (src/db/pg/client.ts, ...). */
  ownFiles: string[];
  /** Files under node_modules, from the package folder on (drizzle-orm/pg-core/table.js, ...). */
  packageFiles: string[];
}

/** Starts a server (offline chatbot) on a database of its own, runs `use`, stops it and reads what it loaded. */
async function loadedBy(use: (base: string) => Promise<void>): Promise<Loaded> {
  const label = randomUUID();
  const file = join(temp.dir, `${label}.json`);
  const server = await startServerProcess(
    {
      DATABASE_URL: await resolveDatabaseUrl(join(temp.dir, `${label}.db`)),
      CHATBOT_PROVIDER: 'offline',
      LOG_LEVEL: 'warn',
      LOADED_MODULES_FILE: file,
    },
    { nodeArgs: ['--import', recorder] },
  );
  await use(server.base);
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  expect(code, server.output()).toBe(0);
  const { packages, files } = JSON.parse(readFileSync(file, 'utf8')) as { packages: string[]; files: string[] };
  const inModules = `${sep}node_modules${sep}`;
  return {
    packages,
    ownFiles: files
      .filter((path) => path.startsWith(root + sep) && !path.includes(inModules))
      .map((path) =>
        path
          .slice(root.length + 1)
          .split(sep)
          .join('/'),
      ),
    packageFiles: files
      .filter((path) => path.includes(inModules))
      .map((path) =>
        path
          .slice(path.lastIndexOf(inModules) + inModules.length)
          .split(sep)
          .join('/'),
      ),
  };
}

const matching = (paths: string[], prefix: string) => paths.filter((path) => path.startsWith(prefix));

describe(`a server on ${engine}`, () => {
  it("loads its own engine's driver and dialect, not the other's", async () => {
    const loaded = await loadedBy(async () => undefined);
    // Drizzle's core imports a few pg-core column classes whatever the engine: the dialect
    // is told by its driver adapter and its dialect class.
    const sqlite = {
      driver: 'better-sqlite3',
      dialect: ['drizzle-orm/better-sqlite3/', 'drizzle-orm/sqlite-core/dialect.js'],
      code: 'src/db/sqlite/client.ts',
    };
    const pg = {
      driver: 'pg',
      dialect: ['drizzle-orm/node-postgres/', 'drizzle-orm/pg-core/dialect.js'],
      code: 'src/db/pg/client.ts',
    };
    const [own, other] = engine === 'sqlite' ? [sqlite, pg] : [pg, sqlite];
    // What it uses is recorded: the recorder sees CommonJS and ES modules alike.
    expect(loaded.packages).toContain(own.driver);
    for (const prefix of own.dialect) expect(matching(loaded.packageFiles, prefix)).not.toEqual([]);
    expect(loaded.ownFiles).toContain(own.code);
    // The other engine's driver, its Drizzle dialect and its stores are not.
    expect(loaded.packages).not.toContain(other.driver);
    for (const prefix of other.dialect) expect(matching(loaded.packageFiles, prefix)).toEqual([]);
    expect(loaded.ownFiles).not.toContain(other.code);
    const otherStores = engine === 'sqlite' ? 'src/repositories/pg/' : 'src/repositories/sqlite/';
    expect(matching(loaded.ownFiles, otherStores)).toEqual([]);
    if (engine === 'sqlite') expect(loaded.packages).not.toEqual(expect.arrayContaining(['pg-pool', 'pg-protocol']));
  });

  it('loads neither an HTTP client for the offline chatbot nor the import parsers until an import', async () => {
    let imported: unknown;
    const idle = await loadedBy(async () => undefined);
    expect(idle.packages).not.toContain('undici');
    expect(matching(idle.ownFiles, 'src/chatbot/http.ts')).toEqual([]);
    expect(matching(idle.ownFiles, 'src/services/imports/')).toEqual([]);
    expect(idle.packages).not.toContain('cli-progress');

    const importing = await loadedBy(async (base) => {
      const user = (await (
        await fetch(`${base}/v1/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Importer' }),
        })
      ).json()) as { id: string; api_key: string };
      const conversation = {
        title: 'Imported',
        create_time: 1_700_000_000,
        update_time: 1_700_000_100,
        conversation_id: `conv-${randomUUID()}`,
        current_node: 'a1',
        mapping: {
          root: { id: 'root', parent: null, children: ['u1'], message: null },
          u1: {
            id: 'u1',
            parent: 'root',
            children: ['a1'],
            message: {
              id: 'u1',
              author: { role: 'user' },
              create_time: 1_700_000_001,
              content: { content_type: 'text', parts: ['Hello?'] },
            },
          },
          a1: {
            id: 'a1',
            parent: 'u1',
            children: [],
            message: {
              id: 'a1',
              author: { role: 'assistant' },
              create_time: 1_700_000_002,
              content: { content_type: 'text', parts: ['Hello.'] },
            },
          },
        },
      };
      const response = await fetch(`${base}/v1/users/${user.id}/chats/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify([conversation]),
      });
      imported = await response.json();
    });
    expect(imported).toMatchObject({ imported: 1, failed: 0 });
    expect(matching(importing.ownFiles, 'src/services/imports/chatgpt.ts')).not.toEqual([]);
  });
});
