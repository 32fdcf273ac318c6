import { Type, type Static } from '@sinclair/typebox';
import { SEARCH_QUERY_MAX_LENGTH } from '../domain/limits.js';
import type { SearchResultItem } from '../domain/views.js';
import { Id, IdWith, Nullable, Page, Timestamp, toIso } from './common.js';

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        maxLength: SEARCH_QUERY_MAX_LENGTH,
        description:
          'Words (all must match; stemmed, accent-insensitive), "quoted phrases", word* for a prefix. ' +
          'Anything else is searched as literal text: FTS operators are not interpreted.',
      }),
    ),
    chat_id: Type.Optional(Id),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Created before' })),
    source: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[A-Za-z0-9.-]+$',
        description: 'Only pairs that cited this site (a host; its subdomains count too), e.g. example.com',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const SearchHit = Type.Object({
  chat_id: Id,
  chat_title: Type.String(),
  qa_pair_id: Nullable(IdWith('Null when the chat title matched')),
  matched_in: Type.Array(
    Type.Union([Type.Literal('title'), Type.Literal('question'), Type.Literal('answer'), Type.Literal('sources')]),
  ),
  snippet: Type.String({ description: 'HTML: the text escaped, the matching words in <mark>' }),
  score: Nullable(Type.Number({ description: 'bm25: lower is better; null when listing by source only' })),
  created_at: Timestamp,
  path: Type.Array(Id, { description: "Pair ids from the chat's first question to this one" }),
  branch_id: Nullable(IdWith('A branch through this pair: PUT it as active to open it')),
});

export const SearchResponse = Page(SearchHit);

export function toSearchHit(item: SearchResultItem): Static<typeof SearchHit> {
  const matched = (['title', 'question', 'answer', 'sources'] as const).filter((part) => item.matched[part]);
  return {
    chat_id: item.chatId,
    chat_title: item.chatTitle,
    qa_pair_id: item.qaPairId,
    matched_in: matched,
    snippet: item.snippetHtml,
    score: item.score,
    created_at: toIso(item.createdAt),
    path: item.path,
    branch_id: item.branchId,
  };
}
