import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Logger } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { startBackgroundCheckpoints, type BackgroundCheckpoints } from './checkpoints.js';
import * as schema from './schema.js';

export type SqliteDb = BetterSQLite3Database<typeof schema>;

export interface OpenedDatabase {
  engine: 'sqlite';
  db: SqliteDb;
  sqlite: Database.Database;
  /** True when the database answers a trivial query. */
  ping(): boolean;
  /** Stops the checkpoint worker if there is one, folds the WAL back and closes. */
  close(): Promise<void>;
  /** The background checkpointer, when `backgroundCheckpoints` was asked for. */
  checkpoints: BackgroundCheckpoints | undefined;
  /** How many migrations the database has had applied. */
  appliedMigrations(): Promise<number>;
}

/**
 * Finds `drizzle/sqlite` by walking up from this module, so the app works the same from
 * `src/` (tests, tsx), from `dist/src/` (npm start) and from any working directory.
 */
export function defaultMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle', 'sqlite');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('drizzle/sqlite migrations folder not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Creates the folder of a SQLite file, level by level, with a message that says what to
 * fix: "its parent ... is a file", or which folder cannot be created and why. (A
 * recursive mkdirSync answers a parent that is a file with EEXIST, and loops forever on
 * /proc/nope.)
 */
export function prepareDatabaseFolder(location: string): void {
  if (location === ':memory:') return;
  const missing: string[] = [];
  let existing = dirname(resolve(location));
  for (;;) {
    let isFolder: boolean | undefined;
    try {
      isFolder = statSync(existing).isDirectory();
    } catch (error) {
      const code = codeOf(error);
      // ENOTDIR: a level further up is a file; walk up to it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new Error(`${existing} cannot be read (${code ?? String(error)})`);
    }
    if (isFolder === true) break;
    if (isFolder === false) throw new Error(`its folder cannot be created: ${existing} is a file, not a folder`);
    const parent = dirname(existing);
    if (parent === existing) throw new Error(`its folder cannot be created: ${existing} does not exist`);
    missing.unshift(existing);
    existing = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (error) {
      if (codeOf(error) === 'EEXIST') continue; // created meanwhile by another process
      throw new Error(`its folder ${level} cannot be created (${codeOf(error) ?? String(error)})`);
    }
  }
}

export interface OpenDatabaseOptions {
  /** Default: `drizzle/sqlite` found above this module. */
  migrationsFolder?: string;
  /** The `better_sqlite3.node` addon to load (the single executable's unpacked copy); default: the package's. */
  nativeBinding?: string;
  /** Fail rather than create the file (commands that only read or add to existing data). */
  mustExist?: boolean;
  queryLogger?: Logger;
  /** WAL checkpoints on a worker thread instead of inside commits (the server's; see checkpoints.ts). */
  backgroundCheckpoints?: boolean;
}

/**
 * Opens (creating if needed) the SQLite database at `location`, sets the pragmas the app
 * relies on and applies pending migrations.
 */
export function openDatabase(location: string, options: OpenDatabaseOptions = {}): OpenedDatabase {
  const migrationsFolder = options.migrationsFolder ?? defaultMigrationsFolder();
  if (!options.mustExist) prepareDatabaseFolder(location);
  const sqlite = new Database(location, {
    nativeBinding: options.nativeBinding,
    fileMustExist: options.mustExist ?? false,
  });
  try {
    // WAL lets readers run while a write commits; NORMAL sync is durable across process
    // crashes in WAL mode (only a power loss can drop the last commits).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = drizzle(sqlite, { schema, ...(options.queryLogger ? { logger: options.queryLogger } : {}) });
    migrate(db, { migrationsFolder });
    const pingStatement = sqlite.prepare('SELECT 1 AS ok');
    // An in-memory database has no file another connection could checkpoint.
    const checkpoints =
      options.backgroundCheckpoints && location !== ':memory:' && location !== ''
        ? startBackgroundCheckpoints(sqlite, { location, nativeBinding: options.nativeBinding })
        : undefined;
    return {
      engine: 'sqlite',
      db,
      sqlite,
      ping: () => {
        try {
          return (pingStatement.get() as { ok: number } | undefined)?.ok === 1;
        } catch {
          return false;
        }
      },
      appliedMigrations: async () =>
        (sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n,
      checkpoints,
      close: async () => {
        await checkpoints?.stop();
        if (!sqlite.open) return;
        // Fold the WAL back into the main file so a closed database is one self-contained file.
        sqlite.pragma('wal_checkpoint(TRUNCATE)');
        sqlite.close();
      },
    };
  } catch (error) {
    sqlite.close();
    throw error;
  }
}
