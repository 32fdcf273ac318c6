import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../schemas/common.js';

const Health = Type.Object({ status: Type.Literal('ok'), database: Type.Literal('ok') });
const Ready = Type.Object({ status: Type.Literal('ready') });

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'Liveness: the process answers (and its database responds)',
        security: [],
        response: { 200: Health, ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      if (!(await fastify.database.ping())) {
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

  fastify.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        operationId: 'getReadiness',
        summary: 'Readiness: the database is open and migrated, and the server is not shutting down',
        description: 'A load balancer should route traffic here only while this answers 200.',
        security: [],
        response: { 200: Ready, ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      // Migrations ran before the app was built (it does not start otherwise).
      const reason = fastify.lifecycle.shuttingDown
        ? 'The server is shutting down'
        : (await fastify.database.ping())
          ? undefined
          : 'The database does not respond';
      if (reason) {
        return reply
          .code(503)
          .send({ statusCode: 503, code: 'NOT_READY', error: 'Service Unavailable', message: reason });
      }
      return { status: 'ready' as const };
    },
  );
};

export default healthRoutes;
