// `npm start`'s prestart: compiles to dist/ only when the sources changed since the last
// build, so a second start takes well under a second instead of a whole `tsc` run. Plain
// Node (no tsx), since it runs before every start.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Written after a successful build; its time is the build's. */
export const BUILD_STAMP = join('dist', '.build-stamp');
/** What a build reads: a change to any of them (a file added or removed too) makes dist stale. */
const INPUTS = ['src', 'tsconfig.json', 'package.json', 'package-lock.json'];

/** The newest modification time among `path` and, for a folder, everything below it. */
function newestTime(path) {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) return 0;
  if (!stats.isDirectory()) return stats.mtimeMs;
  // A folder's own time changes when an entry is added, removed or renamed in it.
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestTime(join(path, entry)));
  return newest;
}

/** Whether `root`'s dist/ is missing or older than any build input. */
export function isStale(root) {
  const stamp = statSync(join(root, BUILD_STAMP), { throwIfNoEntry: false });
  if (!stamp) return true;
  return INPUTS.some((input) => newestTime(join(root, input)) > stamp.mtimeMs);
}

function main() {
  const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
  if (!isStale(root)) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
  writeFileSync(join(root, BUILD_STAMP), `${new Date().toISOString()}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
