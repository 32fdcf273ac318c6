import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';
import { askVia, echoingUpstream, forkedChatgptConversation } from '../helpers/web-seed.js';

/** Import and export in the web client: uploads with progress and the report, downloads with the key in a header. */

const temp = useTempDir();
const upstream = useFakeUpstream();
beforeEach(() => {
  upstream.reset();
  upstream.setHandler(echoingUpstream);
});
const server = useTestApp({ databaseUrl: join(temp.dir, 'web-transfer.db'), upstream, listen: true });
const browser = useBrowser();

/** A signed-in page that records every URL it requests (the key must be in none). */
async function signedIn(user: TestUser): Promise<{ page: Page; urls: string[] }> {
  const page = await browser.newPage();
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  await page.goto(server.baseUrl);
  await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { page, urls };
}

async function openTransfer(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: 'Import and export' }).click();
  await page.getByRole('heading', { level: 1, name: 'Import and export' }).waitFor();
}

async function importFile(page: Page, name: string, content: string, mimeType = 'application/json'): Promise<void> {
  await page.getByLabel('Export file').setInputFiles({ name, mimeType, buffer: Buffer.from(content) });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
}

const contentOf = async (download: Download) => readFile(await download.path(), 'utf8');

async function apiGet(user: TestUser, url: string) {
  return server.app.inject({ url, headers: user.headers });
}

describe('import and export in the web client', () => {
  it('imports a ChatGPT export with a fork: progress, the per-chat report, the chat on its active branch', async () => {
    const user = await createUser(server.app, 'Chidi');
    const { page, urls } = await signedIn(user);
    await openTransfer(page);
    await expectAccessible(page);
    // Records whether a progress bar was ever shown while the upload ran.
    await page.evaluate(`
      window.__seen = { progress: false };
      new MutationObserver(() => {
        if (document.querySelector('[role="status"] progress')) window.__seen.progress = true;
      }).observe(document.body, { childList: true, subtree: true });
    `);
    const conversations = [forkedChatgptConversation('conv-coffee', 'Coffee drinks', 1_700_000_000)];
    await importFile(page, 'conversations.json', JSON.stringify(conversations));

    const report = page.getByRole('region', { name: 'Import report' });
    await report.waitFor();
    expect(await report.getByText('1 imported, 0 skipped (imported before), 0 failed.').count()).toBe(1);
    const row = report.getByRole('row', { name: /Coffee drinks/ });
    expect(await row.getByRole('cell').allTextContents()).toEqual(['imported', '3', '2']);
    expect(await page.evaluate('window.__seen.progress')).toBe(true);
    await expectAccessible(page);

    // The chat is in the list, and opens on its active branch (ChatGPT's current node: the edit).
    await page
      .getByRole('navigation', { name: 'Chats' })
      .getByRole('link', { name: /Coffee drinks/ })
      .waitFor();
    await row.getByRole('link', { name: 'Coffee drinks' }).click();
    const conversation = page.getByRole('list', { name: 'Conversation' });
    await conversation.getByText('And a cappuccino?', { exact: true }).waitFor();
    expect(await conversation.getByText('How do I make a flat white?', { exact: true }).count()).toBe(1);
    expect(await conversation.getByText('And a cortado?').count()).toBe(0);
    // Both branches were imported.
    const chatId = new URL(page.url()).pathname.split('/').pop() ?? '';
    const branches = (await apiGet(user, `/v1/users/${user.id}/chats/${chatId}/branches`)).json<{ data: unknown[] }>();
    expect(branches.data).toHaveLength(2);

    // The same file again: skipped, and said so.
    await openTransfer(page);
    await importFile(page, 'conversations.json', JSON.stringify(conversations));
    await report.getByText('0 imported, 1 skipped (imported before), 0 failed.').waitFor();
    expect(urls.filter((url) => url.includes(user.apiKey))).toEqual([]);
    expect(browser.problems).toEqual([]);
  });

  it('shows what the server refused in a file that is not an export', async () => {
    const user = await createUser(server.app, 'Broken');
    const { page } = await signedIn(user);
    await openTransfer(page);
    await importFile(page, 'conversations.json', '{ not json');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/\(\w+\)/);
    await expectAccessible(page);
  });

  it('downloads a chat as JSON and as Markdown, and everything as NDJSON that imports again', async () => {
    const user = await createUser(server.app, 'Eleanor');
    const first = await askVia(server.app, user, 'What to see in Lisbon?');
    await askVia(server.app, user, 'And in Sintra?', { chatId: first.chatId });
    const { page, urls } = await signedIn(user);
    await page
      .getByRole('navigation', { name: 'Chats' })
      .getByRole('link', { name: /What to see in Lisbon/ })
      .click();
    const downloads = page.getByRole('group', { name: 'Download this chat' });
    await downloads.waitFor();
    await expectAccessible(page);

    const [json] = await Promise.all([
      page.waitForEvent('download'),
      downloads.getByRole('button', { name: 'Download JSON' }).click(),
    ]);
    expect(json.suggestedFilename()).toBe('What-to-see-in-Lisbon.json');
    const exported = JSON.parse(await contentOf(json)) as { chat: { id: string }; qa_pairs: { question: string }[] };
    const fromApi = (await apiGet(user, `/v1/users/${user.id}/chats/${first.chatId}/export`)).json<typeof exported>();
    expect(exported.chat.id).toBe(first.chatId);
    expect(exported.qa_pairs.map((pair) => pair.question)).toEqual(['What to see in Lisbon?', 'And in Sintra?']);
    expect(exported.qa_pairs).toEqual(fromApi.qa_pairs);

    const [markdown] = await Promise.all([
      page.waitForEvent('download'),
      downloads.getByRole('button', { name: 'Download Markdown' }).click(),
    ]);
    expect(markdown.suggestedFilename()).toBe('What-to-see-in-Lisbon.md');
    const markdownFromApi = await apiGet(user, `/v1/users/${user.id}/chats/${first.chatId}/export?format=markdown`);
    const text = await contentOf(markdown);
    expect(text).toBe(markdownFromApi.body);
    expect(text).toContain('And in Sintra?');
    expect(text).toContain('https://sintra.example.org/guide');

    await openTransfer(page);
    const [all] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all chats (NDJSON)' }).click(),
    ]);
    expect(all.suggestedFilename()).toBe('chats.ndjson');
    const ndjson = await contentOf(all);
    expect(ndjson.trim().split('\n')).toHaveLength(1);
    expect(urls.filter((url) => url.includes(user.apiKey))).toEqual([]);

    // Everything, imported by another user from that file.
    const other = await createUser(server.app, 'Tahani');
    const second = await signedIn(other);
    await openTransfer(second.page);
    await importFile(second.page, 'chats.ndjson', ndjson, 'application/x-ndjson');
    const report = second.page.getByRole('region', { name: 'Import report' });
    await report.getByText('1 imported, 0 skipped (imported before), 0 failed.').waitFor();
    expect(
      await report
        .getByRole('row', { name: /What to see in Lisbon/ })
        .getByRole('cell')
        .allTextContents(),
    ).toEqual(['imported', '2', '1']);
    expect(browser.problems).toEqual([]);
  });
});
