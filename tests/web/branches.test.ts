import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { ask, createUser, type TestUser } from '../helpers/app.js';
import { expectAccessible, useBrowser } from '../helpers/browser.js';
import { sendJson } from '../helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from '../helpers/suite.js';

/**
 * Branches in the web client: the sibling switcher after an edit and a regeneration, the
 * branch menu, the tree, forking into a new chat, and "what will be sent". Each checks
 * through the API that the chat's active branch followed what the page shows.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();
/** Every answer is numbered in asking order, so the page shows which one it holds. */
let answered = 0;
beforeEach(() => {
  upstream.reset();
  answered = 0;
  upstream.setHandler((_request, res) => {
    answered += 1;
    sendJson(res, 200, { answer: `reply ${answered}`, search_results: [] });
  });
});
const server = useTestApp({ databaseUrl: join(temp.dir, 'web-branches.db'), upstream, listen: true });
const browser = useBrowser();

interface ChatState {
  active_branch_id: string | null;
  branch_count: number;
  qa_pairs: { id: string; question: string; answer: string | null; parent_id: string | null }[];
}

async function chatOf(user: TestUser, chatId: string): Promise<ChatState> {
  const response = await server.app.inject({ url: `/v1/users/${user.id}/chats/${chatId}`, headers: user.headers });
  expect(response.statusCode).toBe(200);
  return response.json<ChatState>();
}

async function branchesOf(user: TestUser, chatId: string) {
  const response = await server.app.inject({
    url: `/v1/users/${user.id}/chats/${chatId}/branches`,
    headers: user.headers,
  });
  return response.json<{ data: { id: string; name: string | null; active: boolean; head_qa_pair_id: string }[] }>()
    .data;
}

/** Asks through the API; returns the pair's id. */
async function askApi(user: TestUser, chatId: string, question: string, parentId?: string | null) {
  const response = await ask(server.app, user, {
    chat_id: chatId,
    question,
    ...(parentId === undefined ? {} : { parent_id: parentId }),
  });
  expect(response.statusCode).toBe(200);
  return response.json<{ qa_pair: { id: string }; branch_id: string }>();
}

/** A user with a chat holding `questions`, asked one after the other through the API. */
async function seededChat(name: string, questions: string[]) {
  const user = await createUser(server.app, name);
  const created = await server.app.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats`,
    headers: user.headers,
    payload: { title: `${name}'s chat` },
  });
  const chatId = created.json<{ id: string }>().id;
  const pairs: string[] = [];
  for (const question of questions) pairs.push((await askApi(user, chatId, question)).qa_pair.id);
  return { user, chatId, pairs };
}

/** A page signed in as `user`, showing the chat. */
async function openChat(user: TestUser, chatId: string, title: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(server.baseUrl);
  await page.getByLabel('API key', { exact: true }).fill(user.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.goto(`${server.baseUrl}/chats/${chatId}`);
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  return page;
}

const conversation = (page: Page) => page.getByRole('list', { name: 'Conversation' });
const exchange = (page: Page, index: number) => conversation(page).getByRole('listitem').nth(index);
const alternatives = (item: Locator) => item.getByRole('group', { name: 'Alternatives' });
/** The name of the focused element, as the tests name controls. */
const focusedName = async (page: Page): Promise<string> =>
  String(
    await page.evaluate(
      "document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim() ?? ''",
    ),
  );

/** Presses Tab until the control named `name` has the focus (at most 40 times). */
async function tabTo(page: Page, name: string): Promise<void> {
  for (let step = 0; step < 40; step += 1) {
    if ((await focusedName(page)) === name) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${name}`);
}

describe('alternatives of a pair', () => {
  it('an edit and a regeneration each fork a sibling; ‹ › moves between them and the active branch follows', async () => {
    const { user, chatId } = await seededChat('Edith', ['First question', 'Second question']);
    const original = (await chatOf(user, chatId)).active_branch_id;
    const page = await openChat(user, chatId, "Edith's chat");
    await conversation(page).getByText('reply 2').waitFor();
    expect(await alternatives(exchange(page, 0)).count()).toBe(0);

    // Edit the first question: it is asked in its place, and what followed it is left on the old branch.
    await exchange(page, 0).getByRole('button', { name: 'Edit question' }).click();
    await exchange(page, 0).getByLabel('Edited question').fill('First question, edited');
    await exchange(page, 0).getByRole('button', { name: 'Send edited question' }).click();
    await conversation(page).getByText('reply 3').waitFor();
    await alternatives(exchange(page, 0)).getByText('2 / 2').waitFor();
    expect(await conversation(page).getByText('Second question').count()).toBe(0);
    let chat = await chatOf(user, chatId);
    expect(chat.active_branch_id).not.toBe(original);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['First question, edited']);
    expect(upstream.requests).toHaveLength(3);

    // Regenerate it: a third sibling, the same question.
    await exchange(page, 0).getByRole('button', { name: 'Regenerate' }).click();
    await conversation(page).getByText('reply 4').waitFor();
    await alternatives(exchange(page, 0)).getByText('3 / 3').waitFor();
    chat = await chatOf(user, chatId);
    expect(chat.branch_count).toBe(3);
    expect(chat.qa_pairs.map((pair) => [pair.question, pair.answer])).toEqual([['First question, edited', 'reply 4']]);
    const regenerated = chat.active_branch_id;
    await expectAccessible(page);

    // Back one: the edit's answer, and the active branch is the edit's.
    await alternatives(exchange(page, 0)).getByRole('button', { name: 'Previous answer' }).click();
    await alternatives(exchange(page, 0)).getByText('2 / 3').waitFor();
    await conversation(page).getByText('reply 3').waitFor();
    expect(await conversation(page).getByText('reply 4').count()).toBe(0);
    chat = await chatOf(user, chatId);
    expect(chat.active_branch_id).not.toBe(regenerated);
    expect(chat.qa_pairs.map((pair) => pair.answer)).toEqual(['reply 3']);

    // Back to the first: the original branch, its second question with it again.
    await alternatives(exchange(page, 0)).getByRole('button', { name: 'Previous answer' }).click();
    await alternatives(exchange(page, 0)).getByText('1 / 3').waitFor();
    await conversation(page).getByText('Second question').waitFor();
    chat = await chatOf(user, chatId);
    expect(chat.active_branch_id).toBe(original);
    expect(chat.qa_pairs.map((pair) => pair.answer)).toEqual(['reply 1', 'reply 2']);

    // Forward to the last again.
    await alternatives(exchange(page, 0)).getByRole('button', { name: 'Next answer' }).click();
    await alternatives(exchange(page, 0)).getByRole('button', { name: 'Next answer' }).click();
    await conversation(page).getByText('reply 4').waitFor();
    await expect.poll(async () => (await chatOf(user, chatId)).active_branch_id).toBe(regenerated);
    expect(upstream.requests).toHaveLength(4);
    expect(browser.problems).toEqual([]);
  });

  it('a regeneration of the last answer keeps the questions before it', async () => {
    const { user, chatId } = await seededChat('Regina', ['Alpha', 'Beta']);
    const page = await openChat(user, chatId, "Regina's chat");
    await exchange(page, 1).getByRole('button', { name: 'Regenerate' }).click();
    await conversation(page).getByText('reply 3').waitFor();
    await alternatives(exchange(page, 1)).getByText('2 / 2').waitFor();
    expect(await alternatives(exchange(page, 0)).count()).toBe(0);
    const chat = await chatOf(user, chatId);
    expect(chat.qa_pairs.map((pair) => [pair.question, pair.answer])).toEqual([
      ['Alpha', 'reply 1'],
      ['Beta', 'reply 3'],
    ]);
    // The upstream got the same history as the first time: Alpha and its answer, then Beta.
    expect(JSON.stringify(upstream.requests[2]?.body)).toContain('reply 1');
    expect(JSON.stringify(upstream.requests[2]?.body)).not.toContain('reply 2');
  });

  it('forks into a new chat holding the path up to a pair', async () => {
    const { user, chatId } = await seededChat('Fiona', ['One', 'Two', 'Three']);
    const page = await openChat(user, chatId, "Fiona's chat");
    await exchange(page, 1).getByRole('button', { name: 'Fork into a new chat' }).click();
    await page.waitForURL((url) => url.pathname !== `/chats/${chatId}`);
    const forkId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    await conversation(page).getByText('reply 2').waitFor();
    expect(await conversation(page).getByText('Three').count()).toBe(0);
    const fork = await chatOf(user, forkId);
    expect(fork.qa_pairs.map((pair) => pair.question)).toEqual(['One', 'Two']);
    expect((await chatOf(user, chatId)).qa_pairs).toHaveLength(3);
  });
});

describe('the branch menu', () => {
  it('lists, renames, switches and deletes (with confirmation) branches', async () => {
    const { user, chatId, pairs } = await seededChat('Brenda', ['Root question', 'Left follow-up']);
    await askApi(user, chatId, 'Right follow-up', pairs[0]);
    await askApi(user, chatId, 'Another start', null);
    const page = await openChat(user, chatId, "Brenda's chat");
    await conversation(page).getByText('Another start').waitFor();

    await page.getByRole('button', { name: 'Branches (3)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Branches' });
    const items = dialog.getByRole('list', { name: 'Branches of this chat' }).getByRole('listitem');
    await expect.poll(() => items.count()).toBe(3);
    expect(await items.nth(2).textContent()).toContain('shown');
    await expectAccessible(page);

    // Rename the first (the chat's first branch is called main).
    await dialog.getByRole('button', { name: 'Rename main' }).click();
    await dialog.getByLabel('New name for main').fill('left side');
    await dialog.getByRole('button', { name: 'Save name' }).click();
    await dialog.getByRole('button', { name: 'Open left side' }).waitFor();
    const named = (await branchesOf(user, chatId)).find((branch) => branch.name === 'left side');
    expect(named).toBeDefined();

    // Open it: the dialog closes, the page and the API show it.
    await dialog.getByRole('button', { name: 'Open left side' }).click();
    await dialog.waitFor({ state: 'detached' });
    await conversation(page).getByText('Left follow-up').waitFor();
    expect((await chatOf(user, chatId)).active_branch_id).toBe(named?.id);

    // Delete the third after confirming; cancelling first changes nothing.
    await page.getByRole('button', { name: 'Branches (3)' }).click();
    await dialog.getByRole('button', { name: 'Delete Branch 3' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Branch 3?' });
    await expectAccessible(page);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await branchesOf(user, chatId)).toHaveLength(3);
    await dialog.getByRole('button', { name: 'Delete Branch 3' }).click();
    await confirm.getByRole('button', { name: 'Delete branch' }).click();
    await expect.poll(() => items.count()).toBe(2);
    expect((await branchesOf(user, chatId)).map((branch) => branch.name)).toEqual(['left side', null]);

    // Delete the shown one: the other becomes active, in the page and the API.
    await dialog.getByRole('button', { name: 'Delete left side' }).click();
    await page
      .getByRole('dialog', { name: 'Delete left side?' })
      .getByRole('button', { name: 'Delete branch' })
      .click();
    await expect.poll(() => items.count()).toBe(1);
    expect(await dialog.getByRole('button', { name: /^Delete/ }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await conversation(page).getByText('Right follow-up').waitFor();
    const remaining = await branchesOf(user, chatId);
    expect(remaining).toHaveLength(1);
    expect((await chatOf(user, chatId)).active_branch_id).toBe(remaining[0]?.id);
    expect(browser.problems).toEqual([]);
  });
});

describe('the conversation tree', () => {
  it('shows every question, marks the shown branch, and opens the branch of a clicked node', async () => {
    const { user, chatId, pairs } = await seededChat('Trevor', ['Trunk', 'Old leaf']);
    await askApi(user, chatId, 'New leaf', pairs[0]);
    const page = await openChat(user, chatId, "Trevor's chat");
    await conversation(page).getByText('New leaf').waitFor();

    await page.getByRole('button', { name: 'Conversation tree' }).click();
    const dialog = page.getByRole('dialog', { name: 'Conversation tree' });
    const tree = dialog.getByRole('group', { name: 'Questions of this chat' });
    await tree.getByRole('button', { name: /Old leaf/ }).waitFor();
    expect(await tree.getByRole('button').count()).toBe(3);
    expect(await tree.getByRole('button', { name: /New leaf/ }).getAttribute('aria-current')).toBe('true');
    expect(await tree.getByRole('button', { name: /Trunk/ }).getAttribute('aria-current')).toBe('true');
    expect(await tree.getByRole('button', { name: /Old leaf/ }).getAttribute('aria-current')).toBeNull();
    await expectAccessible(page);

    await tree.getByRole('button', { name: /Old leaf/ }).click();
    await dialog.waitFor({ state: 'detached' });
    await conversation(page).getByText('Old leaf').waitFor();
    expect(await conversation(page).getByText('New leaf').count()).toBe(0);
    const chat = await chatOf(user, chatId);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Trunk', 'Old leaf']);
    expect(chat.qa_pairs[1]?.id).toBe(pairs[1]);
  });
});

describe('what will be sent', () => {
  it("shows the context route's payload, holding the earlier turns", async () => {
    const { user, chatId } = await seededChat('Connie', ['Where is Lisbon?', 'And Porto?']);
    const page = await openChat(user, chatId, "Connie's chat");
    await page.getByRole('button', { name: 'What will be sent' }).click();
    const dialog = page.getByRole('dialog', { name: 'What will be sent' });
    const payload = dialog.getByLabel('Request body');
    await payload.getByText(/Where is Lisbon/).waitFor();
    const shown: unknown = JSON.parse((await payload.textContent()) ?? '');
    const context = await server.app.inject({
      url: `/v1/users/${user.id}/chats/${chatId}/context`,
      headers: user.headers,
    });
    expect(shown).toEqual(context.json<{ body: unknown }>().body);
    for (const text of ['Where is Lisbon?', 'reply 1', 'And Porto?', 'reply 2']) {
      expect(await payload.textContent()).toContain(text);
    }
    expect(await dialog.textContent()).toContain('2 earlier turns');
    await expectAccessible(page);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });
});

describe('keyboard only', () => {
  it('walks the sibling switcher and the branch menu with Tab, Enter and Escape', async () => {
    const { user, chatId } = await seededChat('Kim', ['Keys']);
    await askApi(user, chatId, 'Keys', null);
    const branches = await branchesOf(user, chatId);
    const page = await openChat(user, chatId, "Kim's chat");
    await alternatives(exchange(page, 0)).getByText('2 / 2').waitFor();

    // The switcher: Enter moves, and the focus stays on the button.
    await tabTo(page, 'Previous answer');
    await page.keyboard.press('Enter');
    await alternatives(exchange(page, 0)).getByText('1 / 2').waitFor();
    await conversation(page).getByText('reply 1').waitFor();
    expect(await focusedName(page)).toBe('Previous answer');
    expect((await chatOf(user, chatId)).active_branch_id).toBe(branches[0]?.id);
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Next answer');
    await page.keyboard.press('Enter');
    await alternatives(exchange(page, 0)).getByText('2 / 2').waitFor();
    await expect.poll(async () => (await chatOf(user, chatId)).active_branch_id).toBe(branches[1]?.id);

    // The branch menu: Enter opens it, Escape closes it and gives the focus back.
    await tabTo(page, 'Branches (2)');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Branches' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focusedName(page)).toBe('Branches (2)');

    // Again, and open the first branch from it.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await tabTo(page, 'Open main');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await conversation(page).getByText('reply 1').waitFor();
    expect((await chatOf(user, chatId)).active_branch_id).toBe(branches[0]?.id);
  });
});
