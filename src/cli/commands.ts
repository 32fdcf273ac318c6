import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppDatabase } from '../db/index.js';
import type { StorageServices } from '../services/index.js';
import type { Actor } from '../services/access.js';
import {
  jsonItems,
  ndjsonItem,
  type ImportItem,
  type ImportItemReport,
  type ImportLog,
} from '../services/portability.js';
import { CliError, EXIT, PipeClosed, isClosedPipe, type ExitCode } from './exit-codes.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface StorageContext {
  database: AppDatabase;
  /** The database for messages (a PostgreSQL URL without its password). */
  where: string;
  services: StorageServices;
  /** Aborted on SIGINT/SIGTERM: import and export stop between two chats. */
  signal: AbortSignal;
}

/** Whoever runs the command line can open the database file: they act as the admin. */
const OPERATOR: Actor = { kind: 'admin' };

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The progress bars (cli-progress), loaded by the commands that draw one, not by every start of the server. */
const progressBars = () => import('./progress.js');

/** `n chats`, `1 chat`. */
export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/**
 * Writes to stdout and waits until the text is handed over. A closed pipe (`| head`) is a
 * normal end (`PipeClosed`, exit 0); a full disk becomes exit 5, instead of an unhandled
 * 'error' event that kills the process.
 */
export async function writeOut(io: CliIo, text: string): Promise<void> {
  const { stdout } = io;
  await new Promise<void>((resolve, reject) => {
    // The stream also emits the failure as 'error', after the callback: this listener takes
    // it, so it stays attached until then.
    const onError = (error: Error) =>
      reject(
        isClosedPipe(error) ? new PipeClosed() : new CliError(EXIT.file, `Cannot write to stdout: ${error.message}`),
      );
    stdout.once('error', onError);
    stdout.write(text, (error) => {
      if (error) return onError(error);
      stdout.off('error', onError);
      resolve();
    });
  });
}

/** The database is opened (and so migrated) before this runs: it only reports. */
export async function migrate(context: StorageContext, io: CliIo): Promise<ExitCode> {
  const applied = await context.database.appliedMigrations();
  await writeOut(io, `${context.where}: schema up to date (${applied} migrations applied)\n`);
  return EXIT.ok;
}

/**
 * Prints the new user as one JSON line, with the API key: the only time it is ever shown.
 * If the line cannot be written, nobody has the key and nothing can issue another: the
 * user is removed again, and the exit code says the output failed.
 */
export async function createUser(context: StorageContext, io: CliIo, name: string): Promise<ExitCode> {
  const { user, apiKey } = await context.services.users.createUser(OPERATOR, { name });
  try {
    await writeOut(
      io,
      `${JSON.stringify({ id: user.id, name: user.name, created_at: user.createdAt.toISOString(), api_key: apiKey })}\n`,
    );
  } catch (error) {
    await context.services.users.deleteUser(OPERATOR, user.id);
    const reason = error instanceof PipeClosed ? 'Cannot write to stdout: the pipe was closed' : reasonOf(error);
    throw new CliError(EXIT.file, `${reason}; the user was not kept, since nobody could see its key`);
  }
  return EXIT.ok;
}

export type ImportFormat = 'json' | 'ndjson';

/** The input file's size; exit 5 when it cannot be read (checked before the database is opened). */
export async function checkInputFile(file: string): Promise<number> {
  try {
    const stats = await stat(file);
    if (!stats.isFile()) throw new Error('not a file');
    return stats.size;
  } catch (error) {
    throw new CliError(EXIT.file, `Cannot read ${file}: ${reasonOf(error)}`);
  }
}

interface ImportSource {
  items: AsyncIterable<ImportItem> | Iterable<ImportItem>;
  total: number;
  unit: 'bytes' | 'chats';
  /** How far the import is, in `unit`, after `processed` items. */
  position(processed: number): number;
}

/** NDJSON is read a line at a time: memory holds one chat, whatever the file's size. */
function ndjsonSource(file: string, size: number): ImportSource {
  // Opened on the first read, once the service has checked the user.
  let stream: ReadStream | undefined;
  return {
    items: (async function* lines() {
      stream = createReadStream(file);
      let index = 0;
      for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
        const item = ndjsonItem(index, line);
        index += 1;
        if (item) yield item;
      }
    })(),
    total: size,
    unit: 'bytes',
    position: () => stream?.bytesRead ?? 0,
  };
}

/** A JSON document (one export, an array of them, ChatGPT's conversations.json) is parsed whole. */
async function jsonSource(file: string): Promise<ImportSource> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(EXIT.file, `Cannot read ${file}: ${reasonOf(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      EXIT.nothingImported,
      `${file} is not JSON (${reasonOf(error)}); for NDJSON, use --format ndjson`,
    );
  }
  const items = jsonItems(value);
  return { items, total: items.length, unit: 'chats', position: (processed) => processed };
}

/**
 * Imports a file of any size through the same service as POST .../chats/import: NDJSON is
 * read line by line (progress in bytes), a JSON document is parsed whole (progress in chats).
 */
export async function importFile(
  context: StorageContext,
  io: CliIo,
  input: { file: string; userId: string; format: ImportFormat },
): Promise<ExitCode> {
  const { file, userId, format } = input;
  const size = await checkInputFile(file);
  const { portability, access } = context.services;
  // The user first, whatever the format: an unknown user is exit 7 even for a file that
  // would not parse (a JSON document is parsed whole before any chat is read).
  await access.assertActsFor(OPERATOR, userId);

  const source = format === 'ndjson' ? ndjsonSource(file, size) : await jsonSource(file);
  // Why a chat could not be stored (the report says only that it could not): shown with it.
  const causes = new Map<number, string>();
  const log: ImportLog = {
    error: (details) => {
      const { err, index } = details as { err?: unknown; index?: unknown };
      if (typeof index === 'number') causes.set(index, reasonOf(err));
    },
  };
  const reports = await portability.importEach(OPERATOR, userId, source.items, log);
  const { createProgress } = await progressBars();
  const bar = createProgress({ stream: io.stderr, label: 'import', total: source.total, unit: source.unit });
  const counts = { imported: 0, skipped: 0, failed: 0 };
  const failures: ImportItemReport[] = [];
  let processed = 0;
  for await (const report of reports) {
    counts[report.status] += 1;
    processed += 1;
    if (report.status === 'failed') failures.push(report);
    bar.update(source.position(processed));
    if (context.signal.aborted) break;
  }
  if (!context.signal.aborted) bar.update(source.total);
  bar.stop();

  const where = (report: ImportItemReport) =>
    format === 'ndjson' ? `line ${report.index + 1}` : `item ${report.index}`;
  for (const report of failures) {
    const title = report.title === null ? '' : ` ${JSON.stringify(report.title)}`;
    const cause = causes.get(report.index);
    io.stderr.write(
      `failed: ${where(report)}${title}: ${report.error ?? 'unknown reason'}${cause === undefined ? '' : ` (${cause})`}\n`,
    );
  }
  await writeOut(io, `imported ${counts.imported}, skipped ${counts.skipped}, failed ${counts.failed}\n`);
  if (context.signal.aborted) {
    io.stderr.write('interrupted: the chats counted above are stored; run the import again to add the rest\n');
    return EXIT.interrupted;
  }
  if (processed === 0) throw new CliError(EXIT.nothingImported, `${file} holds no chats`);
  if (counts.imported + counts.skipped === 0) return EXIT.nothingImported;
  return counts.failed > 0 ? EXIT.partialImport : EXIT.ok;
}

/**
 * Every chat of the user as NDJSON (the format of GET /v1/users/{id}/export), to stdout or
 * to `out`. A file is written under a temporary name and renamed when complete, so `out`
 * never holds half an export.
 */
export async function exportUser(
  context: StorageContext,
  io: CliIo,
  input: { userId: string; out: string | undefined },
): Promise<ExitCode> {
  const { portability } = context.services;
  const total = await portability.countChats(OPERATOR, input.userId);
  const lines = await portability.exportAll(OPERATOR, input.userId);
  const { createProgress } = await progressBars();
  const bar = createProgress({ stream: io.stderr, label: 'export', total, unit: 'chats' });
  let written = 0;
  const counted = Readable.from(
    (async function* count() {
      for await (const line of lines) {
        yield line;
        written += 1;
        bar.update(written);
      }
    })(),
  );

  const { out } = input;
  try {
    if (out === undefined) {
      try {
        await pipeline(counted, io.stdout, { end: false, signal: context.signal });
      } catch (error) {
        if (context.signal.aborted) throw error;
        // A closed pipe (`| head`) is a normal end; a full disk behind a redirection is not.
        if (isClosedPipe(error)) {
          // Later writes fail the same way: nothing is left to say on stdout.
          io.stdout.on('error', () => {});
          throw new PipeClosed();
        }
        throw new CliError(EXIT.file, `Cannot write to stdout: ${reasonOf(error)}`);
      }
    } else {
      const temporary = `${out}.${process.pid}.partial`;
      try {
        await pipeline(counted, createWriteStream(temporary, { flags: 'wx' }), { signal: context.signal });
        await rename(temporary, out);
      } catch (error) {
        await rm(temporary, { force: true });
        if (context.signal.aborted) throw error;
        throw new CliError(EXIT.file, `Cannot write ${out}: ${reasonOf(error)}`);
      }
    }
  } catch (error) {
    bar.stop();
    if (error instanceof PipeClosed) return EXIT.ok;
    if (context.signal.aborted) {
      io.stderr.write(
        `interrupted after ${written} of ${total} chats${out === undefined ? '' : `; ${out} not written`}\n`,
      );
      return EXIT.interrupted;
    }
    throw error;
  }
  bar.stop();
  io.stderr.write(`exported ${plural(written, 'chat')}${out === undefined ? '' : ` to ${out}`}\n`);
  return EXIT.ok;
}
