// The web client's build: Vite (React) from src/web/ into dist/web/, then a gzip and a
// brotli copy of every text file beside it, so the server sends them compressed with no
// work per request (@fastify/static's preCompressed). Plain Node (no tsx): `npm start`'s
// prestart runs it when the client's sources changed. `--dev`: Vite's dev server instead,
// with the API proxied to the server on API_URL (default http://127.0.0.1:3000).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
/** Where the client's sources are (index.html is Vite's entry). */
export const WEB_SOURCE = join('src', 'web');
/** Where the built client goes; the server serves it from there. */
export const WEB_OUT = join('dist', 'web');
/** Paths the server answers itself: the dev server proxies them to it. */
const API_PREFIXES = ['/v1', '/search', '/docs', '/health', '/ready', '/metrics'];
const COMPRESSIBLE = /\.(?:js|css|html|svg|json|map)$/;

/** Vite's configuration, from the repository at `projectRoot`. */
export async function webConfig(projectRoot = root) {
  const { default: react } = await import('@vitejs/plugin-react');
  return {
    configFile: false,
    root: join(projectRoot, WEB_SOURCE),
    plugins: [react()],
    logLevel: 'warn',
    build: {
      outDir: join(projectRoot, WEB_OUT),
      emptyOutDir: true,
      // Hashed file names below assets/: the server caches them for a year.
      assetsDir: 'assets',
      sourcemap: false,
      // Vite's warning counts minified bytes; the budget that matters is the gzip transfer,
      // measured by scripts/measure/web-size.ts.
      chunkSizeWarningLimit: 1024,
      // Nothing inlined as a data: URL into scripts or styles; the CSP stays simple.
      assetsInlineLimit: 0,
      // The CSP allows no inline script: the modulepreload polyfill stays in the bundle.
      modulePreload: { polyfill: true },
    },
    server: {
      proxy: Object.fromEntries(API_PREFIXES.map((prefix) => [prefix, process.env.API_URL ?? 'http://127.0.0.1:3000'])),
    },
  };
}

/** Every file below `dir`, as full paths. */
function filesBelow(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Writes FILE.gz and FILE.br beside each compressible file of `dir`. */
export function precompress(dir) {
  for (const file of filesBelow(dir).filter((path) => COMPRESSIBLE.test(path))) {
    const content = readFileSync(file);
    writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
    writeFileSync(`${file}.br`, brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
}

/** Builds the client of the repository at `projectRoot` into its dist/web. */
export async function buildWeb(projectRoot = root) {
  const { build } = await import('vite');
  // Always the production build (React's, without its development checks and source paths),
  // even from a process whose NODE_ENV says otherwise: vitest's global setup sets `test`.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ ...(await webConfig(projectRoot)), mode: 'production' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  precompress(join(projectRoot, WEB_OUT));
}

async function main() {
  if (process.argv.includes('--dev')) {
    const { createServer } = await import('vite');
    const server = await createServer({ ...(await webConfig()), logLevel: 'info' });
    await server.listen();
    server.printUrls();
    return;
  }
  await buildWeb();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
