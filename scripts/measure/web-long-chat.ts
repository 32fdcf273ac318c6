/**
 * `npm run measure:web-chat`: how long a 1,000-pair chat takes to become readable in headless
 * Chromium on this machine. The chat is imported (one ChatGPT conversation of 1,000 questions
 * and answers of a few hundred characters each), then, for each run, a fresh signed-in page
 * opens its address and the clock runs from the navigation until the last pair's question
 * is on screen (in the window: the view scrolls to the end). Prints each run and the median. `--runs N` (5).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { importChatgpt, linearChatgptConversation } from '../../tests/helpers/web-seed.js';
import { startWebBench } from './web-browser.js';

const PAIRS = 1000;

async function main() {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
  const bench = await startWebBench();
  try {
    const pairs = Array.from({ length: PAIRS }, (_, n) => ({
      question: `Question ${n + 1}: what else should I know about day ${n + 1} of the trip?`,
      answer:
        `Answer ${n + 1}. Start early, take the **tram** up the hill, and keep an afternoon free: ` +
        'museums close at six, and the viewpoints are best at sunset. A list:\n\n- walk\n- eat\n- rest\n\n' +
        'See [the guide](https://example.org/guide) for opening hours.',
    }));
    const [chatId] = await importChatgpt(bench.app, bench.user, [
      linearChatgptConversation('long-chat', 'A thousand questions', 1_700_000_000, pairs),
    ]);
    const last = pairs.at(-1)?.question ?? '';
    const times: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const page = await bench.signedInPage();
      const start = performance.now();
      await page.goto(`${bench.baseUrl}/chats/${chatId}`);
      // Readable: the last question laid out and inside the window (the view scrolls to the end),
      // polled every 10 ms from here (the page's CSP refuses a predicate evaluated as a string).
      const question = page.getByRole('list', { name: 'Conversation' }).getByText(last, { exact: true });
      await question.waitFor({ state: 'visible', timeout: 60_000 });
      const height = page.viewportSize()?.height ?? 0;
      for (;;) {
        const box = await question.boundingBox();
        if (box && box.y >= 0 && box.y + box.height <= height) break;
        await sleep(10);
      }
      const ms = performance.now() - start;
      const count = await page.getByRole('list', { name: 'Conversation' }).locator(':scope > li').count();
      // Where the time went: the chat's JSON arrived at `fetched` ms after the navigation began.
      const fetched = await page.evaluate((id) => {
        const entry = performance.getEntriesByType('resource').find((item) => item.name.endsWith(`/chats/${id}`));
        return entry && 'responseEnd' in entry ? Number(entry.responseEnd) : -1;
      }, chatId);
      times.push(ms);
      process.stdout.write(
        `run ${run + 1}: ${ms.toFixed(0)} ms until the last of ${count} pairs was on screen ` +
          `(the chat's JSON had arrived at ${fetched.toFixed(0)} ms)\n`,
      );
      await page.context().close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    process.stdout.write(`${PAIRS}-pair chat readable in ${median.toFixed(0)} ms (median of ${runs})\n`);
  } finally {
    await bench.close();
  }
}

await main();
