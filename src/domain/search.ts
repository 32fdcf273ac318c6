/** One thing to find: a word or a phrase (all must match), optionally as a prefix. */
export interface SearchTerm {
  /** A word or a phrase, as typed (never parsed as query syntax by any engine). */
  text: string;
  /** A trailing * was typed: the last word may continue. */
  prefix: boolean;
}

export interface SearchFilters {
  userId: string;
  chatId?: string;
  since?: Date;
  until?: Date;
  /** Only pairs that cited this host or a subdomain of it (normalised: lower case, no "www."). */
  domain?: string;
  limit: number;
  offset: number;
}

export interface SearchHit {
  chatId: string;
  chatTitle: string;
  /** Null when the chat's title matched. */
  qaPairId: string | null;
  createdAt: Date;
  /** bm25 (lower is better); null when listing by source without a text query. */
  score: number | null;
  /** The best passage, with matches between MARK_OPEN and MARK_CLOSE. */
  snippet: string;
  matched: { title: boolean; question: boolean; answer: boolean; sources: boolean };
}

/**
 * What snippets put around a match: two Unicode noncharacters, which stored text cannot
 * hold (domain/text.ts replaces them on the way in), unlike control characters, which a
 * question may contain (a stored \u0001<b>x</b>\u0002 used to come out marked).
 */
export const MARK_OPEN = '\uFDD0';
export const MARK_CLOSE = '\uFDD1';

/**
 * A query is ranked among its newest RANK_WINDOW matches (by when they were written), at
 * least as many as the page reaches. bm25 reads every ranked document's positions and
 * sizes, so ranking all 90,000 matches of a common word in one user's 100,000 pairs took
 * over 100 ms; finding the newest matches walks the index backwards and stops early.
 */
export const RANK_WINDOW = 2000;
