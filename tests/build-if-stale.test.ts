import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TARGETS, isStale, type BuildTarget } from '../scripts/build/if-stale.mjs';
import { useTempDir } from './helpers/suite.js';

/** `npm start` rebuilds only when a build input is newer than the last build (times set explicitly). */

const temp = useTempDir();
let projects = 0;
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);

const FILES = [
  'src/app.ts',
  'src/routes/chats.ts',
  'src/web/main.tsx',
  'src/web/features/chats/ChatList.tsx',
  'src/openapi/schema.d.ts',
  'scripts/build/web.mjs',
  'tsconfig.json',
  'package.json',
  'package-lock.json',
];
const FOLDERS = [
  'src/web/features/chats',
  'src/web/features',
  'src/web',
  'src/routes',
  'src/openapi',
  'scripts/build',
  'src',
];

/**
 * A project whose inputs were written at t=10 s, its server built at `builtAt` and its web
 * client at `webBuiltAt` (undefined, null: never built).
 */
function project(builtAt: number | undefined, webBuiltAt: number | null = builtAt ?? null): string {
  const root = join(temp.dir, `project-${(projects += 1)}`);
  for (const folder of FOLDERS) mkdirSync(join(root, folder), { recursive: true });
  for (const file of FILES) writeFileSync(join(root, file), '{}');
  for (const path of [...FILES, ...FOLDERS]) utimesSync(join(root, path), at(10), at(10));
  mkdirSync(join(root, 'dist'));
  for (const [target, time] of [
    ['server', builtAt],
    ['web', webBuiltAt],
  ] as const) {
    if (time === undefined || time === null) continue;
    writeFileSync(join(root, TARGETS[target].stamp), 'built');
    utimesSync(join(root, TARGETS[target].stamp), at(time), at(time));
  }
  return root;
}

const staleParts = (root: string): BuildTarget[] =>
  (['server', 'web'] as const).filter((target) => isStale(root, target));

describe('the prestart build', () => {
  it('builds the server and the web client when dist has never been built (a fresh clone)', () => {
    expect(staleParts(project(undefined))).toEqual(['server', 'web']);
  });

  it('skips both builds when nothing changed since them', () => {
    expect(staleParts(project(20))).toEqual([]);
  });

  it('builds only the web client when only it was never built (a tree built before the client existed)', () => {
    expect(staleParts(project(20, null))).toEqual(['web']);
  });

  it('builds only the web client when only its sources or its build script changed', () => {
    for (const file of ['src/web/features/chats/ChatList.tsx', 'scripts/build/web.mjs']) {
      const root = project(20);
      utimesSync(join(root, file), at(30), at(30));
      expect(staleParts(root), file).toEqual(['web']);
    }
  });

  it('builds both when the generated API types or the lock file changed', () => {
    for (const file of ['src/openapi/schema.d.ts', 'package-lock.json', 'package.json']) {
      const root = project(20);
      utimesSync(join(root, file), at(30), at(30));
      expect(staleParts(root), file).toEqual(['server', 'web']);
    }
  });

  it('builds only the web client when a client file was added (its folder changed)', () => {
    const root = project(20);
    utimesSync(join(root, 'src/web/features'), at(30), at(30));
    expect(staleParts(root)).toEqual(['web']);
  });

  it('builds again when a source, a config or the lock file changed after it', () => {
    for (const file of ['src/routes/chats.ts', 'tsconfig.json', 'package.json', 'package-lock.json']) {
      const root = project(20);
      utimesSync(join(root, file), at(30), at(30));
      expect(isStale(root, 'server'), file).toBe(true);
    }
  });

  it('builds again when a source file was added or removed (its folder changed)', () => {
    const root = project(20);
    utimesSync(join(root, 'src', 'routes'), at(30), at(30));
    expect(staleParts(root)).toEqual(['server']);
  });
});
