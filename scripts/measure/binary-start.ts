/**
 * `npm run measure:binary`: the size of dist/chat-history (build it first with
 * `npm run build:binary`) and its cold start: from exec to the first 200 of /ready,
 * in an empty folder. The first run unpacks the embedded files and creates the database;
 * the next ones find both. Options: --runs N (default 5), --binary FILE.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../free-port.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, binary: { type: 'string' } } });
const binary = resolve(values.binary ?? join(import.meta.dirname, '..', '..', 'dist', 'chat-history'));
const runs = Number(values.runs ?? 5);

/** Milliseconds from spawn to the first 200 of /ready; then SIGTERM, which must exit 0. */
async function startOnce(dir: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(binary, [], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      CACHE_DIR: join(dir, 'cache'),
      PORT: String(port),
      CHATBOT_PROVIDER: 'offline',
      LOG_LEVEL: 'warn',
    },
    stdio: 'inherit',
  });
  try {
    for (let attempt = 0; attempt < 3000; attempt += 1) {
      const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return performance.now() - started;
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('not ready after 3000 attempts');
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    if (code !== 0) process.stderr.write(`warning: exit code ${code} after SIGTERM\n`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'chat-history-start-'));
try {
  const first = await startOnce(dir);
  const warm: number[] = [];
  for (let run = 0; run < runs; run += 1) warm.push(await startOnce(dir));
  warm.sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `${binary}: ${(statSync(binary).size / 1024 / 1024).toFixed(1)} MiB\n` +
      `cold start, first run (unpacks, creates the database): ${first.toFixed(0)} ms\n` +
      `cold start, later runs (median of ${runs}): ${median.toFixed(0)} ms (${warm.map((ms) => ms.toFixed(0)).join(', ')})\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
