/**
 * `npm run web:screenshots`: the README's two pictures of the web client, made again from
 * nothing: the real app on a temporary database with a fake upstream, a branched chat with
 * sources and a few others seeded through the API, then headless Chromium (1280 x 800,
 * light theme) shoots the branched chat and a search. Writes scripts/screenshots/*.png.
 */
import { join } from 'node:path';
import { askVia } from '../../tests/helpers/web-seed.js';
import { startWebBench } from './web-browser.js';

const OUT = join(import.meta.dirname, '..', 'screenshots');

async function main() {
  const bench = await startWebBench();
  try {
    const { app, user } = bench;
    const other = await askVia(app, user, 'What is the best time of year to visit Madeira?');
    await askVia(app, user, 'Which levada walks in Madeira suit beginners?', { chatId: other.chatId });
    const first = await askVia(app, user, 'Plan two days in Lisbon for a first visit');
    const tram = await askVia(app, user, 'Is tram 28 worth it, or is it too crowded?', { chatId: first.chatId });
    await askVia(app, user, 'Where do I catch tram 28 in Lisbon?', { chatId: first.chatId, parentId: tram.pairId });
    // An edit of the second question: a second branch, now the active one.
    const edited = await askVia(app, user, 'Is the Lisbon tram 28 worth it early in the morning?', {
      chatId: first.chatId,
      parentId: first.pairId,
    });
    await askVia(app, user, 'And a day trip to Sintra by train from Lisbon?', {
      chatId: first.chatId,
      parentId: edited.pairId,
    });

    const page = await bench.signedInPage();
    await page
      .getByRole('navigation', { name: 'Chats' })
      .getByRole('link', { name: /Plan two days in Lisbon/ })
      .click();
    await page
      .getByRole('list', { name: 'Conversation' })
      .getByText('day trip to Sintra', { exact: false })
      .first()
      .waitFor();
    await page.screenshot({ path: join(OUT, 'branched-chat.png') });

    await page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: 'Search' }).click();
    await page.getByLabel('Search your chats').fill('tram');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('list', { name: 'Results' }).getByRole('listitem').first().waitFor();
    await page.screenshot({ path: join(OUT, 'search.png') });
    process.stdout.write(`wrote ${join(OUT, 'branched-chat.png')} and ${join(OUT, 'search.png')}\n`);
  } finally {
    await bench.close();
  }
}

await main();
