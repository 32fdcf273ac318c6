import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../plugins/auth.js';
import { errorResponses } from '../schemas/common.js';
import { CreatedUser, CreateUserBody, User, toUser } from '../schemas/users.js';

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/v1/users',
    {
      onRequest: fastify.identifyActor,
      schema: {
        tags: ['users'],
        operationId: 'createUser',
        summary: 'Create a user and their API key (shown once)',
        description:
          'Open to anyone while sign-up is allowed (ALLOW_SIGNUP=true, the default): no key is needed, so the ' +
          'explorer shows it unlocked and sends none. With ALLOW_SIGNUP=false only the admin key may create users ' +
          '(send it as "Authorization: Bearer <admin key>", e.g. with curl).',
        // No key needed: an empty requirement list is what shows an open lock in swagger-ui.
        security: [],
        body: CreateUserBody,
        response: { 201: CreatedUser, ...errorResponses(400, 401, 403, 415) },
      },
    },
    async (request, reply) => {
      const { user, apiKey } = await fastify.services.users.createUser(request.actor ?? undefined, request.body);
      return reply.code(201).send({ ...toUser(user), api_key: apiKey });
    },
  );

  fastify.get(
    '/v1/users/me',
    {
      onRequest: fastify.requireActor,
      schema: {
        tags: ['users'],
        operationId: 'getCurrentUser',
        summary: 'The user the API key belongs to',
        response: { 200: User, ...errorResponses(400, 401) },
      },
    },
    async (request) => toUser(await fastify.services.users.getCurrentUser(actorOf(request))),
  );
};

export default userRoutes;
