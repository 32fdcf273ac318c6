import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { unwrap } from '../../api/client.js';
import { queryKeys } from '../../api/queries.js';
import type { ChatDetail, SearchHit, SearchParams } from '../../api/types.js';
import { navigate, pairPath, chatPath } from '../../lib/router.js';
import { useSignedIn } from '../../lib/session.js';

/** What the search form asks for: the words, and the filters (dates as yyyy-mm-dd, the site). */
export interface SearchRequest {
  q: string;
  since: string;
  until: string;
  source: string;
}

export const SEARCH_PAGE_SIZE = 20;

/** The form's fields as the API's query: local calendar days, `until` taking in its whole day. */
export function toSearchParams(request: SearchRequest): Omit<SearchParams, 'cursor' | 'limit'> {
  const startOfDay = (day: string, plusDays = 0) => {
    const [year, month, date] = day.split('-').map(Number);
    return new Date(year ?? 0, (month ?? 1) - 1, (date ?? 1) + plusDays).toISOString();
  };
  const q = request.q.trim();
  const source = request.source.trim();
  return {
    ...(q ? { q } : {}),
    ...(source ? { source } : {}),
    ...(request.since ? { since: startOfDay(request.since) } : {}),
    ...(request.until ? { until: startOfDay(request.until, 1) } : {}),
  };
}

export function useSearch(request: SearchRequest | undefined) {
  const { client, user } = useSignedIn();
  const query = request ? toSearchParams(request) : {};
  return useInfiniteQuery({
    queryKey: ['search', user.id, query],
    enabled: request !== undefined,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await client.GET('/v1/users/{user_id}/search', {
          params: {
            path: { user_id: user.id },
            query: { ...query, limit: SEARCH_PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) },
          },
          signal,
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => (page.has_more && page.next_cursor ? page.next_cursor : undefined),
  });
}

/**
 * Opens a hit where it is: a pair on another branch than the chat's active one makes its
 * branch active first (as the API wants: the chat view is the active branch), then the
 * chat opens scrolled to the pair.
 */
export function useOpenHit() {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (hit: SearchHit) => {
      if (hit.qa_pair_id === null || hit.branch_id === null) return;
      const cached = queryClient.getQueryData<ChatDetail>(queryKeys.chat(user.id, hit.chat_id));
      if (cached?.active_branch_id === hit.branch_id && cached.qa_pairs.some((pair) => pair.id === hit.qa_pair_id))
        return;
      unwrap(
        await client.PUT('/v1/users/{user_id}/chats/{chat_id}/active-branch', {
          params: { path: { user_id: user.id, chat_id: hit.chat_id } },
          body: { branch_id: hit.branch_id },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: queryKeys.chat(user.id, hit.chat_id) });
    },
    onSuccess: (_result, hit) =>
      navigate(hit.qa_pair_id === null ? chatPath(hit.chat_id) : pairPath(hit.chat_id, hit.qa_pair_id)),
  });
}
