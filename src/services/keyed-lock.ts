/**
 * Serialises async work per key (here: per chat) within this process, in arrival order.
 * Work on different keys runs in parallel. A failure releases the lock like a success.
 */
export function createKeyedLock() {
  const tails = new Map<string, Promise<void>>();

  return {
    async run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const current = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => current);
      tails.set(key, tail);
      try {
        await previous;
        return await work();
      } finally {
        release();
        // Drop the entry once nobody is queued behind us, so the map does not grow forever.
        if (tails.get(key) === tail) tails.delete(key);
      }
    },

    /** Keys with work running or queued (for tests and metrics). */
    get size(): number {
      return tails.size;
    },
  };
}

export type KeyedLock = ReturnType<typeof createKeyedLock>;
