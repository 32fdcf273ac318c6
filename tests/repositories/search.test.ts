import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchHit, SearchTerm } from '../../src/domain/search.js';
import type { StoredSearchResult, UserRow } from '../../src/domain/types.js';
import type { Storage } from '../../src/repositories/contract.js';
import {
  after,
  askAndAnswer,
  at,
  begin,
  engines,
  openStorage,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

const word = (text: string): SearchTerm[] => [{ text, prefix: false }];
const source = (url: string): StoredSearchResult => ({ url, name: 'A source', snippet: 'cited' });
/** Hits as (chat, pair) pairs, order aside: ranking is not what these tests are about. */
const places = (hits: SearchHit[]) => hits.map((hit) => `${hit.chatId}/${hit.qaPairId ?? 'title'}`).sort();
const place = (chatId: string, pairId: string | null) => `${chatId}/${pairId ?? 'title'}`;

/**
 * SearchStore scoping: whatever the engine's index, one user's search never reaches
 * another user's pairs or titles, and the chat and cited-site filters hold. The data goes
 * in through beginAsk and complete (and import), so the index is the one the engine's
 * triggers keep.
 */
describe.each(engines)('search on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  const page = { limit: 50, offset: 0 };

  async function chatOf(user: UserRow, title: string) {
    return (await seedChat(storage, user, { title })).chat;
  }

  describe('text search', () => {
    it('finds only the searching user’s pairs and titles, in every chat or in one', async () => {
      const ada = await seedUser(storage);
      const bob = await seedUser(storage, 'Bob');
      const first = await chatOf(ada, 'Marsupials');
      const second = await chatOf(ada, 'Quokka diet');
      const bobs = await chatOf(bob, 'Quokka notes');
      const a1 = await askAndAnswer(storage, {
        chatId: first.id,
        userId: ada.id,
        question: 'Where does the quokka live?',
        answer: 'On Rottnest Island.',
        now: at(1),
      });
      const a2 = await askAndAnswer(storage, {
        chatId: second.id,
        userId: ada.id,
        question: 'What does it eat?',
        answer: 'A quokka eats leaves.',
        now: at(2),
      });
      for (const [minute, question] of ['How big is a quokka?', 'Is a quokka friendly?'].entries()) {
        await askAndAnswer(storage, {
          chatId: bobs.id,
          userId: bob.id,
          question,
          answer: 'A quokka.',
          now: at(minute),
        });
      }

      expect(places(await storage.search.search(word('quokka'), { userId: ada.id, ...page }))).toEqual(
        [place(first.id, a1.pair.id), place(second.id, a2.pair.id), place(second.id, null)].sort(),
      );
      expect(
        places(await storage.search.search(word('quokka'), { userId: ada.id, chatId: first.id, ...page })),
      ).toEqual([place(first.id, a1.pair.id)]);
      // Another user's chat id as a filter finds nothing of theirs.
      expect(await storage.search.search(word('quokka'), { userId: ada.id, chatId: bobs.id, ...page })).toEqual([]);
      expect(places(await storage.search.search(word('quokka'), { userId: bob.id, ...page }))).toHaveLength(3);
    });

    it('indexes the answer when the ask completes, and forgets pairs deleted with their branch or chat', async () => {
      const user = await seedUser(storage);
      const chat = await chatOf(user, 'Animals');
      const ids = { chatId: chat.id, userId: user.id };
      const kept = await askAndAnswer(storage, { ...ids, question: 'First', answer: 'Kept wombat', now: at(1) });
      const pending = await begin(storage, { ...ids, question: 'Second', now: at(2) });
      const search = (text: string) => storage.search.search(word(text), { userId: user.id, ...page });
      expect(await search('numbat')).toEqual([]);
      await storage.pairs.complete(pending.pair.id, {
        status: 'answered',
        answer: 'A numbat eats termites.',
        searchResults: [],
        answeredAt: at(3),
        latencyMs: null,
        model: null,
        upstreamRequestId: null,
      });
      expect(places(await search('numbat'))).toEqual([place(chat.id, pending.pair.id)]);

      const side = await askAndAnswer(storage, {
        ...ids,
        placement: after(kept.pair.id, 'always'),
        question: 'Side bilby',
        now: at(4),
      });
      expect(places(await search('bilby'))).toEqual([place(chat.id, side.pair.id)]);
      await storage.branches.delete({ chatId: chat.id, branchId: side.branchId });
      expect(await search('bilby')).toEqual([]);

      await storage.chats.delete(chat.id);
      expect(await search('wombat')).toEqual([]);
      expect(await search('numbat')).toEqual([]);
    });

    it('sees every committed write the instant it returns, whatever the background indexer has done', async () => {
      const user = await seedUser(storage);
      const chat = await chatOf(user, 'Rivers');
      const ids = { chatId: chat.id, userId: user.id };
      const first = await askAndAnswer(storage, { ...ids, question: 'Where is the Danube?', now: at(1) });
      const second = await askAndAnswer(storage, { ...ids, question: 'Is the Danube long?', now: at(2) });
      const search = () => storage.search.search(word('danube'), { userId: user.id, ...page });
      if (engine === 'sqlite') {
        // The asks only noted their pairs: the indexer takes them a batch at a time...
        expect(await storage.search.indexPending(1)).toBe(1);
      } else {
        // ...while PostgreSQL indexes inside each write's transaction: never a backlog.
        expect(await storage.search.indexPending(1)).toBe(0);
      }
      // ...and a search indexes whatever is left before it runs.
      expect(places(await search())).toEqual([place(chat.id, first.pair.id), place(chat.id, second.pair.id)].sort());
      expect(await storage.search.indexPending(100)).toBe(0);
      const third = await askAndAnswer(storage, { ...ids, question: 'Does the Danube freeze?', now: at(3) });
      expect(places(await search())).toContain(place(chat.id, third.pair.id));
    });

    it('finds imported pairs, for the importing user only', async () => {
      const user = await seedUser(storage);
      const other = await seedUser(storage, 'Bob');
      const imported = await storage.transfer.importChat({
        userId: user.id,
        newId: randomUUID,
        chat: {
          sourceId: 'chatgpt:search',
          title: 'Imported',
          createdAt: at(1),
          updatedAt: at(1),
          settings: {},
          activeBranchKey: 'b',
          branches: [{ key: 'b', name: 'main', forkKey: null, headKey: 'p', createdAt: at(1), updatedAt: at(1) }],
          pairs: [
            {
              key: 'p',
              parentKey: null,
              question: 'About the platypus',
              answer: 'It lays eggs.',
              searchResults: [],
              status: 'answered',
              errorCode: null,
              errorMessage: null,
              createdAt: at(1),
              answeredAt: at(1),
              provider: 'chatgpt',
              model: null,
              upstreamRequestId: null,
              historyTurns: 0,
              latencyMs: null,
            },
          ],
        },
      });
      if (imported.status !== 'imported') throw new Error(imported.status);
      const [pair] = await storage.pairs.listOfChat(imported.chat.id, 1);
      expect(places(await storage.search.search(word('platypus'), { userId: user.id, ...page }))).toEqual([
        place(imported.chat.id, pair?.id ?? ''),
      ]);
      expect(await storage.search.search(word('platypus'), { userId: other.id, ...page })).toEqual([]);
    });
  });

  describe('cited sites', () => {
    async function citingPairs() {
      const ada = await seedUser(storage);
      const bob = await seedUser(storage, 'Bob');
      const chat = await chatOf(ada, 'Sources');
      const other = await chatOf(ada, 'More sources');
      const cite = async (chatId: string, userId: string, url: string, minute: number) =>
        (
          await askAndAnswer(storage, {
            chatId,
            userId,
            question: `Echidna question ${minute}`,
            answer: 'Echidna answer',
            searchResults: [source(url)],
            now: at(minute),
          })
        ).pair;
      const upper = await cite(chat.id, ada.id, 'https://WWW.Example.COM:8443/path?q=1', 1);
      const sub = await cite(chat.id, ada.id, 'https://docs.example.com/page', 2);
      await cite(chat.id, ada.id, 'https://notexample.com/', 3);
      await cite(chat.id, ada.id, 'https://example.com.evil.net/', 4);
      const elsewhere = await cite(other.id, ada.id, 'https://example.com/', 5);
      const bobs = (await chatOf(bob, 'Bob cites too')).id;
      await cite(bobs, bob.id, 'https://example.com/bob', 6);
      return { ada, chat, other, upper, sub, elsewhere };
    }

    it('listCiting: the user’s pairs citing the site or a subdomain of it, newest first', async () => {
      const { ada, chat, upper, sub, elsewhere } = await citingPairs();
      const citing = await storage.search.listCiting({ userId: ada.id, domain: 'example.com', ...page });
      expect(citing.map((hit) => hit.qaPairId)).toEqual([elsewhere.id, sub.id, upper.id]);
      expect(citing[0]).toMatchObject({ createdAt: at(5), score: null, chatTitle: 'More sources' });
      const inChat = await storage.search.listCiting({
        userId: ada.id,
        chatId: chat.id,
        domain: 'example.com',
        ...page,
      });
      expect(inChat.map((hit) => hit.qaPairId)).toEqual([sub.id, upper.id]);
      const subOnly = await storage.search.listCiting({ userId: ada.id, domain: 'docs.example.com', ...page });
      expect(subOnly.map((hit) => hit.qaPairId)).toEqual([sub.id]);
    });

    it('matches the site literally: LIKE wildcards in it match nothing', async () => {
      const { ada } = await citingPairs();
      for (const domain of ['%', 'ex_mple.com', '%.com', 'example.c_m']) {
        expect(await storage.search.listCiting({ userId: ada.id, domain, ...page }), domain).toEqual([]);
      }
    });

    it('search with a site filter: the matches that cite it, in that user’s pairs only', async () => {
      const { ada, upper, sub, elsewhere } = await citingPairs();
      const hits = await storage.search.search(word('echidna'), { userId: ada.id, domain: 'example.com', ...page });
      expect(hits.map((hit) => hit.qaPairId).sort()).toEqual([upper.id, sub.id, elsewhere.id].sort());
    });
  });
});
