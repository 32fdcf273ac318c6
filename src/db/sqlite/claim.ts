import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { prepareDatabaseFolder } from './client.js';
import { DatabaseClaimedError } from './claim-error.js';

export { DatabaseClaimedError } from './claim-error.js';

/** A server's claim on a SQLite database file, held until `release` or the process's end. */
export interface DatabaseClaim {
  /** The lock file, `<database>.lock`. */
  file: string;
  release(): void;
}

/**
 * Claims the SQLite file `location` for one server process, before it recovers unfinished
 * pairs (which a second server would otherwise take from the first's running asks).
 *
 * Why this way: the claim must go away by itself when its holder dies (SIGKILL, power), or
 * a crash would leave the database locked. Node has no flock/fcntl, and the npm packages
 * that add one are native addons (one more to build here and to embed in the single
 * executable). SQLite's own file locks are POSIX fcntl locks, which the kernel releases when
 * the process ends, and better-sqlite3 is already loaded: so the claim is a small SQLite
 * database beside the data, `<location>.lock`, in which the holder keeps a write
 * transaction open (`BEGIN IMMEDIATE`: a RESERVED lock) for its whole life. A RESERVED lock
 * still lets others read, so a second server reads the holder's pid from it for its message.
 * The data file itself is not locked: the command line's import and export, which never
 * recover anything, keep working beside a running server.
 */
export function claimDatabaseFile(
  location: string,
  options: { nativeBinding?: string | undefined } = {},
): DatabaseClaim {
  prepareDatabaseFolder(location);
  const file = `${resolve(location)}.lock`;
  const lock = new Database(file, { nativeBinding: options.nativeBinding });
  try {
    lock.pragma('busy_timeout = 0');
    lock.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL)');
  } catch (error) {
    // Creating the table needs a write: a holder makes it fail with SQLITE_BUSY.
    if (!isBusy(error)) {
      lock.close();
      throw error;
    }
  }
  try {
    // Take the claim, and publish our pid (a committed write is what others can read) ...
    lock.exec('BEGIN IMMEDIATE');
    lock.prepare('INSERT OR REPLACE INTO holder (id, pid) VALUES (1, ?)').run(process.pid);
    lock.exec('COMMIT');
    // ... then hold it. Between the two, another server may have taken it: then it holds
    // the claim, and this one stops like any second server.
    lock.exec('BEGIN IMMEDIATE');
  } catch (error) {
    if (lock.inTransaction) lock.exec('ROLLBACK');
    const holder = isBusy(error) ? readHolder(lock) : undefined;
    lock.close();
    if (isBusy(error)) throw new DatabaseClaimedError(resolve(location), holder);
    throw error;
  }
  return {
    file,
    release: () => {
      if (!lock.open) return;
      lock.exec('ROLLBACK');
      lock.close();
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/** The holder's pid; a holder committing that very moment is waited for briefly. */
function readHolder(lock: Database.Database): number | undefined {
  try {
    lock.pragma('busy_timeout = 2000');
    const row = lock.prepare('SELECT pid FROM holder WHERE id = 1').get() as { pid: number } | undefined;
    return row?.pid;
  } catch {
    return undefined;
  }
}
