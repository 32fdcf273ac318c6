import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli } from './cli.js';

const root = join(import.meta.dirname, '..', '..');
/** Per checkout (so parallel checkouts never share or prune each other's), gone with `npm ci`. */
const cacheRoot = join(root, 'node_modules', '.cache', 'chat-history-test-binary');

/** Every file below `dir`, relative to the repository, sorted. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

/**
 * What the executable is made of: this node, the lock file (hence the addon and the
 * bundled packages), the build script, the sources and the migrations. A change to any
 * of them makes a new key.
 */
function buildKey(): string {
  const hash = createHash('sha256').update(process.version).update('\0').update(process.execPath);
  const files = [
    'package.json',
    'package-lock.json',
    'scripts/build-binary.ts',
    'scripts/build/web.mjs',
    ...filesBelow(join(root, 'src')),
    ...filesBelow(join(root, 'drizzle')),
  ];
  for (const file of files)
    hash
      .update('\0')
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 24);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the executables of earlier sources (about 90 MiB each), unless one is still fresh. */
function prune(keep: string) {
  for (const entry of readdirSync(cacheRoot)) {
    const path = join(cacheRoot, entry);
    if (entry === keep || entry.endsWith('.lock')) continue;
    if (Date.now() - statSync(path).mtimeMs > 600_000) rmSync(path, { recursive: true, force: true });
  }
}

/**
 * The single executable of the current sources, built by `scripts/build-binary.ts` once
 * per content, in node_modules/.cache (tests/binary.test.ts and tests/container.test.ts run at the same time and
 * share it; a rerun with the same sources reuses it). Built under a temporary name and
 * renamed into place; a second caller waits for the builder, bounded, and builds itself if
 * the builder died. Callers copy the file, never change it.
 */
export async function builtBinary(): Promise<string> {
  const key = buildKey();
  const target = join(cacheRoot, key);
  const binary = join(target, 'chat-history');
  const lock = join(cacheRoot, `${key}.lock`);
  mkdirSync(cacheRoot, { recursive: true });
  for (let attempt = 0; attempt < 1800; attempt += 1) {
    if (existsSync(binary)) return binary;
    try {
      mkdirSync(lock);
    } catch {
      // Someone is building: wait for the result, or take over if they are gone.
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // The lock is being created or removed right now.
      }
      const stale = Number.isInteger(holder) && !isAlive(holder);
      const old = existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000;
      if (stale || old) rmSync(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      const work = `${target}.tmp-${process.pid}`;
      const built = await runCli(['--out', join(work, 'chat-history')], {
        command: [process.execPath, '--import', 'tsx', join(root, 'scripts', 'build-binary.ts')],
      });
      if (built.code !== 0) throw new Error(`build failed: ${built.stderr}`);
      renameSync(work, target);
      prune(key);
      return binary;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  throw new Error(`no executable in ${target} after waiting for its builder`);
}
