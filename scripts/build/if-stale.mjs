// `npm start`'s prestart: builds the server (tsc into dist/) and the web client (Vite into
// dist/web/) only when their sources changed since their last build, so a second start
// takes well under a second instead of a whole build. Plain Node (no tsx), since it runs
// before every start. Each part has its own stamp: a change to the client rebuilds only the
// client, one to the server only the server.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a build: each written after its build succeeded; its time is the build's. */
export const BUILD_STAMP = join('dist', '.build-stamp');
export const WEB_BUILD_STAMP = join('dist', '.web-build-stamp');

/**
 * What each part reads: a change to any of them (a file added or removed too) makes it
 * stale. `skip` are paths below the inputs that belong to the other part.
 */
export const TARGETS = {
  server: {
    stamp: BUILD_STAMP,
    inputs: ['src', 'tsconfig.json', 'package.json', 'package-lock.json'],
    skip: [join('src', 'web')],
  },
  web: {
    stamp: WEB_BUILD_STAMP,
    inputs: [
      join('src', 'web'),
      join('src', 'openapi'),
      join('scripts', 'build', 'web.mjs'),
      'package.json',
      'package-lock.json',
    ],
    skip: [],
  },
};

/** The newest modification time among `path` and, for a folder, everything below it except `skip`. */
function newestTime(path, skip) {
  if (skip.has(path)) return 0;
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) return 0;
  if (!stats.isDirectory()) return stats.mtimeMs;
  // A folder's own time changes when an entry is added, removed or renamed in it.
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestTime(join(path, entry), skip));
  return newest;
}

/** Whether `root`'s build of `target` (server or web) is missing or older than any of its inputs. */
export function isStale(root, target = 'server') {
  const { stamp, inputs, skip } = TARGETS[target];
  const built = statSync(join(root, stamp), { throwIfNoEntry: false });
  if (!built) return true;
  const skipped = new Set(skip.map((path) => join(root, path)));
  return inputs.some((input) => newestTime(join(root, input), skipped) > built.mtimeMs);
}

function stamp(root, target) {
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, TARGETS[target].stamp), `${new Date().toISOString()}\n`);
}

/** Builds each of `targets` of the repository at `root` that is stale; returns those it built. */
export async function buildIfStale(root, targets = ['server', 'web']) {
  const built = [];
  for (const target of targets.filter((name) => isStale(root, name))) {
    if (target === 'server') {
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
      if (result.status !== 0) throw new Error(`tsc failed (${result.status ?? result.signal})`);
    } else {
      // Loaded only when needed: Vite takes a moment to import.
      const { buildWeb } = await import('./web.mjs');
      await buildWeb(root);
    }
    stamp(root, target);
    built.push(target);
  }
  return built;
}

async function main() {
  try {
    await buildIfStale(join(fileURLToPath(import.meta.url), '..', '..', '..'));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
