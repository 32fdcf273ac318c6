import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_STAMP, isStale } from '../scripts/build/if-stale.mjs';
import { useTempDir } from './helpers/suite.js';

/** `npm start` rebuilds only when a build input is newer than the last build (times set explicitly). */

const temp = useTempDir();
let projects = 0;
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);

/** A project whose inputs were written at t=10 s, built at `builtAt` (undefined: never built). */
function project(builtAt: number | undefined): string {
  const root = join(temp.dir, `project-${(projects += 1)}`);
  mkdirSync(join(root, 'src', 'routes'), { recursive: true });
  const files = ['src/app.ts', 'src/routes/chats.ts', 'tsconfig.json', 'package.json', 'package-lock.json'];
  for (const file of files) writeFileSync(join(root, file), '{}');
  for (const path of [...files, 'src/routes', 'src']) utimesSync(join(root, path), at(10), at(10));
  if (builtAt !== undefined) {
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, BUILD_STAMP), 'built');
    utimesSync(join(root, BUILD_STAMP), at(builtAt), at(builtAt));
  }
  return root;
}

describe('the prestart build', () => {
  it('builds when dist has never been built (a fresh clone)', () => {
    expect(isStale(project(undefined))).toBe(true);
  });

  it('skips the build when nothing changed since it', () => {
    expect(isStale(project(20))).toBe(false);
  });

  it('builds again when a source, a config or the lock file changed after it', () => {
    for (const file of ['src/routes/chats.ts', 'tsconfig.json', 'package.json', 'package-lock.json']) {
      const root = project(20);
      utimesSync(join(root, file), at(30), at(30));
      expect(isStale(root), file).toBe(true);
    }
  });

  it('builds again when a source file was added or removed (its folder changed)', () => {
    const root = project(20);
    utimesSync(join(root, 'src', 'routes'), at(30), at(30));
    expect(isStale(root)).toBe(true);
  });
});
