import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../plugins/auth.js';
import {
  Chat,
  ChatParams,
  ChatWithPairs,
  CreateChatBody,
  ListChatsQuery,
  ContextQuery,
  ContextResponse,
  UpdateChatBody,
  fromSettingsInput,
  UserParams,
  toChat,
} from '../schemas/chats.js';
import { Page, errorResponses, notModified } from '../schemas/common.js';
import { applyValidators, defaultToEmptyBody, ifNoneMatchOf, sendJsonText, sendNotModified } from './hooks.js';

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
      const { title, settings } = request.body;
      const chat = await fastify.services.chats.createChat(actorOf(request), request.params.user_id, {
        ...(title === undefined ? {} : { title }),
        ...(settings === undefined ? {} : { settings: fromSettingsInput(settings) }),
      });
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
        response: { 200: Page(Chat), ...notModified, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const result = await fastify.services.views.chatList(
        actorOf(request),
        request.params.user_id,
        request.query,
        ifNoneMatchOf(request),
      );
      applyValidators(reply, result);
      if (result.notModified) return sendNotModified(reply);
      const page = result.body;
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
        response: { 200: ChatWithPairs, ...notModified, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const result = await fastify.services.views.chat(
        actorOf(request),
        request.params.user_id,
        request.params.chat_id,
        ifNoneMatchOf(request),
      );
      applyValidators(reply, result);
      return result.notModified ? sendNotModified(reply) : sendJsonText(reply, result.body);
    },
  );

  fastify.patch(
    '/v1/users/:user_id/chats/:chat_id',
    {
      schema: {
        tags: ['chats'],
        operationId: 'updateChat',
        summary: 'Rename a chat and/or change its settings',
        params: ChatParams,
        body: UpdateChatBody,
        response: { 200: Chat, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => {
      const { title, settings } = request.body;
      const chat = await fastify.services.chats.updateChat(
        actorOf(request),
        request.params.user_id,
        request.params.chat_id,
        {
          ...(title === undefined ? {} : { title }),
          ...(settings === undefined ? {} : { settings: fromSettingsInput(settings) }),
        },
      );
      return toChat(chat);
    },
  );

  fastify.get(
    '/v1/users/:user_id/chats/:chat_id/context',
    {
      schema: {
        tags: ['chats'],
        operationId: 'getChatContext',
        summary: 'Exactly what the next question would send upstream (without that question)',
        description:
          "The chatbot request body for the active branch, or for a question asked after parent_id: the provider's " +
          'message list with the capped, answered history and the chat settings. Appending the question as the last ' +
          'user message gives the body of that ask, byte for byte. No key is ever included.',
        params: ChatParams,
        querystring: ContextQuery,
        response: { 200: ContextResponse, ...notModified, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const parentId = request.query.parent_id;
      const result = await fastify.services.views.context(
        actorOf(request),
        {
          userId: request.params.user_id,
          chatId: request.params.chat_id,
          ...(parentId === undefined ? {} : { parentId: parentId === 'null' ? null : parentId }),
        },
        ifNoneMatchOf(request),
      );
      applyValidators(reply, result);
      if (result.notModified) return sendNotModified(reply);
      const context = result.body;
      return { provider: context.provider, history_turns: context.historyTurns, body: context.body };
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
