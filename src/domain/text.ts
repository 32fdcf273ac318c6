import { badRequest } from './errors.js';
import { DERIVED_TITLE_LENGTH } from './limits.js';

const VISIBLE = /[^\s\p{Cf}\p{Z}]/u;

/**
 * The length of `text` in characters (Unicode code points), as every limit here counts it:
 * an emoji is one character, not the two UTF-16 code units of `text.length`. It is what
 * ajv's maxLength counts too, so the schemas and the services agree.
 */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** The first `max` characters (code points) of `text`: never half of a surrogate pair. */
export function firstCharacters(text: string, max: number): string {
  return characterCount(text) <= max ? text : Array.from(text).slice(0, max).join('');
}

/**
 * Trims `value` and rejects it when nothing is left. Schemas already bound the raw
 * length; this is the rule a schema cannot say clearly ("not only whitespace").
 */
export function requireText(field: string, value: string, maxLength: number): string {
  const trimmed = value.trim();
  // PostgreSQL's text cannot hold NUL; on either engine such input is refused the same way.
  if (trimmed.includes('\u0000')) throw badRequest('VALIDATION_ERROR', `${field} must not contain NUL characters`);
  // Zero-width and other invisible format characters alone are as empty as spaces.
  if (!VISIBLE.test(trimmed)) throw badRequest('VALIDATION_ERROR', `${field} must not be empty or only whitespace`);
  if (characterCount(trimmed) > maxLength) {
    throw badRequest('VALIDATION_ERROR', `${field} must be at most ${maxLength} characters after trimming`);
  }
  // Search's match marks can never occur in what a client stored.
  return trimmed.replace(NONCHARACTERS, '\uFFFD');
}

/** A chat title taken from its first question: one line, cut at a word where possible. */
export function titleFromQuestion(question: string): string {
  const oneLine = question.replace(/\s+/g, ' ').trim();
  if (characterCount(oneLine) <= DERIVED_TITLE_LENGTH) return oneLine;
  const cut = firstCharacters(oneLine, DERIVED_TITLE_LENGTH - 1);
  const lastSpace = cut.lastIndexOf(' ');
  return `${lastSpace > DERIVED_TITLE_LENGTH / 2 ? cut.slice(0, lastSpace) : cut}…`;
}

/**
 * The noncharacters U+FDD0..U+FDEF: never meant for interchange, so stored text has none.
 * Search marks its matches with two of them (repositories/search.ts).
 */
const NONCHARACTERS = /[\uFDD0-\uFDEF]/g;

/**
 * Text from outside the client's control (the chatbot's answers, imported files) as it is
 * stored: NUL, which PostgreSQL's text and jsonb cannot hold, and the noncharacters search
 * reserves for its marks become U+FFFD on both engines.
 */
export function storable(text: string): string {
  const withoutNul = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
  return withoutNul.replace(NONCHARACTERS, '\uFFFD');
}

/** `storable` applied to every string of a JSON-like value (search results, imported chats). */
export function storableDeep<T>(value: T): T {
  if (typeof value === 'string') return storable(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => storableDeep(item)) as T;
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, storableDeep(item)])) as T;
}
