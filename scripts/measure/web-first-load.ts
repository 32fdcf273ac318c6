/**
 * `npm run measure:web`: what a browser transfers on the web client's first load, as the
 * service sends it (gzip, through the real app on a temporary database): index.html, the
 * scripts it loads at once (its module script and modulepreloads, not the chunks fetched
 * later, such as the highlighter) and its styles. Exits 1 when the JavaScript is over the
 * budget (200 KB). Build the client first (`npm run build:web`; `npm start` and `npm test`
 * do it when stale). `--json`: the numbers as one JSON line.
 */
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

/** The first load's JavaScript may transfer at most this many bytes (gzip). */
export const JS_BUDGET_BYTES = 200 * 1024;

export interface FirstLoad {
  htmlBytes: number;
  jsBytes: number;
  cssBytes: number;
  files: { path: string; bytes: number }[];
}

/** GET `url`, with `Accept-Encoding: gzip` when `gzip`. */
type Inject = (
  url: string,
  gzip: boolean,
) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;

/** Fetches `/` and what it loads at once, gzip accepted, summing the bytes sent. */
export async function measureFirstLoad(inject: Inject): Promise<FirstLoad> {
  const index = await inject('/', false);
  if (index.statusCode !== 200) throw new Error(`GET / answered ${index.statusCode}: build the client first`);
  const html = String(index.body);
  const indexSent = await inject('/', true);
  const scripts = [
    ...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ];
  const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)];
  const files: FirstLoad['files'] = [];
  const sent = async (path: string) => {
    const response = await inject(path, true);
    if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}`);
    const bytes = Number(response.headers['content-length']);
    files.push({ path, bytes });
    return bytes;
  };
  let jsBytes = 0;
  for (const [, path] of scripts) jsBytes += await sent(path ?? '');
  let cssBytes = 0;
  for (const [, path] of styles) cssBytes += await sent(path ?? '');
  return { htmlBytes: Number(indexSent.headers['content-length']), jsBytes, cssBytes, files };
}

async function main() {
  const app = await buildApp({
    config: loadConfig({ DATABASE_URL: ':memory:', CHATBOT_PROVIDER: 'offline', LOG_LEVEL: 'silent' }),
  });
  try {
    // Inject carries no compressed body decoding: content-length is what travels.
    const load = await measureFirstLoad(async (url, gzip) => {
      const response = await app.inject({ method: 'GET', url, headers: gzip ? { 'accept-encoding': 'gzip' } : {} });
      return { statusCode: response.statusCode, body: response.body, headers: response.headers };
    });
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(load)}\n`);
    else {
      for (const file of load.files) process.stdout.write(`${file.path}  ${kb(file.bytes)}\n`);
      process.stdout.write(
        `first load (gzip): JavaScript ${kb(load.jsBytes)} of a ${kb(JS_BUDGET_BYTES)} budget, CSS ${kb(load.cssBytes)}, HTML ${kb(load.htmlBytes)}\n`,
      );
    }
    if (load.jsBytes > JS_BUDGET_BYTES) process.exitCode = 1;
  } finally {
    await app.close();
  }
}

if (process.argv[1] === import.meta.filename) await main();
