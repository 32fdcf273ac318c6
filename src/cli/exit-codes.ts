/**
 * The command line's exit codes: scripts may rely on them (the README lists them).
 * Each failure prints one line on stderr saying what to fix.
 */
export const EXIT = {
  ok: 0,
  /** Anything not below: a bug, or an error nobody foresaw (the message says which). */
  failure: 1,
  /** Unknown command or option, a missing or extra argument, an invalid value. */
  usage: 2,
  /** An environment variable is invalid (the message names it). */
  config: 3,
  /** The database, the cache folder or the listening port cannot be used. */
  unavailable: 4,
  /** The input file cannot be read, or the output file cannot be written. */
  file: 5,
  /** Import: nothing was imported (no chat in the file could be). */
  nothingImported: 6,
  /** No user has the given id. */
  userNotFound: 7,
  /** Import: some chats were imported (or already there), others failed; the report lists them. */
  partialImport: 8,
  /** Stopped by SIGINT or SIGTERM; an import keeps the chats reported done (re-running skips them). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the command line reports as one line and an exit code, without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';

  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The reader of stdout went away (`export | head`): a normal end, exit 0 without a message. */
export class PipeClosed extends CliError {
  override name = 'PipeClosed';

  constructor() {
    super(EXIT.ok, '');
  }
}

/** EPIPE and the like: the reader of a pipe closed it. */
export function isClosedPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
