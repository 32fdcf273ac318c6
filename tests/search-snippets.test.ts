import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { snippetToHtml } from '../src/services/search.js';
import { ask, createUser, type TestUser } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;

upstream.setHandler((request, res) => {
  const question = (request.body as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
  sendJson(res, 200, {
    answer: `Plain answer about ${question.includes('source') ? 'nothing' : 'walrus'}`,
    search_results: question.includes('source')
      ? [
          {
            url: 'https://example.com/s',
            name: 'Src \u0001<i>x</i>',
            snippet: 'the narwhal \u0001tusk\u0002 \uFDD0 story',
          },
        ]
      : [],
  });
});
useTestApp({ databaseUrl: join(temp.dir, 'search-snippets.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
});

interface Hit {
  qa_pair_id: string | null;
  snippet: string;
  matched_in: string[];
}

async function snippets(q: string): Promise<Hit[]> {
  const response = await app.inject({
    method: 'GET',
    url: `/v1/users/${ada.id}/search?${new URLSearchParams({ q }).toString()}`,
    headers: ada.headers,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ data: Hit[] }>().data;
}

/** Every <mark> is closed, none nests, and each marks a word that starts with `term`. */
function expectMarksOnly(html: string, term: string): void {
  const tags = [...html.matchAll(/<\/?mark>/g)].map((match) => match[0]);
  tags.forEach((tag, index) => expect(tag).toBe(index % 2 === 0 ? '<mark>' : '</mark>'));
  expect(tags.length % 2).toBe(0);
  const marked = [...html.matchAll(/<mark>(.*?)<\/mark>/g)].map((match) => match[1] ?? '');
  expect(marked.length).toBeGreaterThan(0);
  for (const text of marked) expect(text.toLowerCase()).toMatch(new RegExp(`^${term}`));
  // Nothing else in the HTML is markup.
  expect(html.replace(/<\/?mark>/g, '')).not.toMatch(/[<>]/);
}

describe('search snippets', () => {
  it('never marks text that did not match, whatever control characters a question holds', async () => {
    const asked = await ask(app, ada, { question: 'zebra \u0001<b>bold</b>\u0002 crossing' });
    expect(asked.statusCode, asked.body).toBe(200);
    const [hit] = await snippets('zebra');
    expect(hit?.snippet).toContain('<mark>zebra</mark>');
    // Both engines keep text shaped like tags, escaped (PostgreSQL's ts_headline used to drop it).
    expect(hit?.snippet).toContain('&lt;b&gt;bold&lt;/b&gt;');
    expectMarksOnly(hit?.snippet ?? '', 'zebra');
  });

  it('keeps source snippets balanced and unmarked where nothing matched', async () => {
    const asked = await ask(app, ada, { question: 'tell me a source story' });
    expect(asked.statusCode, asked.body).toBe(200);
    const [hit] = await snippets('narwhal');
    expect(hit?.matched_in).toContain('sources');
    expectMarksOnly(hit?.snippet ?? '', 'narwhal');
    expect(hit?.snippet).not.toContain('<mark>tusk');
  });

  it('stores the reserved mark characters as U+FFFD, and rows written before are still balanced', async () => {
    const asked = await ask(app, ada, { question: 'okapi \uFDD0stripes\uFDD1 forest' });
    const pairId = asked.json<{ qa_pair: { id: string; question: string } }>().qa_pair.id;
    expect(asked.json<{ qa_pair: { question: string } }>().qa_pair.question).toBe('okapi \uFFFDstripes\uFFFD forest');
    const [hit] = await snippets('okapi');
    expectMarksOnly(hit?.snippet ?? '', 'okapi');
    // A row an earlier version stored with the characters themselves (and an unclosed mark).
    await queryRows(app, 'UPDATE qa_pairs SET question = ? WHERE id = ?', ['okapi \uFDD0stripes forest', pairId]);
    const [legacy] = await snippets('okapi');
    expect(legacy?.snippet).toContain('<mark>okapi</mark>');
    const tags = [...(legacy?.snippet ?? '').matchAll(/<\/?mark>/g)].map((match) => match[0]);
    expect(tags.filter((tag) => tag === '<mark>').length).toBe(tags.filter((tag) => tag === '</mark>').length);
  });

  it('balances any mark sequence, including a passage cut inside a match', () => {
    expect(snippetToHtml('a \uFDD0match')).toBe('a <mark>match</mark>');
    expect(snippetToHtml('x\uFDD1 \uFDD0a\uFDD0b\uFDD1\uFDD1 <c>')).toBe('x <mark>ab</mark> &lt;c&gt;');
    expect(snippetToHtml('\u0001<b>\u0002')).toBe('\u0001&lt;b&gt;\u0002');
  });
});
