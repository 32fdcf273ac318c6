import { useSyncExternalStore } from 'react';

/**
 * The client's addresses, in the History API (the server falls back to index.html for
 * exactly these: CLIENT_ROUTES in src/plugins/web.ts):
 *   /                 no chat open
 *   /chats/<chat id>  that chat
 */
export type Route = { name: 'home' } | { name: 'chat'; chatId: string };

export function parseRoute(pathname: string): Route {
  const match = /^\/chats\/([^/]+)\/?$/.exec(pathname);
  return match?.[1] ? { name: 'chat', chatId: decodeURIComponent(match[1]) } : { name: 'home' };
}

export const chatPath = (chatId: string) => `/chats/${encodeURIComponent(chatId)}`;

const listeners = new Set<() => void>();
const subscribe = (listener: () => void) => {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
};

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  return parseRoute(useSyncExternalStore(subscribe, () => window.location.pathname));
}
