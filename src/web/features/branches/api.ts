import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '../../api/client.js';
import { queryKeys } from '../../api/queries.js';
import { useSignedIn } from '../../lib/session.js';

export function useBranches(chatId: string) {
  const { client, user } = useSignedIn();
  return useQuery({
    queryKey: queryKeys.branches(user.id, chatId),
    queryFn: async ({ signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/chats/{chat_id}/branches', {
          params: { path: { user_id: user.id, chat_id: chatId } },
          signal,
        }),
      ).data,
  });
}

export function useTree(chatId: string) {
  const { client, user } = useSignedIn();
  return useQuery({
    queryKey: queryKeys.tree(user.id, chatId),
    queryFn: async ({ signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/chats/{chat_id}/tree', {
          params: { path: { user_id: user.id, chat_id: chatId } },
          signal,
        }),
      ),
  });
}

/** After a change to the chat's branches: the chat (and below its key the branches, tree and context) and the list. */
function useRefreshChat(chatId: string) {
  const queryClient = useQueryClient();
  const { user } = useSignedIn();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: queryKeys.chat(user.id, chatId) }),
      queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) }),
    ]);
}

/**
 * Opens a branch: makes it the chat's active one (PUT .../active-branch), as every client
 * of the API does. A pair no branch passes through any more is opened by forking a branch
 * at it (POST .../branches, which makes the new branch active).
 */
export function useOpenBranch(chatId: string) {
  const { client, user } = useSignedIn();
  const refresh = useRefreshChat(chatId);
  const path = { user_id: user.id, chat_id: chatId };
  return useMutation({
    mutationFn: async (target: { branchId: string | null; pairId?: string }) => {
      if (target.branchId !== null) {
        return unwrap(
          await client.PUT('/v1/users/{user_id}/chats/{chat_id}/active-branch', {
            params: { path },
            body: { branch_id: target.branchId },
          }),
        );
      }
      if (!target.pairId) throw new Error('Nothing to open');
      return unwrap(
        await client.POST('/v1/users/{user_id}/chats/{chat_id}/branches', {
          params: { path },
          body: { from_qa_pair_id: target.pairId },
        }),
      );
    },
    onSuccess: () => refresh(),
  });
}

export function useRenameBranch(chatId: string) {
  const { client, user } = useSignedIn();
  const refresh = useRefreshChat(chatId);
  return useMutation({
    mutationFn: async ({ branchId, name }: { branchId: string; name: string }) =>
      unwrap(
        await client.PATCH('/v1/users/{user_id}/chats/{chat_id}/branches/{branch_id}', {
          params: { path: { user_id: user.id, chat_id: chatId, branch_id: branchId } },
          body: { name },
        }),
      ),
    onSuccess: () => refresh(),
  });
}

/** Deletes a branch; the active one needs the branch that takes its place. */
export function useDeleteBranch(chatId: string) {
  const { client, user } = useSignedIn();
  const refresh = useRefreshChat(chatId);
  return useMutation({
    mutationFn: async ({ branchId, activateBranchId }: { branchId: string; activateBranchId?: string }) =>
      unwrap(
        await client.DELETE('/v1/users/{user_id}/chats/{chat_id}/branches/{branch_id}', {
          params: {
            path: { user_id: user.id, chat_id: chatId, branch_id: branchId },
            query: activateBranchId ? { activate_branch_id: activateBranchId } : {},
          },
        }),
      ),
    onSuccess: () => refresh(),
  });
}

/** Copies the path up to a pair into a new chat. */
export function useForkChat(chatId: string) {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (pairId: string) =>
      unwrap(
        await client.POST('/v1/users/{user_id}/chats/{chat_id}/fork', {
          params: { path: { user_id: user.id, chat_id: chatId } },
          body: { qa_pair_id: pairId },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) }),
  });
}
