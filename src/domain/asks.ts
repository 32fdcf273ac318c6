import { renderingsOf } from './render.js';
import type { BranchRow, QaPairRow, StoredSearchResult } from './types.js';

/** Where a new pair goes in the chat's tree. */
export type AskPlacement =
  /** After the head of the active branch, extending it. */
  | { kind: 'active' }
  /**
   * After `parentId` (null: a new first question). `if-needed` extends a branch whose head
   * is that pair (the active one first); `always` starts a new branch, as regenerating does.
   */
  | { kind: 'after'; parentId: string | null; newBranch: 'if-needed' | 'always' };

interface OutcomeBase {
  latencyMs: number | null;
  answeredAt: Date;
  model: string | null;
  upstreamRequestId: string | null;
}

/** How an ask ended, as it is stored on its pair. */
export type PairOutcome =
  | (OutcomeBase & { status: 'answered'; answer: string; searchResults: StoredSearchResult[] })
  | (OutcomeBase & {
      status: 'failed';
      errorCode: string;
      errorMessage: string;
      /** What a stream had delivered before it failed, kept rather than lost. */
      partialAnswer: string | null;
      searchResults: StoredSearchResult[];
    });

/** The columns of a pair that an outcome sets. */
export function outcomeColumns(outcome: PairOutcome) {
  const answered = outcome.status === 'answered';
  return {
    status: outcome.status,
    answer: answered ? outcome.answer : outcome.partialAnswer,
    searchResults: outcome.searchResults,
    errorCode: answered ? null : outcome.errorCode,
    errorMessage: answered ? null : outcome.errorMessage,
    latencyMs: outcome.latencyMs,
    answeredAt: outcome.answeredAt,
    model: outcome.model,
    upstreamRequestId: outcome.upstreamRequestId,
  } satisfies Partial<QaPairRow>;
}

/**
 * The columns that complete `pair` with `outcome`: the outcome's, and the renderings of
 * the pair as it then is (a final pair's JSON is stored with it).
 */
export function completionColumns(pair: QaPairRow, outcome: PairOutcome) {
  const columns = outcomeColumns(outcome);
  return { ...columns, ...renderingsOf({ ...pair, ...columns }) };
}

/**
 * What a store must read before an ask can land, by placement: the active branch (to
 * extend its head), the branches that end at the parent (to extend one of them), or nothing
 * (the ask starts a new branch).
 */
export type AskLookup =
  | { kind: 'active-branch' }
  | { kind: 'branches-ending-at'; parentId: string | null }
  | { kind: 'none'; parentId: string | null };

export function askLookup(placement: AskPlacement): AskLookup {
  if (placement.kind === 'active') return { kind: 'active-branch' };
  if (placement.newBranch === 'if-needed') return { kind: 'branches-ending-at', parentId: placement.parentId };
  return { kind: 'none', parentId: placement.parentId };
}

/** Where the ask lands: the pair it follows, and the branch it extends (undefined: a new branch). */
export interface AskLanding {
  parentId: string | null;
  extendBranchId: string | undefined;
}

/**
 * Decides the landing from what `askLookup` asked for: the active branch's head, or among
 * the branches ending at the parent the active one first, then the most recently updated.
 */
export function landAsk(
  lookup: AskLookup,
  found: {
    activeBranchId: string;
    activeBranch?: Pick<BranchRow, 'id' | 'headPairId'>;
    branchesEndingAt?: readonly Pick<BranchRow, 'id' | 'updatedAt'>[];
  },
): AskLanding {
  if (lookup.kind === 'none') return { parentId: lookup.parentId, extendBranchId: undefined };
  if (lookup.kind === 'active-branch') {
    if (!found.activeBranch) throw new Error(`active branch ${found.activeBranchId} is missing`);
    return { parentId: found.activeBranch.headPairId, extendBranchId: found.activeBranch.id };
  }
  const candidates = [...(found.branchesEndingAt ?? [])].sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
  const chosen = candidates.find((candidate) => candidate.id === found.activeBranchId) ?? candidates[0];
  return { parentId: lookup.parentId, extendBranchId: chosen?.id };
}
