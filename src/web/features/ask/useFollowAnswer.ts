import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { reattachStreaming } from '../../api/ask-stream.js';
import { queryKeys } from '../../api/queries.js';
import type { SearchResult } from '../../api/types.js';
import { useSignedIn } from '../../lib/session.js';

/** What has streamed so far of an answer being written elsewhere. */
export interface FollowedAnswer {
  pairId: string;
  answer: string;
  sources: SearchResult[];
}

/**
 * Follows a stored pair that is still being answered (asked in another tab or device, or in
 * a tab since closed) through the reattach route: its text so far, then each token as it is
 * written. Once the answer is stored (or failed), the chat and the list are refetched and
 * show the stored pair. Undefined `pairId` follows nothing.
 */
export function useFollowAnswer(chatId: string, pairId: string | undefined): FollowedAnswer | undefined {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  const [followed, setFollowed] = useState<FollowedAnswer>();

  useEffect(() => {
    if (pairId === undefined) return;
    const controller = new AbortController();
    setFollowed({ pairId, answer: '', sources: [] });
    const update = (change: (before: FollowedAnswer) => FollowedAnswer) =>
      setFollowed((before) => (before?.pairId === pairId && !controller.signal.aborted ? change(before) : before));
    reattachStreaming(
      client,
      { userId: user.id, chatId, pairId },
      (event) => {
        if (event.type === 'token') update((before) => ({ ...before, answer: before.answer + event.text }));
        if (event.type === 'search_results') update((before) => ({ ...before, sources: event.searchResults }));
      },
      controller.signal,
    )
      .catch(() => {
        // A failed answer shows with its error once refetched; a lost stream leaves the pair
        // to its pair.completed event.
      })
      .finally(() => {
        if (controller.signal.aborted) return;
        void queryClient.invalidateQueries({ queryKey: queryKeys.chat(user.id, chatId) });
        void queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) });
      });
    return () => controller.abort();
  }, [client, queryClient, user.id, chatId, pairId]);

  return followed?.pairId === pairId ? followed : undefined;
}
