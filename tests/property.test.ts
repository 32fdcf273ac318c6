import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { createAjv } from '../src/validation.js';
import { ask, createUser, TEST_ADMIN_KEY, type TestUser } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/**
 * Hostile-input property test driven by the OpenAPI document: for every operation,
 * fast-check builds requests (mostly schema-shaped, often broken, some plain hostile) and
 * checks that none gets a 5xx, every JSON response matches its documented schema, and no
 * rejected request changes the database.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface SchemaObject {
  type?: string | string[];
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  anyOf?: SchemaObject[];
  enum?: Json[];
  const?: Json;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  $ref?: string;
}
interface Operation {
  parameters?: { name: string; in: 'path' | 'query' | 'header'; schema: SchemaObject; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: SchemaObject }> };
  responses: Record<string, { content?: Record<string, { schema: SchemaObject }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

const temp = useTempDir();
let app: App;
let ada: TestUser;
let bob: TestUser;
let document: OpenApiDocument;
const ids: string[] = [];

useTestApp({ databaseUrl: join(temp.dir, 'property.db'), env: { RATE_LIMIT_MAX: '0' } }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
  const first = (await ask(app, ada, { question: 'Seed question about otters' })).json<{
    chat_id: string;
    branch_id: string;
    qa_pair: { id: string };
  }>();
  const second = (await ask(app, ada, { chat_id: first.chat_id, question: 'And beavers?' })).json<{
    qa_pair: { id: string };
  }>();
  const bobs = (await ask(app, bob, { question: "Bob's chat" })).json<{ chat_id: string }>();
  ids.push(ada.id, bob.id, first.chat_id, first.branch_id, first.qa_pair.id, second.qa_pair.id, bobs.chat_id);
  document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<OpenApiDocument>();
});

/** Everything a request could change, summed up: a rejected request must leave it as it was. */
async function fingerprint(): Promise<string> {
  const parts: string[] = [];
  for (const table of ['users', 'api_keys', 'chats', 'qa_pairs', 'branches', 'search_docs', 'idempotency_keys']) {
    const rows = await queryRows(
      app,
      `SELECT * FROM ${table} ORDER BY rowid`,
      [],
      `SELECT * FROM ${table} ORDER BY ctid`,
    );
    parts.push(JSON.stringify(rows).length + `:${table}`);
  }
  parts.push(
    JSON.stringify(
      await queryRows(app, 'SELECT id, title, settings, active_branch_id, updated_at FROM chats ORDER BY id'),
    ),
  );
  return parts.join('|');
}

/** Inlines `#/components/schemas/X` references so ajv can compile a response schema on its own. */
function resolve(schema: SchemaObject): SchemaObject {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record.$ref === 'string') {
        const name = record.$ref.split('/').at(-1) ?? '';
        return walk(document.components?.schemas?.[name] ?? {});
      }
      return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, walk(item)]));
    }
    return value;
  };
  return walk(schema) as SchemaObject;
}

const hostileStrings: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff lone',
  '\u202eRTL override',
  'שלום עולם',
  '🦊🦊',
  '../../etc/passwd',
  '..%2F..%2Fetc',
  "'; DROP TABLE chats; --",
  '" OR 1=1 --',
  'NEAR(a b)',
  '"unbalanced',
  '*',
  '12345',
  '-1',
  '1e309',
  '00000000-0000-0000-0000-000000000000',
  'A1B2C3D4-0000-4000-8000-000000000000',
  '<script>alert(1)</script>',
  'x'.repeat(20_000),
];

const anyHostile = (): fc.Arbitrary<Json> =>
  fc.oneof(
    fc.constantFrom(...hostileStrings),
    fc.constantFrom(...ids),
    fc.uuid(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    fc.constant(nested(200)),
  );

function nested(depth: number): Json {
  let value: Json = 'deep';
  for (let level = 0; level < depth; level += 1) value = { d: value };
  return value;
}

/** Values shaped by a schema, mixed with hostile ones: mostly plausible, often not. */
function fromSchema(schema: SchemaObject, depth = 0): fc.Arbitrary<Json> {
  const shaped = shapedFromSchema(schema, depth);
  return fc.oneof({ weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: anyHostile() });
}

function shapedFromSchema(schema: SchemaObject, depth: number): fc.Arbitrary<Json> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((option) => fromSchema(option, depth + 1)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      if (depth > 3) return fc.constant({});
      const properties = Object.entries(schema.properties ?? {});
      const record: Record<string, fc.Arbitrary<Json>> = {};
      for (const [name, property] of properties) record[name] = fromSchema(property, depth + 1);
      const requiredKeys = (schema.required ?? []) as string[];
      const body = fc.record(record, { requiredKeys: requiredKeys.filter((key) => key in record) });
      // Sometimes an unknown field, sometimes a required one missing.
      return fc.oneof(
        { weight: 6, arbitrary: body as fc.Arbitrary<Json> },
        { weight: 1, arbitrary: body.map((value) => ({ ...(value as Record<string, Json>), unexpected: 'field' })) },
        {
          weight: 1,
          arbitrary: body.map((value) => {
            const copy = { ...(value as Record<string, Json>) };
            delete copy[requiredKeys[0] ?? ''];
            return copy;
          }),
        },
      );
    }
    case 'array':
      return fc.array(fromSchema(schema.items ?? {}, depth + 1), { maxLength: 3 });
    case 'integer':
      return fc.integer({ min: (schema.minimum ?? -10) - 2, max: Math.min(schema.maximum ?? 1000, 100_000) + 2 });
    case 'number':
      return fc.double({ noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      if (schema.format === 'uuid' || schema.pattern?.includes('[0-9a-f]{8}'))
        return fc.oneof(fc.constantFrom(...ids), fc.uuid());
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((date) => date.toISOString());
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
    default:
      return anyHostile();
  }
}

/** Percent-encodes a path segment; a lone surrogate goes out as the invalid UTF-8 bytes it would be. */
function encodePathSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return `%ED%BF%BF${encodeURIComponent(value.replace(/[\ud800-\udfff]/g, ''))}`;
  }
}

const credentials = fc.constantFrom<Record<string, string>>(
  {},
  { authorization: 'Bearer chk_wrong' },
  { authorization: `Bearer ${TEST_ADMIN_KEY}` },
);

describe('every route under generated hostile input', () => {
  it('never answers 5xx, answers only documented shapes, and changes nothing when it refuses', async () => {
    const ajv = createAjv({ allErrors: false });
    const validators = new Map<string, ReturnType<typeof ajv.compile>>();
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
    );
    expect(operations.length).toBeGreaterThan(20);
    let requests = 0;
    const errorShape = document.components?.schemas?.ErrorResponse;
    expect(errorShape).toBeDefined();

    for (const { path, method, operation } of operations) {
      const pathParams = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
      const queryParams = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query');
      const bodySchema = operation.requestBody?.content['application/json']?.schema;
      const arbitrary = fc.record({
        params: fc.record(
          Object.fromEntries(pathParams.map((parameter) => [parameter.name, fromSchema(parameter.schema)])),
        ),
        query: fc.record(
          Object.fromEntries(queryParams.map((parameter) => [parameter.name, fromSchema(parameter.schema)])),
          { requiredKeys: [] },
        ),
        body: bodySchema ? fromSchema(resolve(bodySchema)) : fc.option(anyHostile(), { nil: undefined }),
        user: fc.constantFrom(ada, bob),
        credentials: fc.option(credentials, { nil: undefined, freq: 3 }),
      });

      await fc.assert(
        fc.asyncProperty(arbitrary, async (input) => {
          const url =
            path.replace(/\{(\w+)\}/g, (_match, name: string) =>
              encodePathSegment(String((input.params as Record<string, Json>)[name] ?? '')),
            ) +
            (Object.keys(input.query).length > 0
              ? `?${new URLSearchParams(
                  Object.entries(input.query).map(([key, value]): [string, string] => [
                    key,
                    typeof value === 'string' ? value : JSON.stringify(value),
                  ]),
                ).toString()}`
              : '');
          const headers = input.credentials ?? input.user.headers;
          const before = await fingerprint();
          const response = await app.inject({
            method: method as 'GET',
            url,
            headers: { ...headers, ...(input.body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(input.body === undefined || method === 'GET' ? {} : { payload: JSON.stringify(input.body) }),
          });
          requests += 1;
          expect(response.statusCode, `${method} ${url} -> ${response.body.slice(0, 300)}`).toBeLessThan(500);

          const contentType = String(response.headers['content-type'] ?? '');
          if (contentType.startsWith('application/json') && response.body !== '') {
            // A success must match its documented schema; any error, the one error shape.
            const documented =
              response.statusCode < 300
                ? operation.responses[String(response.statusCode)]?.content?.['application/json']?.schema
                : errorShape;
            expect(documented, `${method} ${path} ${response.statusCode} is not documented`).toBeDefined();
            const key = response.statusCode < 300 ? `${method} ${path} ${response.statusCode}` : 'error';
            let validate = validators.get(key);
            if (!validate) {
              validate = ajv.compile(resolve(documented ?? {}));
              validators.set(key, validate);
            }
            expect(validate(response.json()), `${key}: ${JSON.stringify(validate.errors)}`).toBe(true);
          }
          if (response.statusCode >= 400) expect(await fingerprint(), `${method} ${url} changed data`).toBe(before);
        }),
        { numRuns: 150, seed: 42, endOnFailure: true },
      );
    }
    expect(requests).toBeGreaterThan(3000);
  }, 300_000);
});
