import { useEffect, useRef, useSyncExternalStore, type RefObject } from 'react';
import type { QaPair } from '../../api/types.js';
import { pairFromHash } from '../../lib/router.js';
import './pair-focus.css';

const subscribeToHash = (listener: () => void) => {
  window.addEventListener('hashchange', listener);
  window.addEventListener('popstate', listener);
  return () => {
    window.removeEventListener('hashchange', listener);
    window.removeEventListener('popstate', listener);
  };
};

/**
 * The pair the address names (#pair-<id>, as a search hit opens it), once it is on screen:
 * scrolled into view, focused and marked as the current one (aria-current), once per address.
 * The conversation's items are its pairs in order, so the pair's element is found by its place.
 * Called after the conversation's stick-to-bottom, so it scrolls last; its scroll tells that
 * one the reader is no longer at the end.
 */
export function usePairFocus(container: RefObject<HTMLElement | null>, pairs: QaPair[] | undefined): void {
  const hash = useSyncExternalStore(subscribeToHash, () => window.location.hash);
  const done = useRef<string | undefined>(undefined);
  const pairId = pairFromHash(hash);
  const index = pairId === undefined ? -1 : (pairs ?? []).findIndex((pair) => pair.id === pairId);
  useEffect(() => {
    if (pairId === undefined || index < 0 || done.current === hash) return;
    const list = container.current?.querySelector('ol');
    const item = list?.children.item(index);
    if (!(item instanceof HTMLElement)) return;
    done.current = hash;
    for (const other of list?.querySelectorAll('[aria-current]') ?? []) other.removeAttribute('aria-current');
    item.setAttribute('aria-current', 'true');
    item.tabIndex = -1;
    item.scrollIntoView({ block: 'center' });
    item.focus({ preventScroll: true });
  }, [container, hash, pairId, index]);
}
