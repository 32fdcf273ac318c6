import { LRUCache } from 'lru-cache';

/**
 * Rendered views (a chat's JSON, its tree) kept in memory, bounded in bytes. Keys carry the
 * chat's version, so an entry is never stale: a change bumps the version in the database and
 * the next read asks for a key that is not here. Old versions simply age out.
 */
export interface ViewCache {
  get(key: string): string | undefined;
  set(key: string, body: string): void;
  /** Bytes held, for /metrics and tests. */
  readonly bytes: number;
}

/** A cache of at most `maxBytes` (UTF-8 size of the bodies), or one that keeps nothing for 0. */
export function createViewCache(maxBytes: number): ViewCache {
  if (maxBytes <= 0) {
    return { get: () => undefined, set: () => undefined, bytes: 0 };
  }
  const lru = new LRUCache<string, string>({
    maxSize: maxBytes,
    // A body larger than an eighth of the cache would evict most of it for one view.
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
    sizeCalculation: (body) => Math.max(1, Buffer.byteLength(body)),
  });
  return {
    get: (key) => lru.get(key),
    set: (key, body) => {
      lru.set(key, body);
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}
