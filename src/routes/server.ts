import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../schemas/common.js';
import { ServerInfo, toServerInfo } from '../schemas/server.js';

export interface ServerRoutesOptions {
  allowSignup: boolean;
}

/** What a client shows before anyone signs in: which chatbot answers, and whether sign-up is open. */
const serverRoutes: FastifyPluginAsyncTypebox<ServerRoutesOptions> = async (fastify, options) => {
  const info = toServerInfo(fastify.chatbot.name, options.allowSignup);
  fastify.get(
    '/v1/server',
    {
      schema: {
        tags: ['health'],
        operationId: 'getServerInfo',
        summary: 'The chatbot provider this server runs, and whether sign-up is open',
        description: 'Public, like /health: a client shows it on its start page, before a key is known.',
        security: [],
        // 400: two Authorization headers (refused on every route); 429: the per-address rate limit.
        response: { 200: ServerInfo, ...errorResponses(400, 429) },
      },
    },
    async () => info,
  );
};

export default serverRoutes;
