import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '../../api/client.js';
import { chatsQuery, queryKeys } from '../../api/queries.js';
import type { SettingsInput } from '../../api/types.js';
import { useSignedIn } from '../../lib/session.js';

export function useChatList() {
  const { client, user } = useSignedIn();
  return useInfiniteQuery(chatsQuery(client, user.id));
}

/** After a change to a chat: the list (its order and titles) and the chat itself are refetched. */
function useRefreshChats() {
  const queryClient = useQueryClient();
  const { user } = useSignedIn();
  return async (chatId?: string) => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) }),
      chatId ? queryClient.invalidateQueries({ queryKey: queryKeys.chat(user.id, chatId) }) : undefined,
    ]);
  };
}

export function useCreateChat() {
  const { client, user } = useSignedIn();
  const refresh = useRefreshChats();
  return useMutation({
    mutationFn: async () =>
      unwrap(await client.POST('/v1/users/{user_id}/chats', { params: { path: { user_id: user.id } }, body: {} })),
    onSuccess: () => refresh(),
  });
}

export function useUpdateChat() {
  const { client, user } = useSignedIn();
  const refresh = useRefreshChats();
  return useMutation({
    mutationFn: async (change: { chatId: string; title?: string; settings?: SettingsInput }) =>
      unwrap(
        await client.PATCH('/v1/users/{user_id}/chats/{chat_id}', {
          params: { path: { user_id: user.id, chat_id: change.chatId } },
          body: {
            ...(change.title === undefined ? {} : { title: change.title }),
            ...(change.settings === undefined ? {} : { settings: change.settings }),
          },
        }),
      ),
    onSuccess: (chat) => refresh(chat.id),
  });
}

export function useDeleteChat() {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  const refresh = useRefreshChats();
  return useMutation({
    mutationFn: async (chatId: string) => {
      unwrap(
        await client.DELETE('/v1/users/{user_id}/chats/{chat_id}', {
          params: { path: { user_id: user.id, chat_id: chatId } },
        }),
      );
      return chatId;
    },
    onSuccess: async (chatId) => {
      queryClient.removeQueries({ queryKey: queryKeys.chat(user.id, chatId) });
      await refresh();
    },
  });
}
