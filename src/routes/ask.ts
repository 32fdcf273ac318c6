import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../plugins/auth.js';
import { clientDisconnectSignal } from './client-signal.js';
import { AskBody, AskResponse, toQaPair } from '../schemas/chats.js';
import { errorResponses } from '../schemas/common.js';

const askRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/search',
    {
      onRequest: fastify.requireActor,
      schema: {
        tags: ['ask'],
        operationId: 'ask',
        summary: 'Ask a question in a chat; the chatbot receives the chat history',
        description:
          'Without chat_id a new chat is started, titled after the question. A chat_id the user does not have yet ' +
          'creates that chat with that id. The question goes on the active branch unless parent_id says otherwise, ' +
          'and the chatbot receives exactly the path from the first question to its parent. ' +
          'The question is stored before the chatbot is called: when the chatbot ' +
          'fails, the error response carries qa_pair_id and the chat shows the pair with status "failed".',
        body: AskBody,
        response: { 200: AskResponse, ...errorResponses(400, 401, 403, 404, 415, 499, 500, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId, parent_id: parentId, question } = request.body;
      const result = await fastify.services.conversation.ask(
        actorOf(request),
        {
          userId,
          question,
          ...(chatId === undefined ? {} : { chatId }),
          ...(parentId === undefined ? {} : { parentId }),
        },
        clientDisconnectSignal(reply),
      );
      return { chat_id: result.chatId, branch_id: result.branchId, qa_pair: toQaPair(result.pair) };
    },
  );
};

export default askRoutes;
