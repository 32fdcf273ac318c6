import { Type, type Static } from '@sinclair/typebox';
import { publicPair, type PublicPair } from '../domain/render.js';
import type { QaPairRow } from '../domain/types.js';
import { Id, Nullable, Timestamp } from './common.js';

export const SearchResult = Type.Object({ url: Type.String(), name: Type.String(), snippet: Type.String() });

export const QaPairStatus = Type.Union(
  [Type.Literal('pending'), Type.Literal('streaming'), Type.Literal('answered'), Type.Literal('failed')],
  { description: 'pending/streaming while the chatbot works; answered or failed once it is done' },
);

export const QaPair = Type.Object({
  id: Id,
  parent_id: Nullable(Id),
  question: Type.String(),
  answer: Nullable(Type.String()),
  search_results: Type.Array(SearchResult),
  status: QaPairStatus,
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  created_at: Timestamp,
  answered_at: Nullable(Timestamp),
  provider: Type.String(),
  model: Nullable(Type.String()),
  upstream_request_id: Nullable(Type.String()),
  latency_ms: Nullable(Type.Integer()),
  history_turns: Type.Integer({ description: 'How many earlier answered pairs were sent upstream with the question' }),
});
export type QaPair = Static<typeof QaPair>;

export const PairSibling = Type.Object({
  qa_pair_id: Id,
  branch_id: Nullable(Id),
});
export type PairSibling = Static<typeof PairSibling>;

export const QaPairOnBranch = Type.Object({
  ...QaPair.properties,
  sibling_index: Type.Integer({ description: "This pair's position among its siblings (0-based, asking order)" }),
  siblings: Type.Array(PairSibling, {
    description:
      'The alternatives at this point (same parent), this pair included, in asking order, each with a branch ' +
      'that passes through it: PUT .../active-branch with that branch_id switches to it',
  }),
});
export type QaPairOnBranch = Static<typeof QaPairOnBranch>;

// The schema is the domain's rendering, field for field (checked both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type QaPairMatchesRendering = Check<Same<QaPair, PublicPair>>;

/**
 * A pair's own fields, as every view of a pair names them: the ask answer, the chat view,
 * the tree and the export all write this one rendering of a row (src/domain/render.ts),
 * stored with the row once the pair is final. Its key order is the order of the SSE
 * `done` event and of recorded Idempotency-Key replays, which are written with
 * JSON.stringify rather than by a response schema.
 */
export function toQaPair(pair: QaPairRow): QaPair {
  return publicPair(pair);
}

/** Where a pair of the shown branch sits in the chat's tree: worked out by the view, from its tree index. */
export interface PairPlace {
  siblingIndex: number;
  siblings: PairSibling[];
}

/**
 * A pair of the shown branch: its own fields and its place among its alternatives. Added
 * onto the mapped object rather than spread into a new one: a chat view makes up to 1000
 * of these, and the spread measured twice as slow.
 */
export function toQaPairOnBranch(pair: QaPairRow, place: PairPlace): QaPairOnBranch {
  return Object.assign(toQaPair(pair), { sibling_index: place.siblingIndex, siblings: place.siblings });
}
