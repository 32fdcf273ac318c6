// @ts-check
/**
 * `npm run lint`: typescript-eslint's recommended rules, no import cycle anywhere (type-only
 * and dynamic imports included), and the layers of src/ importing downwards only:
 * domain <- repositories <- services <- routes/plugins <- app (the wiring).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import ts from 'typescript';

const root = dirname(fileURLToPath(import.meta.url));
/** The folders whose files make up the import graph (the rule's `roots` option replaces them). */
const SOURCE_DIRS = ['src', 'tests', 'scripts'];

/**
 * The import graph of every .ts and .tsx file under src/, tests/ and scripts/, as the compiler
 * resolves it (tsconfig.json's NodeNext: `./x.js` is `./x.ts`). `ts.preProcessFile` lists
 * every module a file names: `import`, `import type`, `export ... from`, `import()` and
 * `import('...').T`. import-x/no-cycle cannot stand in: it skips type-only imports by
 * design, and a type shared by two layers belongs in the lower one.
 */
const compilerOptions = ts.parseJsonConfigFileContent(
  ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config,
  ts.sys,
  root,
).options;

/** @type {Map<string, { mtimeMs: number; imports: string[] }>} */
const importsByFile = new Map();
/** @typedef {{ signature: string; component: Map<string, number>; edges: Map<string, string[]> }} Graph */
/** The last graph built for each set of roots, reused while no file under them changed. @type {Map<string, Graph>} */
const graphs = new Map();

/** @param {string} specifier @param {string} from @returns {string | undefined} */
function resolveImport(specifier, from) {
  const resolved = ts.resolveModuleName(specifier, from, compilerOptions, ts.sys).resolvedModule;
  if (!resolved || resolved.isExternalLibraryImport) return undefined;
  return resolved.resolvedFileName;
}

/** @param {string[]} roots */
function projectFiles(roots) {
  return roots.flatMap((dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
      .map((entry) => join(entry.parentPath, entry.name)),
  );
}

/** Strongly connected components (Tarjan): two files share one exactly when they are on a cycle. */
/** @param {string[]} roots @returns {Graph} */
function currentGraph(roots) {
  const files = projectFiles(roots);
  const stamps = files.map((file) => `${file}:${statSync(file).mtimeMs}`).join('|');
  const known = graphs.get(roots.join('|'));
  if (known?.signature === stamps) return known;
  /** @type {Map<string, string[]>} */
  const edges = new Map();
  for (const file of files) {
    const mtimeMs = statSync(file).mtimeMs;
    let cached = importsByFile.get(file);
    if (cached?.mtimeMs !== mtimeMs) {
      const names = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
      const imports = names.map((name) => resolveImport(name.fileName, file)).filter((path) => path !== undefined);
      cached = { mtimeMs, imports };
      importsByFile.set(file, cached);
    }
    edges.set(file, cached.imports);
  }
  /** @type {Map<string, number>} */
  const component = new Map();
  /** @type {Map<string, { index: number; low: number }>} */
  const marks = new Map();
  /** @type {string[]} */
  const stack = [];
  const onStack = new Set();
  let counter = 0;
  /** @param {string} file */
  const visit = (file) => {
    marks.set(file, { index: counter, low: counter });
    counter += 1;
    stack.push(file);
    onStack.add(file);
    const mark = /** @type {{ index: number; low: number }} */ (marks.get(file));
    for (const next of edges.get(file) ?? []) {
      const seen = marks.get(next);
      if (!seen) {
        visit(next);
        mark.low = Math.min(mark.low, /** @type {{ low: number }} */ (marks.get(next)).low);
      } else if (onStack.has(next)) {
        mark.low = Math.min(mark.low, seen.index);
      }
    }
    if (mark.low === mark.index) {
      let member;
      do {
        member = /** @type {string} */ (stack.pop());
        onStack.delete(member);
        component.set(member, mark.index);
      } while (member !== file);
    }
  };
  for (const file of edges.keys()) if (!marks.has(file)) visit(file);
  const built = { signature: stamps, component, edges };
  graphs.set(roots.join('|'), built);
  return built;
}

/**
 * The shortest way back from `start` to `target` inside their component.
 * @param {string} start @param {string} target @param {Graph} graph @returns {string[]}
 */
function pathBack(start, target, { component, edges }) {
  const inCycle = component.get(target);
  /** @type {Map<string, string | undefined>} */
  const cameFrom = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = /** @type {string} */ (queue.shift());
    if (file === target) break;
    for (const next of edges.get(file) ?? []) {
      if (cameFrom.has(next) || component.get(next) !== inCycle) continue;
      cameFrom.set(next, file);
      queue.push(next);
    }
  }
  const path = [];
  for (let file = /** @type {string | undefined} */ (target); file !== undefined; file = cameFrom.get(file))
    path.unshift(file);
  return path;
}

/** @type {import('eslint').Rule.RuleModule} */
const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbids an import that closes a cycle, counting type-only and dynamic imports.' },
    messages: { cycle: 'Import cycle: {{cycle}}' },
    schema: [
      {
        type: 'object',
        properties: { roots: { type: 'array', items: { type: 'string' } } },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const file = context.physicalFilename;
    /** @type {string[]} */
    const roots = (context.options[0]?.roots ?? SOURCE_DIRS).map((/** @type {string} */ dir) => resolve(root, dir));
    /** @param {import('estree').Node | null | undefined} source */
    const check = (source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveImport(source.value, file);
      if (target === undefined) return;
      const current = currentGraph(roots);
      if (target !== file && current.component.get(target) !== current.component.get(file)) return;
      const cycle = [file, ...pathBack(target, file, current)].map((path) => relative(context.cwd, path)).join(' -> ');
      context.report({ node: source, messageId: 'cycle', data: { cycle } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      /** `import('./x.js').T` in a type. @param {{ argument: { literal?: import('estree').Node } }} node */
      TSImportType: (node) => check(node.argument.literal),
    };
  },
};

/** Paths of src/ by layer, for import-x/no-restricted-paths (which counts type-only imports). */
const layer = {
  domain: './src/domain',
  db: './src/db',
  repositories: './src/repositories',
  services: './src/services',
  schemas: './src/schemas',
  chatbot: './src/chatbot',
  routes: './src/routes',
  plugins: './src/plugins',
  cli: './src/cli',
  entries: ['./src/app.ts', './src/server.ts', './src/cli.ts'],
};
/** What builds the app and the command line: the only code that may open the database. */
const wiring = [layer.plugins, layer.cli, ...layer.entries];
/** Every file of src/ outside the given folders (and outside the entries, unless `withEntries`). */
const srcOutside = (/** @type {string[]} */ folders, withEntries = false) => [
  `./src/!(${folders.join('|')})/**/*.ts`,
  withEntries ? './src/*.ts' : './src/!(app|server|cli).ts',
];

const zones = [
  {
    target: layer.domain,
    from: [
      layer.db,
      layer.repositories,
      layer.services,
      layer.routes,
      layer.plugins,
      layer.schemas,
      layer.chatbot,
      layer.cli,
      ...layer.entries,
    ],
    message: 'src/domain is the lowest layer: it imports no other layer of src/.',
  },
  {
    target: layer.repositories,
    from: [layer.services, layer.routes, layer.plugins, layer.schemas, layer.cli, ...layer.entries],
    message: 'Repositories import only the domain and src/db.',
  },
  {
    target: layer.services,
    from: [layer.routes, layer.plugins, layer.cli, ...layer.entries],
    message: 'Services do not import routes, plugins, the CLI or the app.',
  },
  {
    target: layer.schemas,
    from: [layer.services, layer.repositories, layer.db, layer.routes, layer.plugins, layer.cli, ...layer.entries],
    message: 'Schemas are DTOs mapped from domain types: they import the domain, not the layers that use them.',
  },
  {
    target: [layer.routes, layer.plugins, layer.chatbot],
    from: [layer.cli, ...layer.entries],
    message: 'Only the entries (app, server, CLI) sit above routes, plugins and the chatbot clients.',
  },
  {
    target: srcOutside(['db', 'repositories', 'plugins', 'cli']),
    from: layer.db,
    message: 'Only src/repositories and the wiring (plugins, CLI, app) know the database.',
  },
  {
    target: wiring,
    from: layer.db,
    except: ['./index.ts'],
    message: "The wiring opens the database through src/db's engine-neutral entry (src/db/index.ts) only.",
  },
  {
    target: srcOutside(['repositories'], true),
    from: ['./src/repositories/sqlite', './src/repositories/pg'],
    message: 'Only src/repositories/index.ts picks the engine: import the contract, not an engine folder.',
  },
];

/**
 * The web client (src/web) is its own program, bundled for the browser: it shares nothing
 * with the server but the generated API types (src/openapi), and the server imports nothing
 * of it. Inside it, features do not import one another (bulletproof-react): what two need
 * lives in ui/, api/ or lib/, and app/ composes the features.
 */
const webFeatures = readdirSync(join(root, 'src', 'web', 'features'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
zones.push(
  {
    target: './src/web',
    from: ['./src/!(web|openapi)/**', './src/*.ts'],
    message: 'The web client imports only the generated API types (src/openapi) from the server side.',
  },
  {
    target: srcOutside(['web'], true),
    from: './src/web',
    message: 'The server does not import the web client.',
  },
  ...webFeatures.map((feature) => ({
    target: `./src/web/features/${feature}`,
    from: `./src/web/features/!(${feature})/**`,
    message: 'Features do not import one another: share through src/web/ui, api or lib, compose in src/web/app.',
  })),
  {
    target: ['./src/web/ui', './src/web/api', './src/web/lib'],
    from: ['./src/web/features', './src/web/app'],
    message: 'Shared code of the client does not import features or the app.',
  },
);

/** Packages a layer must not depend on at all (STYLE.md: the domain and the chatbot clients have no Fastify). */
const noFramework = (/** @type {string[]} */ names, /** @type {string} */ message) => ({
  '@typescript-eslint/no-restricted-imports': [
    'error',
    { patterns: [{ group: names, message }] }, // allowTypeImports is off: a type import counts too
  ],
});

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'drizzle/', 'src/openapi/', 'scripts/results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { sourceType: 'module' },
    plugins: { 'import-x': importX, local: { rules: { 'no-import-cycle': noImportCycle } } },
    settings: {
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: [join(root, 'tsconfig.json'), join(root, 'src/web/tsconfig.json')],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: {
      'local/no-import-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: root, zones }],
      // A leading underscore marks a name kept on purpose (`for (const _ of text)`, a hook's
      // unused `_reply`): without the pattern those are reported as unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: noFramework(
      ['fastify', 'fastify-*', '@fastify/*', 'drizzle-orm', 'drizzle-orm/*', 'better-sqlite3', 'pg'],
      'src/domain has no Fastify and no Drizzle: pure types, rules and planners.',
    ),
  },
  {
    files: ['src/chatbot/**/*.ts'],
    rules: noFramework(
      ['fastify', 'fastify-*', '@fastify/*'],
      'The chatbot clients are plain TypeScript; a plugin wires them in.',
    ),
  },
);
