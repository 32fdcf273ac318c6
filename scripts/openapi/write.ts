/**
 * Writes the OpenAPI document, its openapi-fetch types and the Postman collection to
 * src/openapi/ (see artifacts.ts). With `--check`, writes nothing and exits 1 when a
 * committed file differs from what the routes produce.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REGENERATE_HINT, ROOT, renderArtifacts } from './artifacts.js';

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const artifact of await renderArtifacts()) {
  const file = join(ROOT, artifact.path);
  let committed: string | undefined;
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed === artifact.content) continue;
  stale.push(artifact.path);
  if (!check) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, artifact.content);
  }
}
if (check && stale.length > 0) {
  process.stderr.write(`Out of date: ${stale.join(', ')}; ${REGENERATE_HINT}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(stale.length > 0 ? `Wrote ${stale.join(', ')}\n` : 'src/openapi/ is up to date\n');
}
