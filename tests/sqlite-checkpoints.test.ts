import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { RAISED_AUTOCHECKPOINT_PAGES, startBackgroundCheckpoints } from '../src/db/sqlite/checkpoints.js';
import { openDatabase } from '../src/db/sqlite/client.js';

/**
 * WAL checkpoints off the request path: with the background checkpointer, a commit never
 * runs SQLite's automatic checkpoint at 1,000 pages; the worker thread's own connection
 * checkpoints instead, while the main connection stays free to write.
 */
const folder = mkdtempSync(join(tmpdir(), 'checkpoints-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const PAGE = 4096;
/** 1,500 pages of WAL, in transactions of 100 rows of about one page each. */
function writePages(sqlite: Database.Database) {
  sqlite.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  const insert = sqlite.prepare('INSERT INTO filler (body) VALUES (randomblob(4000))');
  const batch = sqlite.transaction(() => {
    for (let row = 0; row < 100; row += 1) insert.run();
  });
  for (let round = 0; round < 15; round += 1) batch();
}

function walPagesOf(file: string): number {
  return Math.floor(statSync(`${file}-wal`).size / (PAGE + 24));
}

function openWal(name: string) {
  const file = join(folder, name);
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  return { file, sqlite };
}

describe('background WAL checkpoints on SQLite', () => {
  it('without them, a commit past 1,000 pages checkpoints inline and the WAL starts over', () => {
    const { file, sqlite } = openWal('inline.db');
    writePages(sqlite);
    // The WAL file keeps its largest size, but was restarted near 1,000 pages: it never held all 1,500.
    expect(walPagesOf(file)).toBeLessThan(1_200);
    sqlite.close();
  });

  it('with them, commits never checkpoint; the worker does, on its own connection, when asked', async () => {
    const { file, sqlite } = openWal('worker.db');
    // A timer that never fires in the test: only checkpointNow checkpoints.
    const checkpoints = startBackgroundCheckpoints(sqlite, {
      location: file,
      nativeBinding: undefined,
      intervalMs: 3_600_000,
    });
    try {
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(RAISED_AUTOCHECKPOINT_PAGES);
      writePages(sqlite);
      expect(walPagesOf(file)).toBeGreaterThanOrEqual(1_500);
      const result = await checkpoints.checkpointNow();
      expect(checkpoints.mode).toBe('worker');
      expect(result.busy).toBe(0);
      expect(result.log).toBeGreaterThanOrEqual(1_500);
      expect(result.checkpointed).toBe(result.log);
      // Everything is in the main file now: a reader that ignores the WAL would see it too.
      expect(sqlite.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 1_500 });
    } finally {
      await checkpoints.stop();
      sqlite.close();
    }
  });

  it('the server’s database stops its worker on close and leaves one self-contained file', async () => {
    const file = join(folder, 'server.db');
    const opened = openDatabase(file, { backgroundCheckpoints: true });
    expect(opened.checkpoints).toBeDefined();
    writePages(opened.sqlite);
    expect((await opened.checkpoints!.checkpointNow()).checkpointed).toBeGreaterThan(0);
    await opened.close();
    expect(opened.checkpoints!.mode).toBe('inline');
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 1_500 });
    reopened.close();
  });
});
