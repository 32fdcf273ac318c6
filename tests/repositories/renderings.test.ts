import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderingsOf } from '../../src/domain/render.js';
import type { Storage } from '../../src/repositories/contract.js';
import {
  answered,
  askAndAnswer,
  at,
  begin,
  engines,
  openStorage,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

/**
 * Stored renderings: what the views concatenate. A final pair carries its JSON and its tree
 * node's; the fragment reads return them in the view's order (null for a pair still
 * running); the backfill renders final pairs that have none.
 */
describe.each(engines)('renderings on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  /** Forgets the stored renderings of a chat's pairs, as a database from before them has none. */
  async function forgetRenderings(chatId: string) {
    const statement = 'UPDATE qa_pairs SET rendered = NULL, rendered_node = NULL WHERE chat_id = ';
    if (opened.database.engine === 'pg') await opened.database.pool.query(`${statement}$1`, [chatId]);
    else opened.database.sqlite.prepare(`${statement}?`).run(chatId);
  }

  async function chatWithPairs() {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const ids = { chatId: chat.id, userId: user.id };
    const first = await askAndAnswer(storage, { ...ids, question: 'First', now: at(1) });
    const second = await askAndAnswer(storage, { ...ids, question: 'Second', now: at(2) });
    const running = await begin(storage, { ...ids, question: 'Running', now: at(3) });
    return { user, chat, first: first.pair, second: second.pair, running: running.pair };
  }

  it('path fragments: the stored JSON of each final pair, first first, null for one still running', async () => {
    const { first, second, running } = await chatWithPairs();
    const fragments = await storage.pairs.listPathFragments(running.id, 10);
    expect(fragments).toEqual([
      { id: first.id, parentId: null, json: renderingsOf(first).rendered },
      { id: second.id, parentId: first.id, json: renderingsOf(second).rendered },
      { id: running.id, parentId: second.id, json: null },
    ]);
    // The latest `limit` of them, as listPath.
    expect((await storage.pairs.listPathFragments(running.id, 2)).map((fragment) => fragment.id)).toEqual([
      second.id,
      running.id,
    ]);
    expect(await storage.pairs.listPathFragments(null, 10)).toEqual([]);
  });

  it('tree fragments: every pair’s stored node in asking order, at most `limit`', async () => {
    const { chat, first, second, running } = await chatWithPairs();
    expect(await storage.pairs.listTreeFragments(chat.id, 10)).toEqual([
      { id: first.id, parentId: null, json: renderingsOf(first).renderedNode },
      { id: second.id, parentId: first.id, json: renderingsOf(second).renderedNode },
      { id: running.id, parentId: second.id, json: null },
    ]);
    expect(await storage.pairs.listTreeFragments(chat.id, 1)).toHaveLength(1);
  });

  it('the backfill renders final pairs that have no rendering, a batch at a time, and leaves running ones', async () => {
    const { chat, first, second, running } = await chatWithPairs();
    // Earlier tests' pairs are rendered already: only this chat's two final pairs lack it.
    await forgetRenderings(chat.id);
    expect((await storage.pairs.find(first.id))?.rendered).toBeNull();
    expect(await storage.pairs.renderMissing(1)).toBe(1);
    expect(await storage.pairs.renderMissing(100)).toBe(1);
    expect(await storage.pairs.renderMissing(100)).toBe(0);
    for (const pair of [first, second]) {
      expect(await storage.pairs.find(pair.id)).toEqual({ ...pair, ...renderingsOf(pair) });
    }
    expect((await storage.pairs.find(running.id))?.rendered).toBeNull();
  });

  it('a pair failed by recovery is rendered live until the backfill stores it', async () => {
    const { running } = await chatWithPairs();
    // SQLite: every unfinished pair is an orphan. PostgreSQL: this storage's own pairs are
    // never its orphans, so the pair is completed as failed the way recovery leaves it.
    if (engine === 'sqlite') {
      expect(await storage.liveness.failOrphans('INTERRUPTED', 'stopped', at(9))).toBeGreaterThanOrEqual(1);
    } else {
      await storage.pairs.complete(running.id, {
        status: 'failed',
        errorCode: 'INTERRUPTED',
        errorMessage: 'stopped',
        partialAnswer: null,
        searchResults: [],
        answeredAt: at(9),
        latencyMs: null,
        model: null,
        upstreamRequestId: null,
      });
      await forgetRenderings(running.chatId);
    }
    const failed = await storage.pairs.find(running.id);
    expect(failed).toMatchObject({ status: 'failed', rendered: null });
    while ((await storage.pairs.renderMissing(100)) > 0);
    const rendered = await storage.pairs.find(running.id);
    if (!failed || !rendered) throw new Error('the pair vanished');
    expect(rendered).toEqual({ ...failed, ...renderingsOf(failed) });
    expect(JSON.parse(rendered.rendered ?? 'null')).toMatchObject({
      status: 'failed',
      error: { code: 'INTERRUPTED', message: 'stopped' },
    });
  });

  it('completing renders the pair as it now is, answer and sources included', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const begun = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
    const sources = [{ url: 'https://example.com/', name: 'Example', snippet: 'x' }];
    const pair = await storage.pairs.complete(begun.pair.id, answered('A <b>', at(2), sources));
    expect(JSON.parse(pair?.rendered ?? 'null')).toEqual({
      id: begun.pair.id,
      parent_id: null,
      question: 'Q',
      answer: 'A <b>',
      search_results: sources,
      status: 'answered',
      error: null,
      created_at: at(1).toISOString(),
      answered_at: at(2).toISOString(),
      provider: 'test',
      model: 'm-1',
      upstream_request_id: 'r-1',
      latency_ms: 12,
      history_turns: 0,
    });
    expect(JSON.parse(pair?.renderedNode ?? 'null')).toEqual({
      id: begun.pair.id,
      parent_id: null,
      question: 'Q',
      answer_preview: 'A <b>',
      status: 'answered',
      created_at: at(1).toISOString(),
    });
  });
});
