import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * Every installed package runs on the oldest Node the README promises: `npm ci` on that
 * Node prints no EBADENGINE warning. Read from the lock file, which is what `npm ci`
 * installs, so a dependency bump that pulls a Node 22-only package fails here, not on a
 * user's machine.
 */

const root = join(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: unknown }>;
};

/** `engines.node` of a lock entry; old packages wrote `engines` as an array of strings. */
function nodeRange(engines: unknown): string | undefined {
  if (Array.isArray(engines)) {
    const entry = engines.find((item): item is string => typeof item === 'string' && /^node\b/.test(item));
    return entry?.replace(/^node\s*/, '');
  }
  if (typeof engines === 'object' && engines !== null) {
    const node = (engines as { node?: unknown }).node;
    return typeof node === 'string' ? node : undefined;
  }
  return undefined;
}

describe('engines', () => {
  const floor = semver.minVersion(manifest.engines.node)?.version;

  it('promises Node 20.20.2 or newer', () => {
    expect(manifest.engines.node).toBe('>=20.20.2');
    expect(floor).toBe('20.20.2');
  });

  it('every package in the lock file accepts that floor', () => {
    const refused = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .map(([path, entry]) => ({ path, version: entry.version, node: nodeRange(entry.engines) }))
      .filter(({ node }) => node !== undefined && !semver.satisfies(floor ?? '', node, { includePrerelease: true }))
      .map(({ path, version, node }) => `${path}@${version} needs node ${node}`);
    expect(refused).toEqual([]);
  });
});
