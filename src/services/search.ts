import { badRequest } from '../domain/errors.js';
import { InvalidSearchQuery, type Storage } from '../repositories/contract.js';
import { MARK_CLOSE, MARK_OPEN, type SearchHit } from '../domain/search.js';
import type { AccessService, Actor } from './access.js';
import { findOwnedChat, type ChatStores } from './chats.js';
import { isStorableDate } from '../domain/dates.js';
import { normalizeDomain, toSearchTerms } from './search-query.js';
import { indexTree } from '../domain/tree.js';
import { SEARCH_MAX_OFFSET } from '../domain/limits.js';
import type { SearchResultItem } from '../domain/views.js';

export interface SearchInput {
  q?: string;
  chatId?: string;
  since?: Date;
  until?: Date;
  source?: string;
  limit: number;
  cursor?: string;
}

const encodeOffset = (offset: number) => Buffer.from(`o:${offset}`, 'utf8').toString('base64url');

function decodeOffset(cursor: string): number {
  const match = /^o:(\d{1,6})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const offset = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!Number.isInteger(offset) || offset > SEARCH_MAX_OFFSET) {
    throw badRequest('INVALID_CURSOR', 'cursor is not one this server returned');
  }
  return offset;
}

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/**
 * A snippet as HTML: the text escaped, each match (between MARK_OPEN and MARK_CLOSE) in
 * <mark>. Always balanced: a close without an open, or an open inside a mark, is dropped,
 * and a mark still open at the end (a passage cut inside a match) is closed.
 */
export function snippetToHtml(snippet: string): string {
  let html = '';
  let open = false;
  for (const part of snippet.split(/([\uFDD0\uFDD1])/)) {
    if (part === MARK_OPEN) {
      if (!open) html += '<mark>';
      open = true;
    } else if (part === MARK_CLOSE) {
      if (open) html += '</mark>';
      open = false;
    } else html += escapeHtml(part);
  }
  return open ? `${html}</mark>` : html;
}

export function createSearchService(deps: { stores: ChatStores & Pick<Storage, 'search'>; access: AccessService }) {
  return {
    async search(
      actor: Actor,
      userId: string,
      input: SearchInput,
    ): Promise<{ items: SearchResultItem[]; nextCursor: string | null }> {
      if (input.chatId) await findOwnedChat(deps, actor, userId, input.chatId);
      else await deps.access.assertActsFor(actor, userId);
      const q = input.q?.trim() ?? '';
      const domain = input.source === undefined ? undefined : normalizeDomain(input.source);
      if (domain === '') throw badRequest('INVALID_QUERY', 'source must name a site, e.g. example.com');
      if (q === '' && domain === undefined)
        throw badRequest('INVALID_QUERY', 'Send q (what to search for), source, or both');
      for (const [field, date] of [
        ['since', input.since],
        ['until', input.until],
      ] as const) {
        if (date && !isStorableDate(date)) {
          throw badRequest('VALIDATION_ERROR', `${field} must be a date between the years 1 and 9999`);
        }
      }
      if (input.since && input.until && input.since >= input.until)
        throw badRequest('VALIDATION_ERROR', 'since must be before until');
      const terms = q === '' ? undefined : toSearchTerms(q);

      const offset = input.cursor === undefined ? 0 : decodeOffset(input.cursor);
      const filters = {
        userId,
        limit: input.limit + 1,
        offset,
        ...(input.chatId ? { chatId: input.chatId } : {}),
        ...(input.since ? { since: input.since } : {}),
        ...(input.until ? { until: input.until } : {}),
        ...(domain ? { domain } : {}),
      };
      let hits: SearchHit[];
      try {
        hits = terms
          ? await deps.stores.search.search(terms, filters)
          : await deps.stores.search.listCiting({ ...filters, domain: domain ?? '' });
      } catch (error) {
        if (error instanceof InvalidSearchQuery) throw badRequest('INVALID_QUERY', 'q could not be searched');
        throw error;
      }
      const page = hits.slice(0, input.limit);

      // Where each hit sits in its chat's tree: one skeleton and branch list per chat.
      const trees = new Map<string, ReturnType<typeof indexTree>>();
      for (const chatId of new Set(page.map((hit) => hit.chatId))) {
        const [nodes, branches, chat] = await Promise.all([
          deps.stores.pairs.listTree(chatId),
          deps.stores.branches.listOfChat(chatId),
          deps.stores.chats.findById(chatId),
        ]);
        trees.set(
          chatId,
          indexTree(
            nodes,
            branches.map((row) => row.branch),
            chat?.activeBranchId ?? null,
          ),
        );
      }
      const items = page.map((hit): SearchResultItem => {
        const tree = trees.get(hit.chatId);
        return {
          ...hit,
          path: hit.qaPairId && tree ? tree.pathTo(hit.qaPairId) : [],
          branchId: hit.qaPairId && tree ? tree.branchThrough(hit.qaPairId) : null,
          snippetHtml: snippetToHtml(hit.snippet),
        };
      });
      const next = offset + input.limit;
      return { items, nextCursor: hits.length > input.limit && next <= SEARCH_MAX_OFFSET ? encodeOffset(next) : null };
    },
  };
}

export type SearchService = ReturnType<typeof createSearchService>;
