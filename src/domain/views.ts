import type { SearchHit } from './search.js';
import type { TreeIndex } from './tree.js';
import type { BranchRow, ChatRow } from './types.js';

/** A pair of a view, written out: its place, and its JSON (stored, or rendered live). */
export interface RenderedPair {
  id: string;
  parentId: string | null;
  json: string;
}

/** A chat as GET shows it: the pairs of its active branch, and the tree around them. */
export interface ChatView {
  chat: ChatRow;
  pairs: RenderedPair[];
  /** Pairs of the active branch before the first one returned (0 unless over MAX_PAIRS_IN_VIEW). */
  earlierPairs: number;
  branches: BranchRow[];
  tree: TreeIndex;
}

export interface SearchResultItem extends SearchHit {
  /** Pair ids from the chat's first question to the hit (empty for a title hit). */
  path: string[];
  /** A branch through the hit, to open it with one PUT .../active-branch. */
  branchId: string | null;
  /** The snippet as HTML: the text escaped, matches in <mark>. */
  snippetHtml: string;
}

export interface BranchSummary {
  branch: BranchRow;
  /** Pairs on the branch, from the first question to its head. */
  length: number;
  lastQuestion: string | null;
  active: boolean;
}

export interface ChatTree {
  chat: ChatRow;
  /** Each pair's tree node, in asking order. */
  nodes: RenderedPair[];
  branches: BranchSummary[];
  truncated: boolean;
}
