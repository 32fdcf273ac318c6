import type { ChatLock } from './contract.js';

/**
 * Serialises async work per key (here: per chat) within this process, in arrival order.
 * Work on different keys runs in parallel. A failure releases the lock like a success.
 */
export function createKeyedLock(): ChatLock {
  const tails = new Map<string, Promise<void>>();
  const queued = new Map<string, number>();

  return {
    async run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const current = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => current);
      tails.set(key, tail);
      queued.set(key, (queued.get(key) ?? 0) + 1);
      try {
        await previous;
        return await work();
      } finally {
        release();
        const left = (queued.get(key) ?? 1) - 1;
        if (left === 0) queued.delete(key);
        else queued.set(key, left);
        // Drop the entry once nobody is queued behind us, so the map does not grow forever.
        if (tails.get(key) === tail) tails.delete(key);
      }
    },

    /** How many runs hold or wait for `key`. */
    queuedFor(key: string): number {
      return queued.get(key) ?? 0;
    },
  };
}
