import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { useTestApp } from './helpers/suite.js';

let app: App;
useTestApp({ databaseUrl: ':memory:' }, (suite) => {
  app = suite.app;
});

interface Operation {
  tags?: string[];
  operationId?: string;
  summary?: string;
  responses?: Record<string, unknown>;
}

describe('the OpenAPI document', () => {
  it('describes every API route with tags, an operationId, a summary and its responses', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const document = response.json<{ openapi: string; paths: Record<string, Record<string, Operation>> }>();
    expect(document.openapi).toMatch(/^3\./);

    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    const names = operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /v1/users',
        'GET /v1/users/me',
        'POST /search',
        'POST /v1/users/{user_id}/chats',
        'GET /v1/users/{user_id}/chats',
        'GET /v1/users/{user_id}/chats/{chat_id}',
        'PATCH /v1/users/{user_id}/chats/{chat_id}',
        'DELETE /v1/users/{user_id}/chats/{chat_id}',
        'GET /health',
        'GET /v1/users/{user_id}/chats/{chat_id}/branches',
        'POST /v1/users/{user_id}/chats/{chat_id}/branches',
        'PUT /v1/users/{user_id}/chats/{chat_id}/active-branch',
        'PATCH /v1/users/{user_id}/chats/{chat_id}/branches/{branch_id}',
        'DELETE /v1/users/{user_id}/chats/{chat_id}/branches/{branch_id}',
        'GET /v1/users/{user_id}/chats/{chat_id}/tree',
        'POST /v1/users/{user_id}/chats/{chat_id}/qa_pairs/{qa_pair_id}/regenerate',
        'POST /v1/users/{user_id}/chats/{chat_id}/fork',
      ]),
    );
    const operationIds = new Set<string>();
    for (const { path, method, operation } of operations) {
      const name = `${method} ${path}`;
      expect(operation.tags?.length, name).toBeGreaterThan(0);
      expect(operation.summary, name).toBeTruthy();
      expect(operation.operationId, name).toBeTruthy();
      operationIds.add(operation.operationId ?? '');
      const statuses = Object.keys(operation.responses ?? {});
      expect(
        statuses.some((status) => status.startsWith('2')),
        name,
      ).toBe(true);
      if (path !== '/health' && path !== '/ready') expect(statuses, name).toContain('400');
    }
    expect(operationIds.size).toBe(operations.length);
  });

  it('does not require a request field that has a default (validation fills it in)', async () => {
    const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { parameters?: { name: string; required?: boolean; schema?: object }[] }>>;
    }>();
    const defaulted = Object.values(document.paths)
      .flatMap((methods) => Object.values(methods))
      .flatMap((operation) => operation.parameters ?? [])
      .filter((parameter) => parameter.schema !== undefined && 'default' in parameter.schema);
    expect(defaulted.map(({ name }) => name)).toEqual(expect.arrayContaining(['limit', 'format']));
    for (const parameter of defaulted) expect(parameter.required, parameter.name).toBe(false);
  });

  it('serves the explorer page', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger-ui');
  });
});
