import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { askStreaming } from '../../api/ask-stream.js';
import { queryKeys } from '../../api/queries.js';
import type { SearchResult } from '../../api/types.js';
import { ApiError } from '../../api/errors.js';
import { useSignedIn } from '../../lib/session.js';

/** The question being answered (or whose ask failed before the server stored it). */
export interface PendingAsk {
  question: string;
  /** Where it was asked: undefined continues the active branch. */
  parentId: string | null | undefined;
  answer: string;
  sources: SearchResult[];
  status: 'streaming' | 'failed';
  error?: unknown;
  /** The stored pair's id, once the server has said it (the stream's `start` event). */
  pairId?: string;
}

/**
 * Asks in a chat with the answer streamed in. While it streams, the question and the answer
 * so far are local state; once the server has stored the pair (answered, or failed with its
 * error) the chat is refetched and shows it. An ask refused before the question was stored
 * stays here, failed, with its question, so it can be retried.
 */
export function useAsk(chatId: string) {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<PendingAsk>();
  const controller = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    setPending(undefined);
    return () => controller.current?.abort();
  }, [chatId]);

  const refresh = useCallback(
    () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: queryKeys.chat(user.id, chatId) }),
        queryClient.invalidateQueries({ queryKey: queryKeys.chats(user.id) }),
      ]),
    [queryClient, user.id, chatId],
  );

  const ask = useCallback(
    async (question: string, parentId?: string | null) => {
      controller.current?.abort();
      const current = new AbortController();
      controller.current = current;
      setPending({ question, parentId, answer: '', sources: [], status: 'streaming' });
      const update = (change: (before: PendingAsk) => PendingAsk) =>
        setPending((before) => (before && !current.signal.aborted ? change(before) : before));
      try {
        await askStreaming(
          client,
          { user_id: user.id, chat_id: chatId, question, ...(parentId === undefined ? {} : { parent_id: parentId }) },
          (event) => {
            if (event.type === 'start') update((before) => ({ ...before, pairId: event.qaPairId }));
            if (event.type === 'token') update((before) => ({ ...before, answer: before.answer + event.text }));
            if (event.type === 'search_results') update((before) => ({ ...before, sources: event.searchResults }));
          },
          current.signal,
        );
        await refresh();
        if (!current.signal.aborted) setPending(undefined);
      } catch (error) {
        if (current.signal.aborted) return;
        if (error instanceof ApiError && error.qaPairId) {
          // Stored as failed: the chat shows it with its error and a retry.
          await refresh();
          setPending(undefined);
        } else {
          update((before) => ({ ...before, status: 'failed', error }));
        }
      }
    },
    [client, user.id, chatId, refresh],
  );

  return { pending, ask, busy: pending?.status === 'streaming' };
}
