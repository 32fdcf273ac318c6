import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';
import { askVia, echoingUpstream, importChatgpt, linearChatgptConversation } from '../helpers/web-seed.js';

/** Searching in the web client: highlighted snippets, filters, and a hit opening its branch at the pair. */

const temp = useTempDir();
const upstream = useFakeUpstream();
beforeEach(() => {
  upstream.reset();
  upstream.setHandler(echoingUpstream);
});
const server = useTestApp({ databaseUrl: join(temp.dir, 'web-search.db'), upstream, listen: true });
const browser = useBrowser();

async function signedIn(user: TestUser): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(server.baseUrl);
  await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: 'Search' }).click();
  await page.getByRole('heading', { level: 1, name: 'Search' }).waitFor();
  return page;
}

async function searchFor(page: Page, words: string): Promise<void> {
  await page.getByLabel('Search your chats').fill(words);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
}

const results = (page: Page) => page.getByRole('list', { name: 'Results' });
const conversation = (page: Page) => page.getByRole('list', { name: 'Conversation' });

async function getChat(user: TestUser, chatId: string) {
  const response = await server.app.inject({ url: `/v1/users/${user.id}/chats/${chatId}`, headers: user.headers });
  return response.json<{ active_branch_id: string; qa_pairs: { id: string; question: string }[] }>();
}

describe('search in the web client', () => {
  it('opens a hit on a branch that is not the active one: that branch, scrolled to the pair, focused', async () => {
    const user = await createUser(server.app, 'Sofia');
    const first = await askVia(server.app, user, 'Plan two days in Portugal');
    const tram = await askVia(server.app, user, 'Which tram climbs to the castle in Lisbon?', {
      chatId: first.chatId,
    });
    // Filler after the hit, so the pair is not simply the last thing on screen.
    for (const n of [1, 2, 3, 4, 5, 6])
      await askVia(server.app, user, `Follow-up number ${n} about food`, { chatId: first.chatId });
    // An edit of the second question: a new branch, now the active one, without the tram.
    const edited = await askVia(server.app, user, 'What about the wine cellars of Porto?', {
      chatId: first.chatId,
      parentId: first.pairId,
    });
    expect(edited.branchId).not.toBe(tram.branchId);
    expect((await getChat(user, first.chatId)).active_branch_id).toBe(edited.branchId);

    const page = await signedIn(user);
    await searchFor(page, 'tram');
    const hit = results(page).getByRole('listitem').filter({ hasText: 'castle' });
    await hit.waitFor();
    // The match is highlighted: a <mark> holding the word, the rest plain text.
    expect(await hit.locator('mark').allTextContents()).toEqual(['tram']);
    expect(await hit.locator('.snippet').textContent()).toContain('Which tram climbs to the castle in Lisbon'); // PostgreSQL's headline ends at a word
    await expectAccessible(page);

    await hit.getByRole('link', { name: 'Plan two days in Portugal' }).click();
    await conversation(page).getByText('Which tram climbs to the castle in Lisbon?', { exact: true }).waitFor();
    // The API's active branch followed: the tram's branch, and the edit is not on screen.
    await expect.poll(async () => (await getChat(user, first.chatId)).active_branch_id).toBe(tram.branchId);
    expect(await conversation(page).getByText('wine cellars of Porto').count()).toBe(0);
    expect(page.url()).toContain(`#pair-${tram.pairId}`);
    // The pair is marked as the current one, has the focus, and is in view.
    const current = conversation(page).locator('[aria-current="true"]');
    await current.waitFor();
    expect(await current.textContent()).toContain('Which tram climbs to the castle');
    expect(await page.evaluate('document.activeElement?.textContent ?? ""')).toContain('Which tram climbs');
    await expect.poll(() => current.isVisible()).toBe(true);
    const inView = await current.evaluate((element) => {
      const box = element.getBoundingClientRect();
      const pane = element.closest('.conversation')?.getBoundingClientRect();
      return pane !== undefined && box.top < pane.bottom && box.bottom > pane.top;
    });
    expect(inView).toBe(true);
    await expectAccessible(page);
    expect(browser.problems).toEqual([]);
  });

  it('shows markup in a snippet as text, never as HTML', async () => {
    const user = await createUser(server.app, 'Hostile');
    await askVia(server.app, user, 'Is <img src=x onerror="window.__pwned=1"> a <b>tram</b>?');
    const page = await signedIn(user);
    await searchFor(page, 'tram');
    const hit = results(page).getByRole('listitem').first();
    await hit.waitFor();
    expect(await hit.locator('.snippet').textContent()).toContain('<img src=x onerror="window.__pwned=1">');
    expect(await hit.locator('img, b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it('narrows the results by cited site and by date, and pages through many', async () => {
    const user = await createUser(server.app, 'Filters');
    const lisbon = await askVia(server.app, user, 'A tram ride in Lisbon');
    const porto = await askVia(server.app, user, 'A tram museum in Porto');
    // Titles without the word, so each pair is one hit.
    for (const [chatId, title] of [
      [lisbon.chatId, 'Lisbon'],
      [porto.chatId, 'Porto'],
    ] as const) {
      await server.app.inject({
        method: 'PATCH',
        url: `/v1/users/${user.id}/chats/${chatId}`,
        headers: user.headers,
        payload: { title },
      });
    }
    // An old conversation (2020), imported from ChatGPT.
    const old = Date.UTC(2020, 5, 15) / 1000;
    await importChatgpt(server.app, user, [
      linearChatgptConversation('old-trams', 'Old notes', old, [
        { question: 'Notes on the tram network of Sintra', answer: 'It closed long ago.' },
      ]),
    ]);
    const page = await signedIn(user);
    const hitTitles = async () => {
      await page.getByRole('heading', { name: /results/i, level: 2 }).waitFor();
      return (await results(page).getByRole('listitem').locator('.snippet').allTextContents()).sort();
    };
    const waitForCount = async (count: number) => expect.poll(async () => (await hitTitles()).length).toBe(count);

    await searchFor(page, 'tram');
    await waitForCount(3);

    await page.getByLabel('Cited site').fill('porto.example.org');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await waitForCount(1);
    expect((await hitTitles())[0]).toContain('A tram museum in Porto');

    await page.getByLabel('Cited site').fill('');
    await page.getByLabel('From date').fill('2021-01-01');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await waitForCount(2);
    expect((await hitTitles()).join(' ')).not.toContain('Sintra');

    await page.getByLabel('From date').fill('');
    await page.getByLabel('To date').fill('2020-12-31');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await waitForCount(1);
    expect((await hitTitles())[0]).toContain('Sintra');
    await expectAccessible(page);

    // More than a page (20) of hits: the rest come with "More results".
    for (let n = 0; n < 21; n += 1)
      await askVia(server.app, user, `Tram stop ${n} in Lisbon`, { chatId: lisbon.chatId });
    await page.getByLabel('To date').fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await waitForCount(20);
    await page.getByRole('button', { name: 'More results' }).click();
    await waitForCount(24);
    expect(await page.getByRole('button', { name: 'More results' }).count()).toBe(0);
  });
});
