/**
 * The command line's heavy half: configuration, the embedded files, the database and the
 * storage services. src/cli/main.ts loads it only for a command with valid arguments.
 */
import { ConfigError, loadConfig, type AppConfig } from '../config.js';
import { describeDatabase, openAppDatabase, type AppDatabase } from '../db/index.js';
import { unpackEmbeddedFiles, type RuntimeFiles } from '../embedded.js';
import { createStorage } from '../repositories/index.js';
import { createStorageServices } from '../services/index.js';
import type { StorageContext } from './commands.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

export { checkInputFile, createUser, exportUser, importFile, migrate } from './commands.js';

export function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(EXIT.config, error.message);
    throw error;
  }
}

export function filesOrExit(config: AppConfig): RuntimeFiles | undefined {
  try {
    return unpackEmbeddedFiles(config.cacheDir);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(
      EXIT.unavailable,
      `Cannot unpack the embedded files into CACHE_DIR=${config.cacheDir}: ${reason}`,
    );
  }
}

/**
 * Opens the database (migrating it) and the storage services for one command, and closes
 * it afterwards. No chatbot, no start-up recovery: a server may be running on the same file.
 */
export async function withStorage(
  run: (context: StorageContext) => Promise<ExitCode>,
  options: { createDatabase: boolean } = { createDatabase: true },
): Promise<ExitCode> {
  const config = configOrExit();
  const files = filesOrExit(config);
  let database: AppDatabase;
  try {
    database = await openAppDatabase(config.database, {
      migrationsFolder: files?.migrationsFolder,
      pgMigrationsFolder: files?.pgMigrationsFolder,
      nativeBinding: files?.nativeBinding,
      mustExist: !options.createDatabase,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // A mistyped DATABASE_URL must not leave a new, empty database behind an import or export.
    const hint = options.createDatabase ? '' : ' (this command needs an existing database: run migrate or serve first)';
    throw new CliError(EXIT.unavailable, `${reason}${hint}`);
  }
  // The first SIGINT/SIGTERM stops the command between two chats; a second one kills it.
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  try {
    const services = createStorageServices(await createStorage(database), {
      adminApiKey: config.adminApiKey,
      allowSignup: config.allowSignup,
    });
    return await run({ database, where: describeDatabase(config.database), services, signal: interrupted.signal });
  } finally {
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    await database.close();
  }
}
