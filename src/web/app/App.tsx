import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { StartScreen } from '../features/auth/StartScreen.js';
import { ChatView } from '../features/ask/ChatView.js';
import { ChatHeader } from '../features/chats/ChatHeader.js';
import { ChatSidebar } from '../features/chats/ChatSidebar.js';
import { useRoute } from '../lib/router.js';
import { SessionProvider, useSession } from '../lib/session.js';

function Home() {
  return (
    <div className="home">
      <h1>Chat history</h1>
      <p className="muted">Open a chat from the list, or start a new one.</p>
    </div>
  );
}

/** Signed in: the chats beside the open one. */
function Workspace() {
  const route = useRoute();
  const chatId = route.name === 'chat' ? route.chatId : undefined;
  return (
    <div className="workspace">
      <ChatSidebar currentChatId={chatId} />
      <main className="main">
        {chatId ? <ChatView key={chatId} chatId={chatId} header={<ChatHeader chatId={chatId} />} /> : <Home />}
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
