import { useEffect, useRef, type ReactNode } from 'react';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { chatPath, navigate, searchPath, transferPath } from '../../lib/router.js';
import { AppLink } from '../../ui/AppLink.js';
import { useSignedIn } from '../../lib/session.js';
import { useChatList, useCreateChat } from './api.js';
import { ChatListItem } from './ChatListItem.js';

/** Loads the next page when the end of the list scrolls into view. */
function useLoadMoreWhenVisible(load: () => void, enabled: boolean) {
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = sentinel.current;
    if (!element || !enabled) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) load();
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [load, enabled]);
  return sentinel;
}

/** The user's chats, most recently updated first, page by page as the list scrolls. */
export function ChatSidebar({ currentChatId, status }: { currentChatId: string | undefined; status?: ReactNode }) {
  const { user, signOut } = useSignedIn();
  const chats = useChatList();
  const create = useCreateChat();
  const { fetchNextPage, hasNextPage, isFetchingNextPage } = chats;
  const sentinel = useLoadMoreWhenVisible(() => void fetchNextPage(), hasNextPage && !isFetchingNextPage);
  const list = chats.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <nav className="sidebar" aria-label="Chats">
      <div className="sidebar-head">
        <p className="who">
          Signed in as <strong>{user.name}</strong>
        </p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </div>
      {status}
      <button
        type="button"
        className="primary"
        disabled={create.isPending}
        onClick={() => create.mutate(undefined, { onSuccess: (chat) => navigate(chatPath(chat.id)) })}
      >
        New chat
      </button>
      {create.error ? <ErrorNote error={create.error} /> : null}
      <p className="sidebar-links">
        <AppLink href={searchPath}>Search</AppLink>
        <AppLink href={transferPath}>Import and export</AppLink>
      </p>
      <h2 className="visually-hidden">Your chats</h2>
      {chats.error ? <ErrorNote error={chats.error} /> : null}
      {chats.isPending ? <p>Loading chats…</p> : null}
      {chats.isSuccess && list.length === 0 ? <p className="muted">No chats yet.</p> : null}
      <ul className="chat-list">
        {list.map((chat) => (
          <ChatListItem key={chat.id} chat={chat} current={chat.id === currentChatId} />
        ))}
      </ul>
      <div ref={sentinel} />
      {hasNextPage ? (
        <button type="button" onClick={() => void fetchNextPage()} disabled={isFetchingNextPage}>
          {isFetchingNextPage ? 'Loading…' : 'More chats'}
        </button>
      ) : null}
    </nav>
  );
}
