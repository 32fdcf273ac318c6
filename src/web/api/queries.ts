import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import type { ApiClient } from './client.js';
import { unwrap } from './client.js';

/** The query keys of everything the server owns, in one place, so every feature invalidates the same ones. */
export const queryKeys = {
  server: ['server'] as const,
  me: (apiKey: string) => ['me', apiKey] as const,
  chats: (userId: string) => ['chats', userId] as const,
  chat: (userId: string, chatId: string) => ['chat', userId, chatId] as const,
  // Below the chat's key: invalidating the chat (after an ask, a switch) refetches these too.
  branches: (userId: string, chatId: string) => ['chat', userId, chatId, 'branches'] as const,
  tree: (userId: string, chatId: string) => ['chat', userId, chatId, 'tree'] as const,
  context: (userId: string, chatId: string) => ['chat', userId, chatId, 'context'] as const,
};

/** How many chats the sidebar loads per page. */
export const CHATS_PAGE_SIZE = 30;

export const serverInfoQuery = (client: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.server,
    queryFn: async ({ signal }) => unwrap(await client.GET('/v1/server', { signal })),
    staleTime: Infinity,
  });

export const chatsQuery = (client: ApiClient, userId: string) =>
  infiniteQueryOptions({
    queryKey: queryKeys.chats(userId),
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/chats', {
          params: {
            path: { user_id: userId },
            query: { limit: CHATS_PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) },
          },
          signal,
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => (page.has_more && page.next_cursor ? page.next_cursor : undefined),
  });

export const chatQuery = (client: ApiClient, userId: string, chatId: string) =>
  queryOptions({
    queryKey: queryKeys.chat(userId, chatId),
    queryFn: async ({ signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/chats/{chat_id}', {
          params: { path: { user_id: userId, chat_id: chatId } },
          signal,
        }),
      ),
  });
