import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { sendJson, startSse, writeSse } from '../helpers/fake-upstream.js';
import { deferred } from '../helpers/sse-client.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';

/** Asking in the web client: streamed answers, sources, Markdown, failures and retries, hostile answers. */

const temp = useTempDir();
const upstream = useFakeUpstream();
beforeEach(() => upstream.reset());
const server = useTestApp({ databaseUrl: join(temp.dir, 'web-ask.db'), upstream, listen: true });
const browser = useBrowser();

/** A page signed in as a new user, with a new chat open. */
async function openChat(name: string): Promise<{ page: Page; user: TestUser }> {
  const user = await createUser(server.app, name);
  const page = await browser.newPage();
  await page.goto(server.baseUrl);
  await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
  return { page, user };
}

async function askInPage(page: Page, question: string): Promise<void> {
  await page.getByLabel('Question').fill(question);
  await page.getByLabel('Question').press('Enter');
}

const conversation = (page: Page) => page.getByRole('list', { name: 'Conversation' });

describe('asking in the web client', () => {
  it('shows tokens as they stream, before the upstream has finished, then sources and Markdown', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, [{ url: 'https://example.com/lisbon', name: 'Lisbon guide', snippet: 'Trams' }], 'search_results');
      writeSse(res, 'Take **tram 28** ', 'token');
      await release.promise; // nothing more until the page has shown the first token
      // JSON-encoded, as You.com sends tokens: the new lines stay inside one SSE line.
      writeSse(res, { token: 'and see [Alfama](https://example.com/alfama).\n\n```js\nconst day = 1;\n```' }, 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const { page } = await openChat('Stream');
    await askInPage(page, 'What to see in Lisbon?');
    // The question shows at once, and the first token while the upstream still holds back.
    await conversation(page).getByText('What to see in Lisbon?').waitFor();
    await conversation(page).getByText('tram 28').waitFor();
    expect(await conversation(page).getByRole('status').textContent()).toContain('Answering');
    expect(upstream.requests).toHaveLength(1);
    release.resolve();

    const link = conversation(page).getByRole('link', { name: 'Alfama' });
    await link.waitFor();
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toContain('noopener');
    expect(await conversation(page).locator('strong', { hasText: 'tram 28' }).count()).toBe(1);
    const sources = page.getByRole('region', { name: 'Sources' });
    expect(await sources.getByRole('link', { name: /Lisbon guide/ }).getAttribute('href')).toBe(
      'https://example.com/lisbon',
    );
    // The code block is highlighted and can be copied.
    await conversation(page).locator('pre code.hljs').waitFor();
    await conversation(page).getByRole('button', { name: 'Copy code' }).click();
    await conversation(page).getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe('const day = 1;\n');
    // Once stored, the chat is titled after the question.
    await page
      .getByRole('navigation', { name: 'Chats' })
      .getByRole('link', { name: /What to see in Lisbon/ })
      .waitFor();
    await expect.poll(() => conversation(page).getByRole('status').count()).toBe(0);
    await expectAccessible(page);
    expect(browser.problems).toEqual([]);
  });

  it('Shift+Enter starts a new line instead of sending', async () => {
    const { page } = await openChat('Lines');
    await page.getByLabel('Question').fill('first line');
    await page.getByLabel('Question').press('Shift+Enter');
    await page.getByLabel('Question').pressSequentially('second line');
    expect(await page.getByLabel('Question').inputValue()).toBe('first line\nsecond line');
    expect(upstream.requests).toHaveLength(0);
  });

  it('shows a failed answer with its error and a Retry, keeping the question, and the retry answers', async () => {
    upstream.enqueue((_request, res) => sendJson(res, 500, { error: 'upstream exploded' }));
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Second time lucky.', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const { page } = await openChat('Retry');
    await askInPage(page, 'Will this work?');
    const alert = conversation(page).getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/UPSTREAM/);
    expect(await conversation(page).getByText('Will this work?').count()).toBe(1);
    await expectAccessible(page);

    await alert.getByRole('button', { name: 'Retry' }).click();
    await conversation(page).getByText('Second time lucky.').waitFor();
    await expect.poll(() => conversation(page).getByRole('alert').count()).toBe(0);
    expect(await conversation(page).getByText('Will this work?').count()).toBe(1);
    expect(upstream.requests).toHaveLength(2);
    expect(JSON.stringify(upstream.messagesOf(1))).toContain('Will this work?');
  });

  it('executes nothing of an answer holding HTML: no script runs, no element is made from it', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Look: <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2">', 'token');
      writeSse(res, ' [click](javascript:window.__pwned=3) <iframe src="https://example.com"></iframe>', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const { page } = await openChat('Hostile');
    await askInPage(page, 'Say something nasty');
    await conversation(page).getByText('Look:').waitFor();
    await expect.poll(() => conversation(page).getByRole('status').count()).toBe(0);
    const answer = conversation(page).locator('.answer');
    expect(await answer.locator('script, img, iframe').count()).toBe(0);
    // The javascript: link lost its address (react-markdown's URL filter).
    const link = answer.getByRole('link', { name: 'click' });
    expect(await link.getAttribute('href')).not.toMatch(/javascript/i);
    await link.click();
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(browser.problems.filter((problem) => /pwned/.test(problem))).toEqual([]);
  });
});
