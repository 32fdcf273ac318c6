import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort } from '../../scripts/free-port.js';

/** The real server as a separate process: src/server.ts through tsx, on a free loopback port. */

const root = join(import.meta.dirname, '..', '..');
const children = new Set<ChildProcess>();
/** tsx's loader by path, so that a child may run in any working directory. */
export const tsxLoader = createRequire(import.meta.url).resolve('tsx');

export interface RunningServer {
  child: ChildProcess;
  base: string;
  output: () => string;
}

/**
 * Starts the server with `env` (plus PATH, PORT and HOST) and resolves once /ready answers
 * 200; rejects with the server's output if it exits first. `nodeArgs` go to node before the
 * entry (a preloaded module, say).
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: { cwd?: string; nodeArgs?: string[] } = {},
): Promise<RunningServer> {
  const port = await freePort();
  const args = ['--import', tsxLoader, ...(options.nodeArgs ?? []), join(root, 'src', 'server.ts')];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? root, // callers give an absolute database path, or a cwd of their own
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  // Ready when /ready answers; bounded by attempts, and by the child exiting early.
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
    try {
      if ((await fetch(`${base}/ready`)).ok) return { child, base, output: () => output };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`server did not become ready: ${output}`);
}

/** SIGKILLs every server this test file started that is still running (for afterAll). */
export function killServerProcesses(): void {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Waits (bounded) until the server has begun closing: /ready answers something else than
 * 200, or refuses the connection. A condition, not a delay: tests stay timing-independent.
 */
export async function untilClosing(base: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    const status = await fetch(`${base}/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (status !== 200) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
