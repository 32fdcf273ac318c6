// Preloaded with `node --import <this file>`: records every module file the process loads
// (ES modules through a resolve hook, CommonJS ones from require.cache) and writes them to
// the file named by LOADED_MODULES_FILE when the process exits. The evidence for what a
// configuration does not load (tests/lazy-loading.test.ts, npm run measure:process).
// Plain Node, so that it also preloads into `node dist/src/server.js`.
import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const output = process.env.LOADED_MODULES_FILE;
if (!output) throw new Error('loaded-modules.mjs: set LOADED_MODULES_FILE to the file to write');

/** file: URLs resolved by the ES module loader, reported by the hooks thread in order. */
const resolved = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => resolved.add(url));
port1.unref(); // the recorder never keeps the process alive
register('./loaded-modules-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

/** The package a file belongs to (`pg`, `@fastify/static`), or undefined outside node_modules. */
export function packageOf(file) {
  const at = file.lastIndexOf('/node_modules/');
  if (at === -1) return undefined;
  const parts = file.slice(at + '/node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

process.on('exit', () => {
  const esm = [...resolved].filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url));
  const cjs = Object.keys(createRequire(import.meta.url).cache);
  const files = [...new Set([...esm, ...cjs])].sort();
  const packages = [...new Set(files.map(packageOf).filter((name) => name !== undefined))].sort();
  writeFileSync(output, JSON.stringify({ packages, files }, null, 2));
});
