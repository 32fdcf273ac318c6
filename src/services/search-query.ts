import { badRequest } from '../domain/errors.js';
import type { SearchTerm } from '../domain/search.js';

const MAX_TERMS = 32;
const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * Turns what a user typed into terms that every engine treats as plain text.
 *
 * Supported: words (all must match, stemmed and accent-insensitive), "quoted phrases",
 * and a trailing * for a prefix. Everything else is literal text: query operators (AND,
 * OR, NOT, NEAR, column filters, parentheses) are ordinary words, an unbalanced quote runs
 * to the end of the input. Input with no letters or digits at all is a 400.
 */
export function toSearchTerms(input: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  // Control characters (NUL included) are no part of any word: they separate like spaces.
  const text = input.replace(/\p{Cc}/gu, ' ');
  for (const match of text.matchAll(/"([^"]*)"?|(\S+)/g)) {
    const phrase = match[1];
    if (phrase !== undefined) {
      if (HAS_WORD.test(phrase)) terms.push({ text: phrase, prefix: false });
      continue;
    }
    const bare = match[2] ?? '';
    const prefix = /[\p{L}\p{N}]\*+$/u.test(bare);
    const word = bare.replace(/\*+$/, '').replaceAll('"', '');
    if (!HAS_WORD.test(word)) continue;
    terms.push({ text: word, prefix });
  }
  if (terms.length === 0) throw badRequest('INVALID_QUERY', 'q has no words to search for');
  if (terms.length > MAX_TERMS) throw badRequest('INVALID_QUERY', `q has more than ${MAX_TERMS} words or phrases`);
  return terms;
}

/** A domain as stored for cited sources: lower case, without a leading "www.". */
export function normalizeDomain(domain: string): string {
  const lower = domain.trim().toLowerCase().replace(/\.+$/, '');
  return lower.startsWith('www.') ? lower.slice(4) : lower;
}
