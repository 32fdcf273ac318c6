import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../schemas/common.js';

const Health = Type.Object({ status: Type.Literal('ok'), database: Type.Literal('ok') });

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'Liveness: the process answers and the database responds',
        security: [],
        response: { 200: Health, ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      if (!fastify.database.ping()) {
        return reply.code(503).send({
          statusCode: 503,
          code: 'DATABASE_UNAVAILABLE',
          error: 'Service Unavailable',
          message: 'The database does not respond',
        });
      }
      return { status: 'ok' as const, database: 'ok' as const };
    },
  );
};

export default healthRoutes;
