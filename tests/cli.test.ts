import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatExport } from '../src/schemas/portability.js';
import { ask, bearer, buildTestApp, createUser, tableCounts } from './helpers/app.js';
import { runCli } from './helpers/cli.js';
import { onPg, resolveDatabaseUrl } from './helpers/database.js';
import { useTempDir } from './helpers/suite.js';

/** The command line as a separate process (src/cli.ts through tsx), each run on its own database. */

const temp = useTempDir();
let databases = 0;
/** A new database for one run: a file on SQLite, its own database on PostgreSQL (tests/helpers/database.ts). */
const newDatabase = () => resolveDatabaseUrl(join(temp.dir, `cli-${(databases += 1)}.db`));

/** An NDJSON export of two chats (one of two questions, branched), made through the API. */
let exportFile: string;
let exportedLines: ChatExport[];

beforeAll(async () => {
  const app = await buildTestApp({ databaseUrl: await newDatabase() });
  try {
    const user = await createUser(app, 'Source');
    const first = (await ask(app, user, { question: 'What is WAL?' })).json<{ chat_id: string }>();
    await ask(app, user, { chat_id: first.chat_id, question: 'And when not?' });
    await ask(app, user, { chat_id: first.chat_id, question: 'A sibling question', parent_id: null });
    await ask(app, user, { question: 'Another chat' });
    const response = await app.inject({ method: 'GET', url: `/v1/users/${user.id}/export`, headers: user.headers });
    expect(response.statusCode).toBe(200);
    exportFile = join(temp.dir, 'source.ndjson');
    writeFileSync(exportFile, response.body);
    exportedLines = parseNdjson(response.body);
    expect(exportedLines).toHaveLength(2);
  } finally {
    await app.close();
  }
}, 60_000);

const parseNdjson = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ChatExport);

/** An export's content without its ids (pairs and branches by position), to compare across imports. */
function content(exported: ChatExport) {
  const position = new Map(exported.qa_pairs.map((pair, index) => [pair.id, index]));
  return {
    title: exported.chat.title,
    settings: exported.chat.settings,
    qa_pairs: exported.qa_pairs.map((pair) => ({
      parent: pair.parent_id === null ? null : position.get(pair.parent_id),
      question: pair.question,
      answer: pair.answer,
      status: pair.status,
      search_results: pair.search_results,
    })),
    branches: exported.branches.map((branch) => position.get(branch.head_qa_pair_id ?? '')),
  };
}
const byTitle = (exports: ChatExport[]) => exports.map(content).sort((a, b) => a.title.localeCompare(b.title));

async function newUser(databaseUrl: string): Promise<{ id: string; api_key: string }> {
  const result = await runCli(['create-user', '--name', 'Cli'], { env: { DATABASE_URL: databaseUrl } });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { id: string; api_key: string };
}

describe('create-user', () => {
  it('prints a user and a key that works with the API, once, as one JSON line', async () => {
    const databaseUrl = await newDatabase();
    const result = await runCli(['create-user', '--name', 'Grace'], { env: { DATABASE_URL: databaseUrl } });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const created = JSON.parse(result.stdout) as { id: string; name: string; api_key: string };
    expect(created).toMatchObject({ name: 'Grace', api_key: expect.stringMatching(/^chk_/) });

    const app = await buildTestApp({ databaseUrl });
    try {
      const me = await app.inject({ method: 'GET', url: '/v1/users/me', headers: bearer(created.api_key) });
      expect(me.statusCode).toBe(200);
      expect(me.json()).toMatchObject({ id: created.id, name: 'Grace' });
    } finally {
      await app.close();
    }
  });

  it('keeps no user when the key cannot be printed (stdout is a full disk): exit 5', async () => {
    const databaseUrl = await newDatabase();
    const full = openSync('/dev/full', 'w');
    try {
      const result = await runCli(['create-user', '--name', 'Lost'], {
        env: { DATABASE_URL: databaseUrl },
        stdoutFd: full,
      });
      expect(result.code).toBe(5);
      expect(result.stderr).toContain('the user was not kept');
      expect(result.stderr).not.toMatch(/chk_|at .*\.ts:\d+/);
    } finally {
      closeSync(full);
    }
    const app = await buildTestApp({ databaseUrl });
    try {
      expect(await tableCounts(app)).toMatchObject({ users: 0, api_keys: 0 });
    } finally {
      await app.close();
    }
  });

  it('works when sign-up is closed to the public (whoever holds the database file is the operator)', async () => {
    const result = await runCli(['create-user', '--name', 'Op'], {
      env: { DATABASE_URL: await newDatabase(), ALLOW_SIGNUP: 'false' },
    });
    expect(result.code).toBe(0);
  });
});

describe('import and export', () => {
  it('round-trips an export through import and export, with progress lines on a pipe', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const env = { DATABASE_URL: databaseUrl };

    const imported = await runCli(['import', exportFile, '--user', user.id], { env });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toBe('imported 2, skipped 0, failed 0\n');
    // Not a terminal: plain lines, the last at 100%.
    // A small file in KiB, not "0.0/0.0 MiB".
    expect(imported.stderr).toMatch(/^import: [\d.]+\/[\d.]+ KiB \(100%\)$/m);

    const out = join(temp.dir, 'round-trip.ndjson');
    const exported = await runCli(['export', '--user', user.id, '--out', out], { env });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/^export: 2\/2 chats \(100%\)$/m);
    expect(exported.stderr).toMatch(/^exported 2 chats to /m);
    expect(exported.stdout).toBe('');
    expect(byTitle(parseNdjson(readFileSync(out, 'utf8')))).toEqual(byTitle(exportedLines));
    // Nothing was left beside it under a temporary name.
    expect(readdirSync(temp.dir).filter((name) => name.includes('.partial'))).toEqual([]);

    // To stdout when no --out, and a second import skips what is already there.
    const toStdout = await runCli(['export', '--user', user.id], { env });
    expect(toStdout.code).toBe(0);
    expect(byTitle(parseNdjson(toStdout.stdout))).toEqual(byTitle(exportedLines));
    const again = await runCli(['import', out, '--user', user.id], { env });
    expect(again).toMatchObject({ code: 0, stdout: 'imported 0, skipped 2, failed 0\n' });
  });

  it('a closed stdout (`export | head`) is a normal end: exit 0, no message', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const env = { DATABASE_URL: databaseUrl };
    expect((await runCli(['import', exportFile, '--user', user.id], { env })).code).toBe(0);
    const result = await runCli(['export', '--user', user.id], { env, closeStdout: true });
    expect(result.stderr).not.toMatch(/EPIPE|Cannot write/);
    expect(result.code).toBe(0);
  });

  it('counts one chat in the singular', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const env = { DATABASE_URL: databaseUrl };
    const one = join(temp.dir, 'single.ndjson');
    writeFileSync(one, `${JSON.stringify(exportedLines[0])}\n`);
    expect((await runCli(['import', one, '--user', user.id], { env })).code).toBe(0);
    const result = await runCli(['export', '--user', user.id, '--out', join(temp.dir, 'single-out.ndjson')], { env });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^export: 1\/1 chat \(100%\)$/m);
    expect(result.stderr).toMatch(/^exported 1 chat to /m);
  });

  it('imports a JSON array (not NDJSON) by its extension, and a chosen --format', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const arrayFile = join(temp.dir, 'array.json');
    writeFileSync(arrayFile, JSON.stringify(exportedLines));
    const result = await runCli(['import', arrayFile, '--user', user.id], { env: { DATABASE_URL: databaseUrl } });
    expect(result).toMatchObject({ code: 0, stdout: 'imported 2, skipped 0, failed 0\n' });

    const lines = join(temp.dir, 'lines.txt');
    writeFileSync(lines, readFileSync(exportFile));
    const other = await newUser(databaseUrl);
    const asNdjson = await runCli(['import', lines, '--user', other.id, '--format', 'ndjson'], {
      env: { DATABASE_URL: databaseUrl },
    });
    expect(asNdjson).toMatchObject({ code: 0, stdout: 'imported 2, skipped 0, failed 0\n' });
  });

  it('exits 8 when some chats fail, naming each on stderr, and 6 when none could be imported', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const env = { DATABASE_URL: databaseUrl };
    const mixed = join(temp.dir, 'mixed.ndjson');
    const lines = readFileSync(exportFile, 'utf8').trim().split('\n');
    writeFileSync(mixed, [lines[0], 'not json', '{"hello":"world"}'].join('\n'));
    const partial = await runCli(['import', mixed, '--user', user.id], { env });
    expect(partial.code).toBe(8);
    expect(partial.stdout).toBe('imported 1, skipped 0, failed 2\n');
    expect(partial.stderr).toContain('failed: line 2: line is not valid JSON');
    expect(partial.stderr).toContain('failed: line 3: neither a chat export');

    const nothing = join(temp.dir, 'nothing.ndjson');
    writeFileSync(nothing, '{"hello":"world"}\n');
    expect((await runCli(['import', nothing, '--user', user.id], { env })).code).toBe(6);
    const notJson = join(temp.dir, 'not.json');
    writeFileSync(notJson, 'this is not json');
    const notJsonResult = await runCli(['import', notJson, '--user', user.id], { env });
    expect(notJsonResult.code).toBe(6);
    expect(notJsonResult.stderr).toContain('is not JSON');
    const empty = join(temp.dir, 'empty.ndjson');
    writeFileSync(empty, '\n');
    expect((await runCli(['import', empty, '--user', user.id], { env })).code).toBe(6);
  });
});

// A store failure is forced with a SQLite trigger; what is tested (the cause reaching stderr) is the same on both engines.
describe.skipIf(onPg)('import failures of the store (SQLite)', () => {
  it('name the cause on stderr beside our own message', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const database = new Database(databaseUrl);
    database.exec(
      `CREATE TRIGGER refuse_imports BEFORE INSERT ON chats WHEN NEW.import_source IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'imports are refused here'); END`,
    );
    database.close();
    const one = join(temp.dir, 'one.ndjson');
    writeFileSync(one, `${readFileSync(exportFile, 'utf8').trim().split('\n')[0]}\n`);
    const result = await runCli(['import', one, '--user', user.id], { env: { DATABASE_URL: databaseUrl } });
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/failed: line 1 ".*": could not be stored \(imports are refused here\)\n/);
  });
});

describe('exit codes', () => {
  it('exits 5 for a missing file, 7 for an unknown user, writing nothing', async () => {
    const databaseUrl = await newDatabase();
    const user = await newUser(databaseUrl);
    const env = { DATABASE_URL: databaseUrl };
    const missing = await runCli(['import', join(temp.dir, 'no-such-file.ndjson'), '--user', user.id], { env });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('no-such-file.ndjson');
    const directory = await runCli(['import', temp.dir, '--user', user.id], { env });
    expect(directory.code).toBe(5);

    const unknownImport = await runCli(['import', exportFile, '--user', '00000000-0000-4000-8000-000000000000'], {
      env,
    });
    expect(unknownImport.code).toBe(7);
    expect(unknownImport.stderr).toContain('USER_NOT_FOUND');
    // The user is checked before the file is parsed: 7 for a broken JSON file too, not 6.
    const broken = join(temp.dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    const unknownBroken = await runCli(['import', broken, '--user', '00000000-0000-4000-8000-000000000000'], { env });
    expect(unknownBroken.code).toBe(7);
    const unknownExport = await runCli(['export', '--user', 'nobody', '--out', join(temp.dir, 'never.ndjson')], {
      env,
    });
    expect(unknownExport.code).toBe(7);
    expect(existsSync(join(temp.dir, 'never.ndjson'))).toBe(false);
    const unwritable = await runCli(['export', '--user', user.id, '--out', join(temp.dir, 'no-dir', 'x.ndjson')], {
      env,
    });
    expect(unwritable.code).toBe(5);
  });

  it('exits 2 on bad arguments, with the usage on stderr', async () => {
    const env = { DATABASE_URL: await newDatabase() };
    const cases = [
      ['frobnicate'],
      ['import', '--user', 'x'],
      ['import', 'a.ndjson', 'b.ndjson', '--user', 'x'],
      ['import', 'a.ndjson', '--user', 'x', '--format', 'xml'],
      ['export', '--user', 'x', '--verbose'],
      ['create-user', '--name', '   '],
    ];
    const results = await Promise.all(cases.map((args) => runCli(args, { env })));
    results.forEach((result, index) => {
      expect({ args: cases[index], code: result.code }).toEqual({ args: cases[index], code: 2 });
      expect(result.stderr).not.toBe('');
      expect(result.stdout).toBe('');
    });
    expect(results[0]?.stderr).toContain('Usage: chat-history');
    // A missing required option shows the command's usage too.
    expect(results[5]?.stderr).toBe(
      '--name is required\nUsage: chat-history create-user --name NAME (--help for more)\n',
    );
    const noName = await runCli(['create-user'], { env });
    expect(noName).toMatchObject({
      code: 2,
      stderr: '--name is required\nUsage: chat-history create-user --name NAME (--help for more)\n',
    });
    // An unknown option, in plain words (Node's own message ends in an unclosed quote).
    const unknown = await runCli(['export', '--user', 'x', '--verbose'], { env });
    expect(unknown.stderr).toBe(
      'unknown option --verbose\nUsage: chat-history export --user ID [--out FILE] (--help for more)\n',
    );
  });

  it('exits 3 on invalid configuration, naming the variable, and 4 when the database cannot be opened', async () => {
    const config = await runCli(['migrate'], { env: { DATABASE_URL: await newDatabase(), HISTORY_MAX_TURNS: 'lots' } });
    expect(config.code).toBe(3);
    expect(config.stderr).toContain('HISTORY_MAX_TURNS');
    const database = await runCli(['migrate'], { env: { DATABASE_URL: temp.dir } });
    expect(database.code).toBe(4);
    expect(database.stderr).toContain('Cannot open the database');
  });

  it('import and export need an existing database: exit 4, and no database is created', async () => {
    const missing = join(temp.dir, 'typo', 'chat.db');
    writeFileSync(join(temp.dir, 'one.ndjson'), `${JSON.stringify(exportedLines[0])}\n`);
    const imported = await runCli(
      ['import', join(temp.dir, 'one.ndjson'), '--user', '00000000-0000-4000-8000-000000000000'],
      {
        env: { DATABASE_URL: missing },
      },
    );
    const exported = await runCli(['export', '--user', '00000000-0000-4000-8000-000000000000'], {
      env: { DATABASE_URL: missing },
    });
    for (const result of [imported, exported]) {
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('needs an existing database');
    }
    expect(existsSync(join(temp.dir, 'typo'))).toBe(false);
    // An unreadable input file is found before the database is even opened.
    const noFile = await runCli(['import', join(temp.dir, 'nope.ndjson'), '--user', 'x'], {
      env: { DATABASE_URL: missing },
    });
    expect(noFile.code).toBe(5);
  });

  it('migrates a new database and says so', async () => {
    const databaseUrl = await newDatabase();
    const result = await runCli(['migrate'], { env: { DATABASE_URL: databaseUrl } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/schema up to date \(\d+ migrations applied\)/);
    if (!onPg) expect(existsSync(databaseUrl)).toBe(true);
  });
});

describe('--help', () => {
  it('describes the program and each command, with the exit codes, and exits 0', async () => {
    const program = await runCli(['--help']);
    expect(program.code).toBe(0);
    for (const command of ['serve', 'migrate', 'create-user', 'import', 'export']) {
      expect(program.stdout).toContain(`  ${command}`);
    }
    expect(program.stdout).toContain('Exit codes:');
    const results = await Promise.all(['import', 'export'].map((command) => runCli([command, '--help'])));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: chat-history /);
      // The exit-code table is the program's, shown once there.
      expect(result.stdout).not.toContain('Exit codes:\n');
      expect(result.stdout).toContain('Exit codes: see chat-history --help.');
    }
  });

  it('prints the version with --version, -v and version', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v', 'version']) {
      expect(await runCli([flag])).toEqual({ code: 0, stdout: `chat-history ${version}\n`, stderr: '' });
    }
  });
});
