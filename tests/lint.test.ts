import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './helpers/suite.js';

/**
 * What eslint.config.js promises beyond the stock rules: an import cycle is an error even
 * when made of type-only or dynamic imports (import-x/no-cycle skips type-only ones), and
 * src/domain depends on no higher layer and on no framework, type imports included.
 */

const root = join(import.meta.dirname, '..');
const temp = useTempDir();

const messagesOf = (results: ESLint.LintResult[]) =>
  results.flatMap((result) => result.messages.map((message) => `${message.ruleId}: ${message.message}`));

/** Lints files written to the temporary folder, with the cycle rule's graph built from that folder alone. */
async function lintFixture(files: Record<string, string>): Promise<Record<string, string[]>> {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(temp.dir, name), text);
  const eslint = new ESLint({
    cwd: temp.dir,
    overrideConfigFile: join(root, 'eslint.config.js'),
    overrideConfig: { rules: { 'local/no-import-cycle': ['error', { roots: [temp.dir] }] } },
  });
  const results = await eslint.lintFiles(Object.keys(files).map((name) => join(temp.dir, name)));
  return Object.fromEntries(
    results.map((result) => [result.filePath.slice(temp.dir.length + 1), messagesOf([result])]),
  );
}

describe('the lint configuration', () => {
  it('reports cycles of type-only imports, of a dynamic import and of an import type, and nothing else', async () => {
    const messages = await lintFixture({
      'types-a.ts': "import type { B } from './types-b.js';\nexport interface A {\n  b?: B;\n}\n",
      'types-b.ts': "import { type A } from './types-a.js';\nexport interface B {\n  a?: A;\n}\n",
      'lazy-c.ts': "export const loadD = () => import('./lazy-d.js');\n",
      'lazy-d.ts': "import { loadD } from './lazy-c.js';\nexport const again = loadD;\n",
      'query-e.ts': "export type E = { f?: import('./query-f.js').F };\n",
      'query-f.ts': "import type { E } from './query-e.js';\nexport type F = { e?: E };\n",
      'outside.ts': "import type { A } from './types-a.js';\nexport const a: A = {};\n",
    });
    expect(messages).toEqual({
      'types-a.ts': ['local/no-import-cycle: Import cycle: types-a.ts -> types-b.ts -> types-a.ts'],
      'types-b.ts': ['local/no-import-cycle: Import cycle: types-b.ts -> types-a.ts -> types-b.ts'],
      'lazy-c.ts': ['local/no-import-cycle: Import cycle: lazy-c.ts -> lazy-d.ts -> lazy-c.ts'],
      'lazy-d.ts': ['local/no-import-cycle: Import cycle: lazy-d.ts -> lazy-c.ts -> lazy-d.ts'],
      'query-e.ts': ['local/no-import-cycle: Import cycle: query-e.ts -> query-f.ts -> query-e.ts'],
      'query-f.ts': ['local/no-import-cycle: Import cycle: query-f.ts -> query-e.ts -> query-f.ts'],
      'outside.ts': [],
    });
  });

  it('keeps src/domain below every other layer and free of Fastify, counting type-only imports', async () => {
    const eslint = new ESLint({ cwd: root });
    const results = await eslint.lintText(
      "import type { App } from '../app.js';\nimport type { FastifyInstance } from 'fastify';\n" +
        'export type Both = [App, FastifyInstance];\n',
      { filePath: join(root, 'src', 'domain', 'lint-probe.ts') },
    );
    const rules = results.flatMap((result) => result.messages.map((message) => message.ruleId));
    expect(rules).toEqual(['import-x/no-restricted-paths', '@typescript-eslint/no-restricted-imports']);
  });
});
