import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { tsxLoader } from './server.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const root = join(import.meta.dirname, '..', '..');

/**
 * Runs a command line to its end: `command` is the program and its leading arguments
 * (the source through tsx by default, or a built executable). Only PATH and `env` are
 * passed, so nothing leaks in from the developer's environment.
 */
export async function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    cwd?: string;
    command?: string[];
    /** A file descriptor for the child's stdout instead of a pipe (stdout then reads as ''). */
    stdoutFd?: number;
    /** Closes the reading end of the child's stdout at once, as `| head` does once it has enough. */
    closeStdout?: boolean;
    /** Kills the child when aborted (a bound for a command that might never end). */
    signal?: AbortSignal;
  } = {},
): Promise<CliResult> {
  const [program, ...leading] = options.command ?? [
    process.execPath,
    '--import',
    tsxLoader,
    join(root, 'src', 'cli.ts'),
  ];
  if (program === undefined) throw new Error('no program to run');
  const child = spawn(program, [...leading, ...args], {
    cwd: options.cwd ?? root, // where tsx is installed
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', options.stdoutFd ?? 'pipe', 'pipe'],
    ...(options.signal ? { signal: options.signal, killSignal: 'SIGKILL' as const } : {}),
  });
  child.on('error', () => {}); // an abort is reported as 'error'; 'close' follows
  if (options.closeStdout) child.stdout?.destroy();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': by then stdout and stderr are read to their end.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
