import { setImmediate as nextTurn } from 'node:timers/promises';
import fp from 'fastify-plugin';

/** How often the indexer looks for writes the full-text index is behind on. */
const INDEX_INTERVAL_MS = 250;
/** Pairs indexed per transaction: short writes, with requests served between them. */
const INDEX_BATCH = 200;

/**
 * Keeps the full-text index up to date in the background (SQLite: asks only note their
 * pairs, see SearchStore.indexPending), so that a search seldom has a backlog to index
 * first. Batches run one after another with a turn of the event loop between them; the
 * last one runs before the database closes.
 */
export default fp(
  async (fastify) => {
    const { search } = fastify.storage;
    let closing = false;
    let running: Promise<void> | undefined;
    const run = () => {
      running ??= (async () => {
        while ((await search.indexPending(INDEX_BATCH)) === INDEX_BATCH && !closing) await nextTurn();
      })()
        .catch((err: unknown) => fastify.log.warn({ err }, 'could not update the search index; searches will'))
        .finally(() => {
          running = undefined;
        });
    };
    const timer = setInterval(run, INDEX_INTERVAL_MS);
    timer.unref();
    fastify.addHook('preClose', async () => {
      closing = true;
      clearInterval(timer);
      await running;
    });
  },
  { name: 'search-indexer', dependencies: ['database'] },
);
