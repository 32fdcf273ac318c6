import { badRequest } from '../errors.js';

export const SEARCH_QUERY_MAX_LENGTH = 500;
const MAX_TERMS = 32;
const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * Turns what a user typed into an FTS5 expression that cannot fail to parse.
 *
 * Supported: words (all must match, stemmed and accent-insensitive), "quoted phrases",
 * and a trailing * for a prefix. Everything else is literal text: FTS5 operators (AND, OR,
 * NOT, NEAR, column filters, parentheses) are quoted as ordinary words, an unbalanced quote
 * runs to the end of the input. Each term becomes a quoted FTS5 string, so no user text is
 * ever parsed as FTS5 syntax. Input with no letters or digits at all is a 400.
 */
export function toFtsTerms(input: string): string[] {
  const terms: string[] = [];
  // Control characters (NUL included) are no part of any word: they separate like spaces.
  const text = input.replace(/\p{Cc}/gu, ' ');
  for (const match of text.matchAll(/"([^"]*)"?|(\S+)/g)) {
    const phrase = match[1];
    if (phrase !== undefined) {
      if (HAS_WORD.test(phrase)) terms.push(`"${phrase}"`);
      continue;
    }
    const bare = match[2] ?? '';
    const prefix = /[\p{L}\p{N}]\*+$/u.test(bare);
    const word = bare.replace(/\*+$/, '').replaceAll('"', '');
    if (!HAS_WORD.test(word)) continue;
    terms.push(`"${word}"${prefix ? '*' : ''}`);
  }
  if (terms.length === 0) throw badRequest('INVALID_QUERY', 'q has no words to search for');
  if (terms.length > MAX_TERMS) throw badRequest('INVALID_QUERY', `q has more than ${MAX_TERMS} words or phrases`);
  return terms;
}

/** The `scope` token of a user or a chat in the index (ids without dashes). */
export const scopeToken = (kind: 'u' | 'c', id: string) => `"${kind}${id.replaceAll('-', '')}"`;

/** The whole MATCH expression: the user's (and chat's) documents, and the terms in the text columns. */
export function buildMatchExpression(terms: readonly string[], userId: string, chatId?: string): string {
  const scope = [`scope : ${scopeToken('u', userId)}`, ...(chatId ? [`scope : ${scopeToken('c', chatId)}`] : [])];
  return `${scope.join(' AND ')} AND {title question answer sources} : (${terms.join(' ')})`;
}

/** A domain as stored for cited sources: lower case, without a leading "www.". */
export function normalizeDomain(domain: string): string {
  const lower = domain.trim().toLowerCase().replace(/\.+$/, '');
  return lower.startsWith('www.') ? lower.slice(4) : lower;
}
