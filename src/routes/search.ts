import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../plugins/auth.js';
import { UserParams } from '../schemas/chats.js';
import { errorResponses } from '../schemas/common.js';
import { SearchQuery, SearchResponse, toSearchHit } from '../schemas/search.js';

const searchRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/v1/users/:user_id/search',
    {
      onRequest: fastify.requireActor,
      schema: {
        tags: ['search'],
        operationId: 'searchHistory',
        summary: "Full-text search over the user's questions, answers, cited sources and chat titles",
        description:
          'Ranked by bm25 (title and question count more than answer, answer more than sources). Each hit says which ' +
          'parts matched and carries the path and a branch to open it on. Pages are positions in the ranking.',
        params: UserParams,
        querystring: SearchQuery,
        response: { 200: SearchResponse, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { q, chat_id: chatId, since, until, source, limit, cursor } = request.query;
      const result = await fastify.services.search.search(actorOf(request), request.params.user_id, {
        limit,
        ...(q === undefined ? {} : { q }),
        ...(chatId === undefined ? {} : { chatId }),
        ...(since === undefined ? {} : { since: new Date(since) }),
        ...(until === undefined ? {} : { until: new Date(until) }),
        ...(source === undefined ? {} : { source }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      return {
        data: result.items.map(toSearchHit),
        has_more: result.nextCursor !== null,
        next_cursor: result.nextCursor,
      };
    },
  );
};

export default searchRoutes;
