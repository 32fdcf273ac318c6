import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { unwrap } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import { queryKeys } from '../api/queries.js';
import { StartScreen } from '../features/auth/StartScreen.js';
import { ChatView } from '../features/ask/ChatView.js';
import { ChatHeader } from '../features/chats/ChatHeader.js';
import { ChatSidebar } from '../features/chats/ChatSidebar.js';
import { SearchScreen } from '../features/search/SearchScreen.js';
import { ChatDownloads } from '../features/transfer/ChatDownloads.js';
import { TransferScreen } from '../features/transfer/TransferScreen.js';
import { ChatTools, pairControlsOf } from './ChatTools.js';
import { LiveStatusNote, useLiveUpdates } from './live-updates.js';
import { useRoute } from '../lib/router.js';
import { SessionProvider, useSession, useSignedIn } from '../lib/session.js';

function Home() {
  return (
    <div className="home">
      <h1>Chat history</h1>
      <p className="muted">Open a chat from the list, or start a new one.</p>
    </div>
  );
}

/** A kept key that the server no longer accepts (deleted, or another server's) signs out. */
function useSignOutWhenKeyRefused() {
  const { client, apiKey, signOut } = useSignedIn();
  const me = useQuery({
    queryKey: queryKeys.me(apiKey),
    queryFn: async ({ signal }) => unwrap(await client.GET('/v1/users/me', { signal })),
  });
  const refused = me.error instanceof ApiError && me.error.status === 401;
  useEffect(() => {
    if (refused) signOut();
  }, [refused, signOut]);
}

/** Signed in: the chats beside the open one. */
function Workspace() {
  useSignOutWhenKeyRefused();
  const route = useRoute();
  const chatId = route.name === 'chat' ? route.chatId : undefined;
  const live = useLiveUpdates(chatId);
  return (
    <div className="workspace">
      <ChatSidebar currentChatId={chatId} status={<LiveStatusNote status={live} />} />
      <main className="main">
        {route.name === 'search' ? <SearchScreen /> : null}
        {route.name === 'transfer' ? <TransferScreen /> : null}
        {chatId ? (
          <ChatView
            key={chatId}
            chatId={chatId}
            header={
              <ChatHeader
                chatId={chatId}
                tools={
                  <>
                    <ChatTools chatId={chatId} />
                    <ChatDownloads chatId={chatId} />
                  </>
                }
              />
            }
            pairControls={pairControlsOf(chatId)}
          />
        ) : null}
        {route.name === 'home' ? <Home /> : null}
      </main>
    </div>
  );
}

function Screens() {
  const { session } = useSession();
  return session ? <Workspace /> : <StartScreen />;
}

export function App() {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          // A 4xx will not change by asking again; anything else is retried once.
          queries: { retry: (count, error) => count < 1 && !('status' in error && Number(error.status) < 500) },
        },
      }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <Screens />
      </SessionProvider>
    </QueryClientProvider>
  );
}
