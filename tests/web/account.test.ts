import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';

/**
 * The web client in Chromium against the real app (serving the built client, dist/web) on
 * a loopback port: the start page, signing up and out, a pasted key, and the chats sidebar.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();
const server = useTestApp({ databaseUrl: join(temp.dir, 'web-account.db'), upstream, listen: true });
const browser = useBrowser();

async function openClient(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(server.baseUrl);
  return page;
}

async function signUp(page: Page, name: string): Promise<string> {
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Create account' }).click();
  // The sign-in form has an "API key" field too: read the new key's once it is shown.
  await page.getByRole('heading', { name: 'Your API key' }).waitFor();
  const key = await page.getByLabel('API key', { exact: true }).inputValue();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return key;
}

describe('the start page', () => {
  it('says which chatbot the server runs, and passes axe-core', async () => {
    const page = await openClient();
    await expect.poll(() => page.getByText("You.com's chat API").count()).toBe(1);
    await expectAccessible(page);
    expect(browser.problems).toEqual([]);
  });

  it('signs up, shows the key once, keeps it across a reload, and signs out', async () => {
    const page = await openClient();
    const key = await signUp(page, 'Grace');
    expect(key).toMatch(/\S{20,}/);
    await page.getByText('Signed in as').waitFor();
    expect(await page.getByRole('navigation', { name: 'Chats' }).getByText('Grace').count()).toBe(1);
    await expectAccessible(page);

    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('window.localStorage.length')).toBe(0);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(browser.problems).toEqual([]);
  });

  it('signs out by itself when the kept key is refused', async () => {
    const page = await openClient();
    await page.evaluate(
      `localStorage.setItem('chat-history.session', JSON.stringify({ apiKey: 'revoked-key', user: { id: '0b6f7b8e-3f8e-4a57-9a53-2c1c1c1c1c1c', name: 'Gone', created_at: '2026-01-01T00:00:00.000Z' } }))`,
    );
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('fits a phone: nothing wider than the screen, on the start page and signed in', async () => {
    const page = await openClient();
    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await signUp(page, 'A name long enough to need wrapping on a small phone screen');
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.getByLabel('Question').waitFor();
    await expectAccessible(page);
  });

  it('signs in with a pasted key, and refuses a wrong one with a message', async () => {
    const ada = await createUser(server.app, 'Ada');
    const page = await openClient();
    await page.getByLabel('API key', { exact: true }).fill('not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/UNAUTHORIZED|key/i);

    await page.getByLabel('API key', { exact: true }).fill(ada.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as').waitFor();
    expect(await page.getByRole('navigation', { name: 'Chats' }).getByText('Ada').count()).toBe(1);
    // The key never shows up in an address.
    expect(page.url()).not.toContain(ada.apiKey);
  });
});

describe('the chats sidebar', () => {
  it('creates, renames and deletes (after a confirmation) a chat', async () => {
    const page = await openClient();
    await signUp(page, 'Lin');
    const chats = page.getByRole('navigation', { name: 'Chats' });
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    expect(page.url()).toMatch(/\/chats\/[0-9a-f-]{36}$/);
    await chats.getByRole('link', { name: /New chat/ }).waitFor();
    await expectAccessible(page);

    await chats.getByRole('button', { name: 'Rename New chat' }).click();
    await page.getByLabel('New title').fill('Trip to Lisbon');
    await page.getByLabel('New title').press('Enter');
    await chats.getByRole('link', { name: /Trip to Lisbon/ }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Trip to Lisbon' }).waitFor();

    await chats.getByRole('button', { name: 'Delete Trip to Lisbon' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “Trip to Lisbon”?' });
    await dialog.waitFor();
    await expectAccessible(page);
    // Cancel first: nothing is deleted.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await chats.getByRole('link', { name: /Trip to Lisbon/ }).count()).toBe(1);
    await chats.getByRole('button', { name: 'Delete Trip to Lisbon' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete chat' }).click();
    await page.getByText('No chats yet.').waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(browser.problems).toEqual([]);
  });

  it("edits a chat's settings, offering only those the provider uses", async () => {
    const page = await openClient();
    await signUp(page, 'Set');
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('button', { name: 'Chat settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Chat settings' });
    await dialog.waitFor();
    await expectAccessible(page);
    // You.com takes instructions but no model.
    expect(await dialog.getByLabel('Model').count()).toBe(0);
    await dialog.getByLabel('System prompt').fill('Answer in French.');
    await dialog.getByLabel('Earlier answers sent as history').fill('5');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    const chatId = new URL(page.url()).pathname.split('/').pop() ?? '';
    const key = String(await page.evaluate('JSON.parse(localStorage.getItem("chat-history.session")).apiKey'));
    const me = (await server.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${key}` } })).json<{
      id: string;
    }>();
    const chat = await server.app.inject({
      url: `/v1/users/${me.id}/chats/${chatId}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(chat.json<{ settings: unknown }>().settings).toEqual({
      system_prompt: 'Answer in French.',
      model: null,
      history_max_turns: 5,
    });
  });

  it('loads older chats page by page as the list scrolls, newest first', async () => {
    const user = await createUser(server.app, 'Many');
    for (let index = 1; index <= 35; index += 1) {
      await server.app.inject({
        method: 'POST',
        url: `/v1/users/${user.id}/chats`,
        headers: user.headers,
        payload: { title: `Chat ${String(index).padStart(2, '0')}` },
      });
    }
    const page = await openClient();
    await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const links = page.getByRole('navigation', { name: 'Chats' }).getByRole('listitem').getByRole('link');
    await links.first().waitFor();
    expect(await links.first().textContent()).toContain('Chat 35');
    await links.last().scrollIntoViewIfNeeded();
    await page.getByRole('link', { name: 'Chat 01' }).scrollIntoViewIfNeeded();
    await expect.poll(() => links.count()).toBe(35);
    expect(await links.last().textContent()).toContain('Chat 01');
  });
});
