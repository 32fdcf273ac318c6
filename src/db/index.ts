import type { DatabaseConfig } from '../config.js';
import type { OpenDatabaseOptions, OpenedDatabase } from './sqlite/client.js';
import type { OpenedPgDatabase } from './pg/client.js';
import type { DatabaseClaim } from './sqlite/claim.js';
import { redactDatabaseUrl } from './pg/url.js';

// Each engine's driver and Drizzle dialect are imported only when that engine is opened:
// a SQLite server never loads `pg`, a PostgreSQL one never loads better-sqlite3 (their
// modules are a good part of start-up time and memory).

/** The open database: SQLite on this machine or a PostgreSQL server, told apart by `engine`. */
export type AppDatabase = OpenedDatabase | OpenedPgDatabase;

export interface OpenAppDatabaseOptions extends Pick<
  OpenDatabaseOptions,
  'migrationsFolder' | 'nativeBinding' | 'mustExist' | 'backgroundCheckpoints'
> {
  /** drizzle/pg, when not found next to this module (the single executable unpacks it). */
  pgMigrationsFolder?: string | undefined;
  /** A pooled PostgreSQL connection failed while idle; the pool replaces it. */
  onPoolError?: (error: Error) => void;
}

/** Where the database is, for messages: a PostgreSQL URL loses its password. */
export function describeDatabase(config: DatabaseConfig): string {
  return config.engine === 'pg' ? redactDatabaseUrl(config.url) : config.location;
}

/**
 * Opens (creating and migrating as needed) the configured database: the server and the
 * command line open it the same way. Failures name the database, never its password.
 */
export async function openAppDatabase(
  config: DatabaseConfig,
  options: OpenAppDatabaseOptions = {},
): Promise<AppDatabase> {
  try {
    if (config.engine === 'pg') {
      const { openPgDatabase } = await import('./pg/client.js');
      return await openPgDatabase(config.url, {
        max: config.poolMax,
        lockMax: config.lockPoolMax,
        connectTimeoutMs: config.connectTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        statementTimeoutMs: config.statementTimeoutMs,
        lockTimeoutMs: config.lockTimeoutMs,
        ...(options.onPoolError ? { onPoolError: options.onPoolError } : {}),
        ...(options.pgMigrationsFolder ? { migrationsFolder: options.pgMigrationsFolder } : {}),
      });
    }
    const { openDatabase } = await import('./sqlite/client.js');
    return openDatabase(config.location, {
      migrationsFolder: options.migrationsFolder,
      nativeBinding: options.nativeBinding,
      mustExist: options.mustExist ?? false,
      backgroundCheckpoints: options.backgroundCheckpoints ?? false,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot open the database at DATABASE_URL=${describeDatabase(config)}: ${reason}`, {
      cause: error,
    });
  }
}

/** A SQLite file is held by one serving process at a time (see ./sqlite/claim.ts). */
export async function claimDatabaseFile(
  location: string,
  options: { nativeBinding?: string | undefined } = {},
): Promise<DatabaseClaim> {
  const { claimDatabaseFile: claim } = await import('./sqlite/claim.js');
  return claim(location, options);
}

export { DatabaseClaimedError } from './sqlite/claim-error.js';
export type { DatabaseClaim } from './sqlite/claim.js';
