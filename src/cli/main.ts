import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { embeddedVersion } from '../embedded.js';
import { DomainError } from '../domain/errors.js';
import { writeOut, type CliIo, type ImportFormat } from './commands.js';
import { CliError, EXIT, PipeClosed, type ExitCode } from './exit-codes.js';

/**
 * What opens the configuration and the database, loaded only once a command's arguments are
 * valid: --help and usage errors answer at once.
 */
const runtime = () => import('./runtime.js');

type OptionSpec = { type: 'string' | 'boolean'; short?: string };
type Values = Record<string, string | boolean | undefined>;

interface Command {
  summary: string;
  usage: string;
  /** The --help text after the usage line. */
  details: string;
  options: Record<string, OptionSpec>;
  /** Exactly this many positional arguments. */
  positionals: number;
  run(args: { values: Values; positionals: string[] }, io: CliIo): Promise<ExitCode>;
}

const PROGRAM = 'chat-history';

const EXIT_CODES_HELP = `Exit codes:
  0    done
  1    unexpected failure (the message says what)
  2    usage: unknown command or option, missing or extra argument
  3    invalid configuration: an environment variable (named in the message)
  4    the database, the cache folder or the listening port cannot be used
  5    the input file cannot be read, or the output file cannot be written
  6    import: nothing imported (no chat in the file could be)
  7    no user has that id
  8    import: some chats failed (listed on stderr), the others were imported or already there
  130  interrupted by SIGINT/SIGTERM (an import keeps the chats done; re-running skips them)`;

const CONFIG_HELP = `Configuration comes from environment variables (DATABASE_URL, PORT, ... see the README).`;

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'serve the HTTP API and the API explorer (the default command)',
    usage: `${PROGRAM} [serve]`,
    details: 'Listens on HOST:PORT until SIGINT or SIGTERM, then finishes running asks and exits 0.',
    options: {},
    positionals: 0,
    async run(_args, io) {
      const { configOrExit, filesOrExit } = await runtime();
      const config = configOrExit();
      const files = filesOrExit(config);
      // Loaded here only: the other commands start faster without Fastify and its plugins.
      const { serve } = await import('./serve.js');
      await serve(config, files, { prettyLogs: io.stdout.isTTY === true });
      return EXIT.ok;
    },
  },
  migrate: {
    summary: 'create the database or bring its schema up to date',
    usage: `${PROGRAM} migrate`,
    details: 'Applies pending migrations to DATABASE_URL (serve does it too, at start-up).',
    options: {},
    positionals: 0,
    async run(_args, io) {
      const { withStorage, migrate } = await runtime();
      return withStorage((context) => migrate(context, io));
    },
  },
  'create-user': {
    summary: 'create a user and print their API key (shown this once only)',
    usage: `${PROGRAM} create-user --name NAME`,
    details: 'Prints one JSON line: {"id", "name", "created_at", "api_key"}. Only the key\'s hash is stored.',
    options: { name: { type: 'string' } },
    positionals: 0,
    async run({ values }, io) {
      const name = requireString(values, 'name');
      const { withStorage, createUser } = await runtime();
      return withStorage((context) => createUser(context, io, name));
    },
  },
  import: {
    summary: "import chats from a file: this service's exports or ChatGPT's conversations.json",
    usage: `${PROGRAM} import FILE --user ID [--format json|ndjson]`,
    details: `FILE: one chat export, an array of them, ChatGPT's conversations.json, or NDJSON (one chat
export per line, as export writes; chosen by a .ndjson or .jsonl extension, or --format).
NDJSON is read line by line, so files of any size import in little memory. Each chat is
stored whole or not at all; chats imported before are skipped. Prints
"imported N, skipped N, failed N" on stdout and each failure on stderr.`,
    options: { user: { type: 'string' }, format: { type: 'string' } },
    positionals: 1,
    async run({ values, positionals }, io) {
      const file = positionals[0] ?? '';
      const format = values.format === undefined ? formatOf(file) : values.format;
      if (format !== 'json' && format !== 'ndjson') {
        throw new CliError(EXIT.usage, `--format must be json or ndjson, not ${String(format)}`);
      }
      const userId = requireString(values, 'user');
      const { withStorage, importFile, checkInputFile } = await runtime();
      await checkInputFile(file);
      return withStorage((context) => importFile(context, io, { file, userId, format }), { createDatabase: false });
    },
  },
  export: {
    summary: 'export every chat of a user as NDJSON',
    usage: `${PROGRAM} export --user ID [--out FILE]`,
    details: `Writes one chat export per line (the format of GET /v1/users/{user_id}/export) to stdout,
or to FILE, which appears only once complete. Import reads it back.`,
    options: { user: { type: 'string' }, out: { type: 'string' } },
    positionals: 0,
    async run({ values }, io) {
      const userId = requireString(values, 'user');
      const out = values.out;
      if (out === '' || typeof out === 'boolean') throw new CliError(EXIT.usage, '--out needs a file name');
      const { withStorage, exportUser } = await runtime();
      return withStorage((context) => exportUser(context, io, { userId, out }), { createDatabase: false });
    },
  },
};

/** NDJSON by extension (.ndjson, .jsonl); anything else is one JSON document. */
function formatOf(file: string): ImportFormat {
  return /\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'json';
}

function requireString(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new CliError(EXIT.usage, `--${name} is required`);
  return value;
}

function commandHelp(name: string, command: Command): string {
  const options = Object.keys(command.options).length > 0 ? '' : '\nNo options besides --help.';
  return `Usage: ${command.usage}\n\n${name}: ${command.summary}.\n${command.details}${options}\n\n${CONFIG_HELP}\nExit codes: see ${PROGRAM} --help.\n`;
}

function programHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `Usage: ${PROGRAM} [COMMAND] [OPTIONS]\n       ${PROGRAM} --version\n\nCommands:\n${lines.join('\n')}\n\n${PROGRAM} COMMAND --help tells more about each.\n${CONFIG_HELP}\n\n${EXIT_CODES_HELP}\n`;
}

/**
 * The version: the executable's (recorded when it was built), else package.json's, found
 * by walking up from this module (src/cli/ through tsx, dist/src/cli/ after a build).
 */
function programVersion(): string {
  const embedded = embeddedVersion();
  if (embedded !== undefined) return embedded;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
        return parsed.version;
      }
    } catch {
      // No package.json here: look further up.
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/**
 * parseArgs' own messages, reworded: its "unknown option" text ends in an unclosed quote
 * and a hint about positionals that helps nobody here.
 */
function parseFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /^Unknown option '([^']*)'/.exec(message)?.[1];
    if (option !== undefined) return `unknown option ${option}`;
  }
  return message;
}

/** Maps a failure to its exit code, writing one line (no stack trace unless it is a bug). */
function report(error: unknown, io: CliIo): ExitCode {
  if (error instanceof PipeClosed) return EXIT.ok;
  if (error instanceof CliError) {
    io.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof DomainError) {
    io.stderr.write(`${error.message} (${error.code})\n`);
    if (error.code === 'USER_NOT_FOUND') return EXIT.userNotFound;
    if (error.statusCode === 400) return EXIT.usage;
    return EXIT.failure;
  }
  io.stderr.write(`Unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT.failure;
}

/** Runs one command line (without the program name) and returns its exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v' || first === '-V' || first === 'version') {
    return writeOut(io, `${PROGRAM} ${programVersion()}\n`).then(
      () => EXIT.ok,
      (error: unknown) => report(error, io),
    );
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    return writeOut(io, programHelp()).then(
      () => EXIT.ok,
      (error: unknown) => report(error, io),
    );
  }
  // Without a command (or starting with an option): serve.
  const name = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = name === first ? rest : argv;
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`Unknown command: ${name}\n\n${programHelp()}`);
    return EXIT.usage;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: { ...command.options, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new CliError(EXIT.usage, `${parseFailure(error)}\nUsage: ${command.usage} (--help for more)`);
    }
    const values: Values = parsed.values;
    if (values.help === true) {
      await writeOut(io, commandHelp(name, command));
      return EXIT.ok;
    }
    if (parsed.positionals.length !== command.positionals) {
      throw new CliError(
        EXIT.usage,
        `${name} takes ${command.positionals === 0 ? 'no' : command.positionals} argument${command.positionals === 1 ? '' : 's'}` +
          `${parsed.positionals.length > 0 ? ` (got: ${parsed.positionals.join(' ')})` : ''}\nUsage: ${command.usage}`,
      );
    }
    try {
      return await command.run({ values, positionals: parsed.positionals }, io);
    } catch (error) {
      // A usage error found by the command itself (a missing --name) shows the usage too.
      if (error instanceof CliError && error.exitCode === EXIT.usage && !error.message.includes('Usage:')) {
        throw new CliError(EXIT.usage, `${error.message}\nUsage: ${command.usage} (--help for more)`);
      }
      throw error;
    }
  } catch (error) {
    return report(error, io);
  }
}
