// Apart from ./claim.ts so that a caller can tell this error apart without loading better-sqlite3.

/** Another live process holds the SQLite file (see ./claim.ts). */
export class DatabaseClaimedError extends Error {
  override name = 'DatabaseClaimedError';

  constructor(
    readonly database: string,
    readonly pid: number | undefined,
  ) {
    super(
      `the database ${database} is in use by another server (${pid === undefined ? 'pid unknown' : `pid ${pid}`}); ` +
        'stop that server first, or set DATABASE_URL to another file',
    );
  }
}
