import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../plugins/auth.js';
import { ChatParams, UserParams } from '../schemas/chats.js';
import { errorResponses, notModified } from '../schemas/common.js';
import { applyValidators, ifNoneMatchOf, sendNotModified } from './hooks.js';
import { ChatExport, ExportQuery, ImportBody, ImportReport } from '../schemas/portability.js';
import type { ImportPayload } from '../services/portability.js';

/** Imports can be large (a ChatGPT history); other routes keep the small global body limit. */
const IMPORT_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
const NDJSON = 'application/x-ndjson';

/** Export and import: one chat as JSON or Markdown, every chat as NDJSON, and imports. */
const portabilityRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.requireActor);
  // NDJSON bodies are accepted here only (this plugin is encapsulated).
  fastify.addContentTypeParser(
    NDJSON,
    { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT_BYTES },
    (_request, body, done) => done(null, body),
  );
  const portability = () => fastify.services.portability;

  fastify.get(
    '/v1/users/:user_id/chats/:chat_id/export',
    {
      schema: {
        tags: ['export'],
        operationId: 'exportChat',
        summary: 'Export one chat: lossless JSON (all branches) or Markdown (the active branch)',
        params: ChatParams,
        querystring: ExportQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: ChatExport },
              'text/markdown': { schema: Type.String({ description: 'The active branch, with sources as links' }) },
            },
          },
          ...notModified,
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      const views = fastify.services.views;
      if (request.query.format === 'markdown') {
        const markdown = await views.markdown(actorOf(request), userId, chatId, ifNoneMatchOf(request));
        applyValidators(reply, markdown);
        return markdown.notModified
          ? sendNotModified(reply)
          : reply.type('text/markdown; charset=utf-8').send(markdown.body);
      }
      const exported = await views.export(actorOf(request), userId, chatId, ifNoneMatchOf(request));
      applyValidators(reply, exported);
      return exported.notModified
        ? sendNotModified(reply)
        : reply.type('application/json; charset=utf-8').send(exported.body);
    },
  );

  fastify.get(
    '/v1/users/:user_id/export',
    {
      schema: {
        tags: ['export'],
        operationId: 'exportAllChats',
        summary: 'Every chat of the user as NDJSON, one exported chat per line, streamed',
        description:
          'Each line has the format of GET .../chats/{chat_id}/export?format=json. Re-import with POST .../chats/import.',
        params: UserParams,
        response: {
          // Sent as a stream: typed as one so the handler can send it, documented as text.
          200: {
            content: {
              [NDJSON]: { schema: Type.Unsafe<Readable>({ type: 'string', description: 'One chat export per line' }) },
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const lines = await portability().exportAll(actorOf(request), request.params.user_id);
      return reply
        .type(`${NDJSON}; charset=utf-8`)
        .header('content-disposition', 'attachment; filename="chats.ndjson"')
        .send(Readable.from(lines));
    },
  );

  fastify.post(
    '/v1/users/:user_id/chats/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT_BYTES,
      schema: {
        tags: ['export'],
        operationId: 'importChats',
        summary: 'Import chats: our exports (JSON, array or NDJSON) or a ChatGPT conversations.json',
        description:
          'Each chat is imported whole or not at all, under new ids, and the report says what happened to each. ' +
          'A chat imported before (same source: our chat id, or the ChatGPT conversation id) is skipped. ' +
          'ChatGPT trees become branches; the conversation\'s current node is the active branch, named "main". ' +
          `At most 1000 chats and ${IMPORT_BODY_LIMIT_BYTES / 1024 / 1024} MiB per request.`,
        params: UserParams,
        body: ImportBody,
        response: { 200: ImportReport, ...errorResponses(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request) => {
      const payload: ImportPayload =
        typeof request.body === 'string'
          ? { kind: 'ndjson', text: request.body }
          : { kind: 'json', value: request.body };
      const results = await portability().importChats(actorOf(request), request.params.user_id, payload, request.log);
      const count = (status: string) => results.filter((result) => result.status === status).length;
      return {
        imported: count('imported'),
        skipped: count('skipped'),
        failed: count('failed'),
        results: results.map((result) => ({
          index: result.index,
          source_id: result.sourceId,
          title: result.title,
          status: result.status,
          chat_id: result.chatId,
          qa_pairs: result.pairs,
          branches: result.branches,
          error: result.error,
        })),
      };
    },
  );
};

export default portabilityRoutes;
