import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../plugins/auth.js';
import {
  Chat,
  ChatParams,
  ChatWithPairs,
  CreateChatBody,
  ListChatsQuery,
  RenameChatBody,
  UserParams,
  toChat,
  toChatWithPairs,
} from '../schemas/chats.js';
import { Page, errorResponses } from '../schemas/common.js';
import { defaultToEmptyBody } from './hooks.js';

/** Chat CRUD under /v1/users/{user_id}/chats. Every route needs a key acting for that user. */
const chatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.requireActor);

  fastify.post(
    '/v1/users/:user_id/chats',
    {
      preValidation: defaultToEmptyBody,
      schema: {
        tags: ['chats'],
        operationId: 'createChat',
        summary: 'Create an empty chat',
        params: UserParams,
        body: CreateChatBody,
        response: { 201: Chat, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request, reply) => {
      const chat = await fastify.services.chats.createChat(actorOf(request), request.params.user_id, request.body);
      return reply.code(201).send(toChat(chat));
    },
  );

  fastify.get(
    '/v1/users/:user_id/chats',
    {
      schema: {
        tags: ['chats'],
        operationId: 'listChats',
        summary: "List the user's chats, most recently updated first",
        params: UserParams,
        querystring: ListChatsQuery,
        response: { 200: Page(Chat), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const page = await fastify.services.chats.listChats(actorOf(request), request.params.user_id, request.query);
      return { data: page.chats.map(toChat), has_more: page.nextCursor !== null, next_cursor: page.nextCursor };
    },
  );

  fastify.get(
    '/v1/users/:user_id/chats/:chat_id',
    {
      schema: {
        tags: ['chats'],
        operationId: 'getChat',
        summary: 'A chat with the pairs of its active branch, first question first',
        params: ChatParams,
        response: { 200: ChatWithPairs, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const view = await fastify.services.chats.getChat(actorOf(request), request.params.user_id, request.params.chat_id);
      return toChatWithPairs(view);
    },
  );

  fastify.patch(
    '/v1/users/:user_id/chats/:chat_id',
    {
      schema: {
        tags: ['chats'],
        operationId: 'renameChat',
        summary: 'Rename a chat',
        params: ChatParams,
        body: RenameChatBody,
        response: { 200: Chat, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => {
      const chat = await fastify.services.chats.renameChat(
        actorOf(request),
        request.params.user_id,
        request.params.chat_id,
        request.body,
      );
      return toChat(chat);
    },
  );

  fastify.delete(
    '/v1/users/:user_id/chats/:chat_id',
    {
      schema: {
        tags: ['chats'],
        operationId: 'deleteChat',
        summary: 'Delete a chat and all its pairs',
        params: ChatParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await fastify.services.chats.deleteChat(actorOf(request), request.params.user_id, request.params.chat_id);
      return reply.code(204).send(null);
    },
  );
};

export default chatRoutes;
