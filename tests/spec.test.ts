import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { REGENERATE_HINT, ROOT, renderArtifacts, type Artifact } from '../scripts/openapi/artifacts.js';

/**
 * The committed spec cannot drift: the document, its client types and the Postman collection
 * in src/openapi/ must be exactly what the routes produce today, and the document must be a
 * valid OpenAPI document.
 */

let artifacts: Artifact[];
beforeAll(async () => {
  artifacts = await renderArtifacts();
});

const generated = (path: string): string => {
  const artifact = artifacts.find((candidate) => candidate.path === path);
  if (!artifact) throw new Error(`no artifact ${path}`);
  return artifact.content;
};

/** Where two texts first differ, as a line of each: enough to see what changed. */
function firstDifference(committed: string, fresh: string): string {
  const a = committed.split('\n');
  const b = fresh.split('\n');
  const line = a.findIndex((text, index) => text !== b[index]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(a[at] ?? '<end of file>')}, generated ${JSON.stringify(b[at] ?? '<end of file>')}`;
}

describe.each(['src/openapi/openapi.json', 'src/openapi/schema.d.ts', 'src/openapi/postman-collection.json'])(
  '%s',
  (path) => {
    it('is what the routes produce today', () => {
      let committed: string;
      try {
        committed = readFileSync(join(ROOT, path), 'utf8');
      } catch {
        expect.fail(`${path} is missing: ${REGENERATE_HINT}`);
      }
      const fresh = generated(path);
      if (committed !== fresh)
        expect.fail(`${path} is out of date (${firstDifference(committed, fresh)}): ${REGENERATE_HINT}`);
    });
  },
);

describe('the generation', () => {
  it('is deterministic: a second run in the same process gives the same bytes', async () => {
    const again = await renderArtifacts();
    expect(again.map(({ path }) => path)).toEqual(artifacts.map(({ path }) => path));
    for (const [index, artifact] of again.entries())
      expect(artifact.content, artifact.path).toBe(artifacts[index]?.content);
  });

  it('holds nothing of the machine it ran on', () => {
    for (const { path, content } of artifacts) {
      expect(content, path).not.toContain(ROOT);
      expect(content, path).not.toMatch(/127\.0\.0\.1:(?!3000\b)\d+/);
    }
  });
});

describe('the OpenAPI document', () => {
  it('validates with swagger-parser, with zero errors', async () => {
    const document: unknown = JSON.parse(generated('src/openapi/openapi.json'));
    // validate() dereferences the object it is given: it gets its own copy.
    await expect(
      SwaggerParser.validate(structuredClone(document) as Parameters<typeof SwaggerParser.validate>[0]),
    ).resolves.toBeTruthy();
  });
});

describe('the Postman collection', () => {
  interface Request {
    name: string;
    event?: { listen: string; script: { exec: string[] } }[];
    request: { auth?: { type: string } | null; url: { query?: { key: string; value: string }[] } };
  }
  interface Collection {
    auth: { type: string; bearer: { key: string; value: string }[] };
    variable: { key: string; value: string }[];
    item: { name: string; item: Request[] }[];
  }

  it('authenticates with the bearer key from a collection variable, in walkthrough order', () => {
    const collection = JSON.parse(generated('src/openapi/postman-collection.json')) as Collection;
    expect(collection.auth).toEqual({
      type: 'bearer',
      bearer: [{ type: 'any', key: 'token', value: '{{bearerToken}}' }],
    });
    expect(collection.variable.map(({ key }) => key)).toEqual(
      expect.arrayContaining(['baseUrl', 'bearerToken', 'user_id', 'chat_id', 'branch_id', 'qa_pair_id']),
    );
    expect(collection.variable.find(({ key }) => key === 'baseUrl')?.value).toBe('http://127.0.0.1:3000');
    expect(collection.item.map(({ name }) => name)).toEqual([
      '1. Sign up',
      '2. Create a chat',
      '3. Ask',
      '4. Read',
      '4b. Live',
      '4c. Webhooks',
      '5. Branch',
      '6. Search',
      '7. Export',
      '8. Import',
      '9. Delete',
      'Health',
    ]);
    const document = JSON.parse(generated('src/openapi/openapi.json')) as { paths: Record<string, object> };
    const operations = Object.values(document.paths).reduce((count, methods) => count + Object.keys(methods).length, 0);
    // Every operation but the endless event stream, which no runner can walk.
    expect(collection.item.flatMap(({ item }) => item)).toHaveLength(operations - 1);
  });

  it('captures the key and ids, asserts every status, and sends no placeholder values', () => {
    const text = generated('src/openapi/postman-collection.json');
    const collection = JSON.parse(text) as Collection;
    const requests = collection.item.flatMap(({ item }) => item);
    const scripts = requests.map((request) => (request.event ?? []).flatMap((event) => event.script.exec).join('\n'));
    for (const [index, script] of scripts.entries())
      expect(script, requests[index]?.name).toMatch(/pm\.response\.to\.have\.status\(2\d\d\)/);
    for (const variable of ['bearerToken', 'user_id', 'chat_id', 'qa_pair_id', 'branch_id'])
      expect(scripts.join('\n')).toContain(`pm.collectionVariables.set('${variable}'`);
    const query = requests.flatMap((request) => request.request.url.query ?? []);
    expect(query.filter(({ value }) => /^<.*>$/.test(value))).toEqual([]);
    expect(query.map(({ key }) => key).sort()).toEqual(['format', 'q']);
    // Sign-up needs no key: it must not send the (still empty) bearer token.
    expect(collection.item[0]?.item[0]?.request.auth).toEqual({ type: 'noauth' });
  });
});
