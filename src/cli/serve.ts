import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildApp, loggerOptions } from '../app.js';
import type { AppConfig, DatabaseConfig } from '../config.js';
import { claimDatabaseFile, DatabaseClaimedError, describeDatabase, type DatabaseClaim } from '../db/index.js';
import type { RuntimeFiles } from '../embedded.js';
import { CliError, EXIT } from './exit-codes.js';

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Why a port cannot be listened on, with what to change. */
function listenFailure(config: AppConfig, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.host}:${config.port}`;
  const hint =
    code === 'EADDRINUSE'
      ? 'the port is in use (is the server already running?); stop what uses it, or set PORT to another port'
      : code === 'EACCES'
        ? 'not allowed (ports below 1024 need privileges); set PORT to another port'
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? 'this machine has no such address; set HOST to one of its addresses (or 0.0.0.0)'
          : reasonOf(error);
  return new CliError(EXIT.unavailable, `Cannot listen on ${where}: ${hint}`);
}

/**
 * Listens on the port and lets go at once: a busy port stops start-up before the database
 * is touched (and in milliseconds, not after migrations and recovery).
 */
async function checkPort(config: AppConfig): Promise<void> {
  if (config.port === 0) return;
  const probe = createServer();
  try {
    probe.listen({ port: config.port, host: config.host, exclusive: true });
    await Promise.race([once(probe, 'listening'), once(probe, 'error').then(([error]) => Promise.reject(error))]);
  } catch (error) {
    throw listenFailure(config, error);
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
}

/** A SQLite file is claimed for this process (see src/db/sqlite/claim.ts); memory and PostgreSQL need none. */
async function claim(config: AppConfig, files: RuntimeFiles | undefined): Promise<DatabaseClaim | undefined> {
  const { database } = config;
  if (database.engine !== 'sqlite' || database.location === ':memory:') return undefined;
  try {
    return await claimDatabaseFile(database.location, { nativeBinding: files?.nativeBinding });
  } catch (error) {
    if (error instanceof DatabaseClaimedError) throw new CliError(EXIT.unavailable, `Cannot start: ${error.message}`);
    throw new CliError(
      EXIT.unavailable,
      `Cannot open the database at DATABASE_URL=${database.location}: ${reasonOf(error)}`,
    );
  }
}

/** The database for the start-up line: a SQLite file by its full path, PostgreSQL without its password. */
function databaseLabel(database: DatabaseConfig): string {
  if (database.engine === 'pg') return `PostgreSQL ${describeDatabase(database)}`;
  return database.location === ':memory:' ? 'SQLite in memory' : `SQLite ${resolve(database.location)}`;
}

/**
 * Fastify's `listenTextResolver`: its "Server listening at" line, once per address, becomes
 * the one start-up line saying where the API and its explorer are and what they run on.
 * A second address (HOST=localhost: 127.0.0.1 and ::1) only adds itself.
 */
function startupText(config: AppConfig): (address: string) => string {
  let told = false;
  return (address) => {
    if (told) return `also listening on ${address}`;
    told = true;
    return (
      `listening on ${address}, API explorer ${address}/docs, ` +
      `database ${databaseLabel(config.database)}, chatbot ${config.chatbot.provider} (${config.chatbot.providerReason})`
    );
  };
}

export interface ServeOptions {
  /** Logs for a person (stdout is a terminal) rather than JSON lines. */
  prettyLogs?: boolean;
}

/**
 * Start-up: port check -> database claim -> app (migrations, recovery) -> graceful
 * shutdown -> listen. Resolves once listening; the process then lives until SIGINT/SIGTERM,
 * when close-with-grace closes the app and exits 0.
 */
export async function serve(
  config: AppConfig,
  files: RuntimeFiles | undefined,
  options: ServeOptions = {},
): Promise<void> {
  await checkPort(config);
  const databaseClaim = await claim(config, files);
  let app;
  try {
    app = await buildApp({ config, files, logger: loggerOptions(config.logLevel, { pretty: options.prettyLogs }) });
  } catch (error) {
    databaseClaim?.release();
    // Start-up failures (an unusable DATABASE_URL, a failed migration) are the operator's
    // to fix: say what failed, without a stack trace.
    throw new CliError(EXIT.unavailable, `Cannot start: ${reasonOf(error)}`);
  }
  // Closing waits up to SHUTDOWN_GRACE_MS for running asks, then stores the rest: give it
  // that long plus a margin before close-with-grace exits regardless.
  const shutdown = closeWithGrace({ delay: config.shutdownGraceMs + 5_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    databaseClaim?.release();
  });
  try {
    await app.listen({ port: config.port, host: config.host, listenTextResolver: startupText(config) });
  } catch (error) {
    shutdown.uninstall();
    await app.close();
    databaseClaim?.release();
    throw listenFailure(config, error);
  }
}
