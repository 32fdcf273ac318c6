import { useSyncExternalStore } from 'react';

/**
 * The client's addresses, in the History API (the server falls back to index.html for
 * exactly these: CLIENT_ROUTES in src/plugins/web.ts):
 *   /                 no chat open
 *   /chats/<chat id>  that chat (#pair-<pair id>: scrolled to that pair)
 *   /history          search over all of the user's history
 *   /transfer         import and export
 */
export type Route = { name: 'home' } | { name: 'chat'; chatId: string } | { name: 'search' } | { name: 'transfer' };

export function parseRoute(pathname: string): Route {
  if (/^\/history\/?$/.test(pathname)) return { name: 'search' };
  if (/^\/transfer\/?$/.test(pathname)) return { name: 'transfer' };
  const match = /^\/chats\/([^/]+)\/?$/.exec(pathname);
  return match?.[1] ? { name: 'chat', chatId: decodeURIComponent(match[1]) } : { name: 'home' };
}

export const chatPath = (chatId: string) => `/chats/${encodeURIComponent(chatId)}`;
export const searchPath = '/history';
export const transferPath = '/transfer';

/** A chat's address, scrolled to one of its pairs. */
export const pairPath = (chatId: string, pairId: string) => `${chatPath(chatId)}#${pairAnchor(pairId)}`;
export const pairAnchor = (pairId: string) => `pair-${encodeURIComponent(pairId)}`;

/** The pair the address asks to scroll to (#pair-<id>), if any. */
export function pairFromHash(hash: string): string | undefined {
  const match = /^#pair-(.+)$/.exec(hash);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

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
  const { pathname, search, hash } = window.location;
  if (path === pathname + search + hash) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  return parseRoute(useSyncExternalStore(subscribe, () => window.location.pathname));
}
