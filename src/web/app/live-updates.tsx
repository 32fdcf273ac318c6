import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { connectLiveEvents, type LiveEvent, type LiveStatus } from '../api/live-events.js';
import { queryKeys } from '../api/queries.js';
import { navigate } from '../lib/router.js';
import { useSignedIn } from '../lib/session.js';

/**
 * What an event changes of what the client holds: the chat list on a chat's change or a
 * pair's start and end (its order, titles), and the chat itself (below its key: its
 * branches, tree and context) on any change of its pairs or branches. Tokens change
 * nothing here: the open chat follows an answer through the reattach route.
 */
function applyEvent(queryClient: QueryClient, userId: string, event: LiveEvent, openChatId: string | undefined): void {
  const chatId = event.chat_id;
  if (chatId === null) return;
  const refetchList = () => void queryClient.invalidateQueries({ queryKey: queryKeys.chats(userId) });
  const refetchChat = () => void queryClient.invalidateQueries({ queryKey: queryKeys.chat(userId, chatId) });
  switch (event.type) {
    case 'chat.deleted':
      if (openChatId === chatId) navigate('/', { replace: true });
      queryClient.removeQueries({ queryKey: queryKeys.chat(userId, chatId) });
      refetchList();
      return;
    case 'chat.created':
    case 'chat.updated':
    case 'pair.started':
    case 'pair.completed':
      refetchList();
      refetchChat();
      return;
    default:
      if (event.type.startsWith('branch.')) refetchChat();
  }
}

/**
 * Keeps what this tab shows in step with every other client of the user: follows the
 * user's events while signed in, and refetches everything shown when the stream says it
 * may have missed some (resync).
 */
export function useLiveUpdates(openChatId: string | undefined): LiveStatus {
  const { client, user } = useSignedIn();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const openChat = useRef(openChatId);
  useEffect(() => {
    openChat.current = openChatId;
  }, [openChatId]);
  useEffect(
    () =>
      connectLiveEvents({
        client,
        userId: user.id,
        onEvent: (event) => applyEvent(queryClient, user.id, event, openChat.current),
        onResync: () => void queryClient.invalidateQueries(),
        onStatus: setStatus,
      }),
    [client, queryClient, user.id],
  );
  return status;
}

const LABELS: Record<LiveStatus, string> = {
  connecting: 'Connecting live updates…',
  live: 'Live updates on',
  reconnecting: 'Live updates lost: reconnecting…',
  stopped: 'Live updates off',
};

/** Whether changes made elsewhere show here as they happen. */
export function LiveStatusNote({ status }: { status: LiveStatus }) {
  return (
    <p className={`live-status live-status-${status}`} role="status">
      {LABELS[status]}
    </p>
  );
}
