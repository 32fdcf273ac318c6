import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../plugins/auth.js';
import {
  Branch,
  BranchList,
  BranchParams,
  ChatTreeResponse,
  CreateBranchBody,
  DeleteBranchQuery,
  DeletedBranch,
  ForkChatBody,
  PairParams,
  RegenerateBody,
  RenameBranchBody,
  SetActiveBranchBody,
  toBranch,
} from '../schemas/branches.js';
import { AskResponse, Chat, ChatParams, toAskResponse, toChat } from '../schemas/chats.js';
import { errorResponses, notModified } from '../schemas/common.js';
import { clientDisconnectSignal } from './client-signal.js';
import { applyValidators, defaultToEmptyBody, ifNoneMatchOf, sendJsonText, sendNotModified } from './hooks.js';

const CHAT = '/v1/users/:user_id/chats/:chat_id';

/** Branching: the tree of a chat, its branches, regenerating an answer and forking into a new chat. */
const branchRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.requireActor);
  const branches = () => fastify.services.branches;

  fastify.get(
    `${CHAT}/branches`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'listBranches',
        summary: "List a chat's branches, oldest first",
        params: ChatParams,
        response: { 200: BranchList, ...notModified, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      const result = await fastify.services.views.branches(actorOf(request), userId, chatId, ifNoneMatchOf(request));
      applyValidators(reply, result);
      if (result.notModified) return sendNotModified(reply);
      return { data: result.body.map(toBranch) };
    },
  );

  fastify.post(
    `${CHAT}/branches`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'createBranch',
        summary: 'Fork a new branch at a pair and make it active',
        description: 'The next question on the chat continues from that pair.',
        params: ChatParams,
        body: CreateBranchBody,
        response: { 201: Branch, ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      const { from_qa_pair_id: fromPairId, name } = request.body;
      const created = await branches().createBranch(actorOf(request), userId, chatId, {
        fromPairId,
        ...(name === undefined ? {} : { name }),
      });
      return reply.code(201).send(toBranch(created));
    },
  );

  fastify.put(
    `${CHAT}/active-branch`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'setActiveBranch',
        summary: 'Switch the active branch',
        params: ChatParams,
        body: SetActiveBranchBody,
        response: { 200: Branch, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      return toBranch(await branches().setActiveBranch(actorOf(request), userId, chatId, request.body.branch_id));
    },
  );

  fastify.patch(
    `${CHAT}/branches/:branch_id`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'renameBranch',
        summary: 'Rename a branch (names are unique within a chat)',
        params: BranchParams,
        body: RenameBranchBody,
        response: { 200: Branch, ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => {
      const { user_id: userId, chat_id: chatId, branch_id: branchId } = request.params;
      return toBranch(await branches().renameBranch(actorOf(request), userId, chatId, branchId, request.body));
    },
  );

  fastify.delete(
    `${CHAT}/branches/:branch_id`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'deleteBranch',
        summary: 'Delete a branch and the pairs no other branch uses',
        description:
          "A chat's only branch cannot be deleted (409 LAST_BRANCH: delete the chat); the active branch only with " +
          '?activate_branch_id= naming the branch that becomes active (409 ACTIVE_BRANCH otherwise).',
        params: BranchParams,
        querystring: DeleteBranchQuery,
        response: { 200: DeletedBranch, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { user_id: userId, chat_id: chatId, branch_id: branchId } = request.params;
      const activateBranchId = request.query.activate_branch_id;
      const result = await branches().deleteBranch(actorOf(request), userId, chatId, branchId, {
        ...(activateBranchId === undefined ? {} : { activateBranchId }),
      });
      return { deleted_qa_pairs: result.deletedPairs };
    },
  );

  fastify.get(
    `${CHAT}/tree`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'getChatTree',
        summary: "The chat's whole tree: every pair as a flat node with its parent, and the branches",
        params: ChatParams,
        response: { 200: ChatTreeResponse, ...notModified, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      const result = await fastify.services.views.tree(actorOf(request), userId, chatId, ifNoneMatchOf(request));
      applyValidators(reply, result);
      return result.notModified ? sendNotModified(reply) : sendJsonText(reply, result.body);
    },
  );

  fastify.post(
    `${CHAT}/qa_pairs/:qa_pair_id/regenerate`,
    {
      preValidation: defaultToEmptyBody,
      schema: {
        tags: ['branches'],
        operationId: 'regenerateAnswer',
        summary: "Ask a pair's question again with the same history, as a sibling on a new active branch",
        params: PairParams,
        body: RegenerateBody,
        response: { 200: AskResponse, ...errorResponses(400, 401, 403, 404, 415, 499, 500, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId, qa_pair_id: pairId } = request.params;
      const result = await fastify.services.conversation.regenerate(
        actorOf(request),
        { userId, chatId, pairId },
        { signal: clientDisconnectSignal(reply) },
      );
      return toAskResponse(result);
    },
  );

  fastify.post(
    `${CHAT}/fork`,
    {
      schema: {
        tags: ['branches'],
        operationId: 'forkChat',
        summary: 'Copy the path up to a pair into a new chat',
        description: 'The new chat records where it came from in forked_from; the source chat is unchanged.',
        params: ChatParams,
        body: ForkChatBody,
        response: { 201: Chat, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId } = request.params;
      const { qa_pair_id: pairId, title } = request.body;
      const chat = await branches().forkChat(actorOf(request), userId, chatId, {
        pairId,
        ...(title === undefined ? {} : { title }),
      });
      return reply.code(201).send(toChat(chat));
    },
  );
};

export default branchRoutes;
