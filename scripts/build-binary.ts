/**
 * `npm run build:binary`: one executable file, `dist/chat-history`, that runs the command
 * line (and so the server) with no node_modules beside it. A Node single executable
 * application: an esbuild bundle of src/cli.ts, plus the files the app reads at run time
 * (migrations, the API explorer, the web client, better-sqlite3's addon) as SEA assets, injected with
 * postject into a copy of this node binary. Built and tested on Linux (macOS would also
 * need the Mach-O segment option and re-signing); it runs where this node and this
 * better-sqlite3 addon run: same OS, CPU and libc.
 *
 * Options: --out FILE (default dist/chat-history).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { EMBEDDED_PATHS, MANIFEST_ASSET, type EmbeddedManifest } from '../src/embedded.js';
import { buildIfStale } from './build/if-stale.mjs';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const output = resolve(values.out ?? join(root, 'dist', 'chat-history'));
/** The bundle, the blob and its config: only the executable is kept. */
const work = mkdtempSync(join(tmpdir(), 'chat-history-build-'));
/** The fuse that tells a node binary it carries a SEA blob (Node's documented sentinel). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function step(message: string, started: number) {
  process.stderr.write(`${message} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}

/** Runs a tool quietly (postject prints pages of harmless ELF warnings); its output only if it fails. */
function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout}${result.stderr}`);
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
  }
}

/** Every file below `dir`, as paths relative to it, sorted. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

const started = performance.now();
try {
  // 1. The bundle. SEA runs one CommonJS script whose require() loads built-in modules only:
  //    the banner swaps in a real require (for the unpacked addon), and gives the code its
  //    import.meta.url.
  const bundle = join(work, 'chat-history.cjs');
  const result = await build({
    entryPoints: [join(root, 'src', 'cli.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    logLevel: 'warning',
    define: { 'import.meta.url': '__importMetaUrl' },
    banner: {
      js: [
        'var __importMetaUrl = require("node:url").pathToFileURL(__filename).href;',
        'require = require("node:module").createRequire(__filename);',
      ].join('\n'),
    },
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  step(`bundled src/cli.ts: ${(statSync(bundle).size / 1024 / 1024).toFixed(1)} MiB`, started);

  // 2. The assets, each under its path in the unpacked folder (see src/embedded.ts).
  const assets = new Map<string, string>();
  for (const [folder, under] of [
    [join(root, 'drizzle', 'sqlite'), EMBEDDED_PATHS.migrationsFolder],
    [join(root, 'drizzle', 'pg'), EMBEDDED_PATHS.pgMigrationsFolder],
  ] as const) {
    for (const file of filesBelow(folder)) assets.set(`${under}/${file}`, join(folder, file));
  }
  const swaggerUiStatic = join(dirname(require.resolve('@fastify/swagger-ui/package.json')), 'static');
  for (const file of filesBelow(swaggerUiStatic))
    assets.set(`${EMBEDDED_PATHS.swaggerUiDir}/${file}`, join(swaggerUiStatic, file));
  // The web client as `npm start` serves it, built first when its sources changed.
  if ((await buildIfStale(root, ['web'])).length > 0) step('built the web client', started);
  const webOut = join(root, 'dist', 'web');
  for (const file of filesBelow(webOut)) assets.set(`${EMBEDDED_PATHS.webDir}/${file}`, join(webOut, file));
  const addon = join(
    dirname(require.resolve('better-sqlite3/package.json')),
    'build',
    'Release',
    'better_sqlite3.node',
  );
  assets.set(EMBEDDED_PATHS.nativeBinding, addon);

  // The cache folder's name: a new build with any different file gets a fresh folder.
  const hash = createHash('sha256');
  for (const [name, path] of assets) hash.update(name).update('\0').update(readFileSync(path)).update('\0');
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const manifest: EmbeddedManifest = {
    version: packageJson.version,
    hash: hash.digest('hex').slice(0, 16),
    files: [...assets.keys()],
    sizes: [...assets.values()].map((path) => statSync(path).size),
  };
  const manifestPath = join(work, MANIFEST_ASSET);
  writeFileSync(manifestPath, JSON.stringify(manifest));

  // 3. The SEA blob. The code cache makes start-up faster; it is only valid for the node
  //    binary that made it, which is the one copied below.
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: true,
        assets: { [MANIFEST_ASSET]: manifestPath, ...Object.fromEntries(assets) },
      },
      null,
      2,
    ),
  );
  run(process.execPath, ['--experimental-sea-config', seaConfig]);
  step(`prepared the blob: ${assets.size} assets, ${(statSync(blob).size / 1024 / 1024).toFixed(1)} MiB`, started);

  // 4. A copy of node, without its debug symbols where `strip` exists (Linux: about 13 MB
  //    less; stripping after injection would break the binary), with the blob injected.
  mkdirSync(dirname(output), { recursive: true });
  rmSync(output, { force: true });
  copyFileSync(process.execPath, output);
  chmodSync(output, 0o755);
  if (process.platform === 'linux') {
    const stripped = spawnSync('strip', [output], { stdio: 'ignore' });
    if (stripped.status !== 0) copyFileSync(process.execPath, output);
  }
  run(process.execPath, [
    require.resolve('postject/dist/cli.js'),
    output,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SEA_FUSE,
  ]);
  step(`built ${relative(process.cwd(), output)}: ${(statSync(output).size / 1024 / 1024).toFixed(1)} MiB`, started);
} finally {
  rmSync(work, { recursive: true, force: true });
}
