import { join } from 'node:path';
import type { Page, Route, WebSocketRoute } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { startSse, writeSse } from '../helpers/fake-upstream.js';
import { deferred } from '../helpers/sse-client.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';

/** Live updates in the web client: what one tab does shows in another, and an answer can be picked up mid-stream. */

const temp = useTempDir();
const upstream = useFakeUpstream();
beforeEach(() => upstream.reset());
// Progress is saved only once a minute here: the text so far that a tab shows while the
// upstream holds back can only have come from the reattach route, not from a refetched chat.
const server = useTestApp({
  databaseUrl: join(temp.dir, 'web-live.db'),
  upstream,
  listen: true,
  env: { EVENTS_PROGRESS_MS: '60000' },
});
const browser = useBrowser();

/** A page (its own browser context) signed in as `user`, its live updates on. */
async function signedIn(user: TestUser, before?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage();
  await before?.(page);
  await page.goto(server.baseUrl);
  await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await liveOn(page);
  // Gone after a reload: proves each change arrived without one.
  await page.evaluate('window.__sameDocument = true');
  return page;
}

const liveOn = (page: Page) => page.getByRole('status').getByText('Live updates on').waitFor();
const sidebar = (page: Page) => page.getByRole('navigation', { name: 'Chats' });
const conversation = (page: Page) => page.getByRole('list', { name: 'Conversation' });
const answering = (page: Page) => conversation(page).getByRole('status');

async function askInPage(page: Page, question: string): Promise<void> {
  await page.getByLabel('Question').fill(question);
  await page.getByLabel('Question').press('Enter');
}

/** An upstream that streams `first`, then holds back until `release` before streaming `rest`. */
function heldUpstream(first: string, rest: string) {
  const release = deferred();
  upstream.setHandler(async (_request, res) => {
    startSse(res);
    writeSse(res, [{ url: 'https://example.com/lisbon', name: 'Lisbon guide', snippet: 'Trams' }], 'search_results');
    writeSse(res, first, 'token');
    await release.promise;
    writeSse(res, rest, 'token');
    writeSse(res, '', 'done');
    res.end();
  });
  return release;
}

async function storedAnswers(user: TestUser, chatId: string): Promise<(string | null)[]> {
  const response = await server.app.inject({
    method: 'GET',
    url: `/v1/users/${user.id}/chats/${chatId}`,
    headers: user.headers,
  });
  return response.json<{ qa_pairs: { answer: string | null }[] }>().qa_pairs.map((pair) => pair.answer);
}

const chatIdOf = (page: Page) => /\/chats\/([0-9a-f-]{36})$/.exec(new URL(page.url()).pathname)?.[1] ?? '';

describe('live updates between two tabs of one user', () => {
  it('shows a chat created, answered, renamed and deleted in one tab in the other, without a reload', async () => {
    const user = await createUser(server.app, 'Two tabs');
    const a = await signedIn(user);
    const b = await signedIn(user);
    await b.getByText('No chats yet.').waitFor();

    await a.getByRole('button', { name: 'New chat' }).click();
    await a.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await sidebar(b)
      .getByRole('link', { name: /New chat/ })
      .click();
    await b.getByText('No questions yet').waitFor();

    // Asked in A, with the upstream holding back: B follows the answer as it streams.
    const release = heldUpstream('Take **tram 28** ', 'and walk down to Alfama.');
    await askInPage(a, 'What to see in Lisbon?');
    await conversation(a).getByText('tram 28').waitFor();
    await conversation(b).getByText('What to see in Lisbon?').waitFor();
    await conversation(b).getByText('tram 28').waitFor();
    expect(await answering(b).textContent()).toContain('Answering');
    expect(await storedAnswers(user, chatIdOf(a))).toEqual([null]);
    // B follows a pair being answered: it does not ask over it meanwhile.
    expect(await conversation(b).getByRole('button', { name: 'Edit question' }).isDisabled()).toBe(true);
    await expectAccessible(b);
    release.resolve();
    await conversation(b).getByText('and walk down to Alfama.').waitFor();
    await expect.poll(() => answering(b).count()).toBe(0);
    await sidebar(b)
      .getByRole('link', { name: /What to see in Lisbon/ })
      .waitFor();
    expect(await storedAnswers(user, chatIdOf(a))).toEqual(['Take **tram 28** and walk down to Alfama.']);
    expect(await conversation(b).locator('strong', { hasText: 'tram 28' }).count()).toBe(1);
    expect(
      await b
        .getByRole('region', { name: 'Sources' })
        .getByRole('link', { name: /Lisbon guide/ })
        .count(),
    ).toBe(1);
    // Each tab shows the pair once: A its own stream, then the stored pair; B the one it followed.
    expect(await conversation(b).getByText('What to see in Lisbon?').count()).toBe(1);
    await expect.poll(() => answering(a).count()).toBe(0);
    expect(await conversation(a).getByText('What to see in Lisbon?').count()).toBe(1);
    expect(upstream.requests).toHaveLength(1);

    await sidebar(a).getByRole('button', { name: 'Rename New chat' }).click();
    await a.getByLabel('New title').fill('Trip to Lisbon');
    await a.getByLabel('New title').press('Enter');
    await sidebar(b)
      .getByRole('link', { name: /Trip to Lisbon/ })
      .waitFor();
    await b.getByRole('heading', { level: 1, name: 'Trip to Lisbon' }).waitFor();

    await sidebar(a).getByRole('button', { name: 'Delete Trip to Lisbon' }).click();
    await a.getByRole('dialog').getByRole('button', { name: 'Delete chat' }).click();
    // B had it open: it leaves it, and the list no longer holds it.
    await b.getByText('No chats yet.').waitFor();
    expect(new URL(b.url()).pathname).toBe('/');
    expect(await b.evaluate('window.__sameDocument')).toBe(true);
    await expectAccessible(b);
    expect(browser.problems).toEqual([]);
  });

  it('picks up an answer still streaming after the tab that asked closed, then shows the stored answer', async () => {
    const user = await createUser(server.app, 'Reattach');
    const release = heldUpstream('Start at Belém ', 'and end in Bairro Alto.');
    const a = await signedIn(user);
    await a.getByRole('button', { name: 'New chat' }).click();
    await a.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await askInPage(a, 'A day in Lisbon?');
    await conversation(a).getByText('Start at Belém').waitFor();
    const chatId = chatIdOf(a);
    await a.close();

    const b = await signedIn(user);
    await b.goto(`${server.baseUrl}/chats/${chatId}`);
    await conversation(b).getByText('A day in Lisbon?').waitFor();
    // The text so far, from the reattach route, while the upstream still holds back.
    await conversation(b).getByText('Start at Belém').waitFor();
    expect(await answering(b).textContent()).toContain('Answering');
    expect(await storedAnswers(user, chatId)).toEqual([null]);
    await expectAccessible(b);

    release.resolve();
    await conversation(b).getByText('and end in Bairro Alto.').waitFor();
    await expect.poll(() => answering(b).count()).toBe(0);
    expect(await storedAnswers(user, chatId)).toEqual(['Start at Belém and end in Bairro Alto.']);
    expect((await conversation(b).locator('.answer').textContent()) ?? '').toContain(
      'Start at Belém and end in Bairro Alto.',
    );
    expect(await conversation(b).getByRole('button', { name: 'Edit question' }).isDisabled()).toBe(false);
    expect(upstream.requests).toHaveLength(1);
    expect(browser.problems).toEqual([]);
  });
});

describe('the live connection', () => {
  it('reconnects with a new ticket after the socket closes and resumes after the last event it saw', async () => {
    const user = await createUser(server.app, 'Reconnect');
    const created = await server.app.inject({
      method: 'POST',
      url: `/v1/users/${user.id}/chats`,
      headers: user.headers,
      payload: { title: 'Before the drop' },
    });
    const chatId = created.json<{ id: string }>().id;
    const sockets: WebSocketRoute[] = [];
    const tickets: Route[] = [];
    const secondTicket = deferred<Route>();
    const b = await signedIn(user, async (page) => {
      // The page's sockets pass through to the server; the test can close one as the server would.
      await page.routeWebSocket(/\/events\?/, (socket) => {
        sockets.push(socket);
        socket.connectToServer();
      });
      await page.route('**/events/tickets', async (route) => {
        tickets.push(route);
        if (tickets.length === 2) secondTicket.resolve(route);
        else await route.continue();
      });
    });
    await sidebar(b)
      .getByRole('link', { name: /Before the drop/ })
      .waitFor();
    expect(sockets).toHaveLength(1);

    // Closed as a too-slow reader is: the client asks for a new ticket, held here until the
    // rename is stored, so the rename can only reach it through the replay of what it missed.
    await sockets[0]?.close({ code: 4008, reason: 'slow_consumer' });
    const held = await secondTicket.promise;
    await b.getByRole('status').getByText('Live updates lost: reconnecting…').waitFor();
    await expectAccessible(b);
    const renamed = await server.app.inject({
      method: 'PATCH',
      url: `/v1/users/${user.id}/chats/${chatId}`,
      headers: user.headers,
      payload: { title: 'After the drop' },
    });
    expect(renamed.statusCode).toBe(200);
    await held.continue();
    await liveOn(b);
    await sidebar(b)
      .getByRole('link', { name: /After the drop/ })
      .waitFor();
    expect(await b.evaluate('window.__sameDocument')).toBe(true);

    const urls = sockets.map((socket) => new URL(socket.url()));
    expect(urls).toHaveLength(2);
    // A ticket each time, never the key; the second resumes after the last event the first saw.
    for (const url of urls) {
      expect(url.searchParams.get('ticket')).toMatch(/.+/);
      expect(url.href).not.toContain(user.apiKey);
    }
    expect(urls[0]?.searchParams.get('ticket')).not.toBe(urls[1]?.searchParams.get('ticket'));
    expect(urls[0]?.searchParams.has('after')).toBe(false);
    expect(Number(urls[1]?.searchParams.get('after'))).toBeGreaterThan(0);
    expect(browser.problems).toEqual([]);
  });
});

describe('a resync', () => {
  it('refetches what the page shows when the stream says it cannot replay what was missed', async () => {
    const user = await createUser(server.app, 'Resync');
    const created = await server.app.inject({
      method: 'POST',
      url: `/v1/users/${user.id}/chats`,
      headers: user.headers,
      payload: { title: 'Old title' },
    });
    const chatId = created.json<{ id: string }>().id;
    let pageSide: WebSocketRoute | undefined;
    const dropped = deferred<{ id: number }>();
    const b = await signedIn(user, async (target) => {
      await target.routeWebSocket(/\/events\?/, (socket) => {
        pageSide = socket;
        const upstreamSide = socket.connectToServer();
        // Every frame passes on but the rename's, as if it had been lost with the log.
        upstreamSide.onMessage((message) => {
          const frame = JSON.parse(String(message)) as { id: number; type: string };
          if (frame.type === 'chat.updated') dropped.resolve(frame);
          else socket.send(message);
        });
      });
    });
    await sidebar(b)
      .getByRole('link', { name: /Old title/ })
      .waitFor();
    const renamed = await server.app.inject({
      method: 'PATCH',
      url: `/v1/users/${user.id}/chats/${chatId}`,
      headers: user.headers,
      payload: { title: 'New title' },
    });
    expect(renamed.statusCode).toBe(200);
    const lost = await dropped.promise;
    expect(
      await sidebar(b)
        .getByRole('link', { name: /Old title/ })
        .count(),
    ).toBe(1);
    pageSide?.send(
      JSON.stringify({
        id: lost.id,
        type: 'resync',
        chat_id: null,
        at: new Date().toISOString(),
        data: { last_event_id: lost.id },
      }),
    );
    await sidebar(b)
      .getByRole('link', { name: /New title/ })
      .waitFor();
    expect(await b.evaluate('window.__sameDocument')).toBe(true);
    expect(browser.problems).toEqual([]);
  });
});
