import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineOnlyGroups } from './helpers/global-setup.js';

describe('the suite itself', () => {
  it('lists every engine-only group it skips, so `npm test` can say why tests are skipped', () => {
    const testsDir = import.meta.dirname;
    // Every skipIf in the test files must be one the global set-up recognises and names.
    const skipIfs = readdirSync(testsDir)
      .filter((name) => name.endsWith('.test.ts') && name !== 'test-suite.test.ts')
      .flatMap((name) => readFileSync(join(testsDir, name), 'utf8').match(/describe\.skipIf\(!?onPg\)/g) ?? []);
    const groups = engineOnlyGroups().filter((group) => group.file !== 'tests/test-suite.test.ts');
    expect(groups.length).toBe(skipIfs.length);
    expect(groups.map((group) => group.engine)).toContain('pg');
    expect(groups.map((group) => group.engine)).toContain('sqlite');
    for (const group of groups) expect(group.title.length).toBeGreaterThan(5);
  });
});
