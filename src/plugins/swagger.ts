import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { errorExample } from '../schemas/error-examples.js';

/**
 * A request field with a default may be left out: validation fills the default in before the
 * handler runs (so its type, rightly, says the field is there). TypeBox lists such a field as
 * required, which the document must not say: a client generated from it would have to send
 * `limit` on every page.
 */
function defaultedFieldsOptional(part: unknown): unknown {
  if (typeof part !== 'object' || part === null) return part;
  const required: unknown = Reflect.get(part, 'required');
  const properties: unknown = Reflect.get(part, 'properties');
  if (!Array.isArray(required) || typeof properties !== 'object' || properties === null) return part;
  const kept = required.filter((name) => {
    const property: unknown = typeof name === 'string' ? Reflect.get(properties, name) : undefined;
    return !(typeof property === 'object' && property !== null && 'default' in property);
  });
  return kept.length === required.length ? part : { ...part, required: kept };
}

/**
 * Each error response (a $ref to ErrorResponse) gets an example body with a code the route
 * really answers with that status, so the explorer shows `CHAT_NOT_FOUND`, not `"string"`.
 */
function withErrorExamples(response: unknown, url: string, method: string): unknown {
  if (typeof response !== 'object' || response === null) return response;
  return Object.fromEntries(
    Object.entries(response).map(([status, schema]: [string, unknown]) => {
      const isErrorRef =
        Number(status) >= 400 &&
        typeof schema === 'object' &&
        schema !== null &&
        Reflect.get(schema, '$ref') === 'ErrorResponse';
      // A $ref loses its siblings on the way into the document: the example goes on the media type.
      const documented = {
        description: 'Every error has this shape',
        content: { 'application/json': { schema, example: errorExample(Number(status), url, method) } },
      };
      return [status, isErrorRef ? documented : schema];
    }),
  );
}

export interface SwaggerOptions {
  /**
   * The explorer's static files (a copy of @fastify/swagger-ui's `static` folder), for the
   * single executable, where the package folder does not exist. Default: the package's own.
   */
  staticDir?: string | undefined;
}

/** The OpenAPI document (built from the route schemas) at /docs/json and an explorer at /docs. */
export default fp<SwaggerOptions>(
  async (fastify, options) => {
    await fastify.register(swagger, {
      // Only the document changes: the routes validate with their own schemas.
      transform: ({ schema, url, route }) => {
        if (!schema) return { schema, url };
        const request = Object.fromEntries(
          (['querystring', 'headers', 'body'] as const)
            .filter((part) => schema[part] !== undefined)
            .map((part) => [part, defaultedFieldsOptional(schema[part])]),
        );
        const method = Array.isArray(route.method) ? String(route.method[0]) : route.method;
        const response =
          schema.response === undefined ? {} : { response: withErrorExamples(schema.response, url, method) };
        return { schema: { ...schema, ...request, ...response }, url };
      },
      // Shared schemas keep their $id as their name in components (ErrorResponse, not def-0).
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, index) =>
          typeof json.$id === 'string' ? json.$id : `def-${index}`,
      },
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Chat history service',
          version: '0.1.0',
          description:
            'Users, chats and question/answer pairs, answered by an upstream chatbot that receives the chat history. ' +
            'Authenticate with `Authorization: Bearer <api_key>` (a user key from POST /v1/users, or the admin key).',
        },
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'A user API key or the admin key' },
          },
        },
        security: [{ bearerAuth: [] }],
        tags: [
          { name: 'users', description: 'Sign-up and the current user' },
          { name: 'chats', description: 'Chats and their question/answer pairs' },
          { name: 'ask', description: 'Ask the chatbot within a chat' },
          { name: 'branches', description: 'The tree of a chat: branches, regenerating, forking' },
          { name: 'search', description: 'Full-text search over everything a user asked, was answered and cited' },
          { name: 'export', description: 'Export and import chats (ours, and ChatGPT exports)' },
          { name: 'health', description: 'Liveness' },
        ],
      },
    });
    const { staticDir } = options;
    await fastify.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { persistAuthorization: true },
      // swagger-ui reads its logo from its package folder unless given one.
      ...(staticDir
        ? { baseDir: staticDir, logo: { type: 'image/svg+xml', content: readFileSync(join(staticDir, 'logo.svg')) } }
        : {}),
    });
  },
  { name: 'swagger' },
);
