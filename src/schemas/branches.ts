import { Type, type Static } from '@sinclair/typebox';
import { BRANCH_NAME_MAX_LENGTH } from '../domain/limits.js';
import { ANSWER_PREVIEW_LENGTH, type PublicTreeNode } from '../domain/render.js';
import type { BranchSummary, ChatTree } from '../domain/views.js';
import { TITLE_MAX_LENGTH } from '../domain/limits.js';
import { QaPairStatus } from './pairs.js';
import { EXAMPLE_IDS, Id, IdWith, Timestamp, toIso, TrimmedText, Nullable } from './common.js';

export const BranchParams = Type.Object({ user_id: Id, chat_id: Id, branch_id: Id }, { additionalProperties: false });
export const PairParams = Type.Object({ user_id: Id, chat_id: Id, qa_pair_id: Id }, { additionalProperties: false });

export const CreateBranchBody = Type.Object(
  {
    from_qa_pair_id: IdWith('The pair to fork at: the branch starts as the path up to it'),
    name: Type.Optional(TrimmedText(BRANCH_NAME_MAX_LENGTH)),
  },
  { additionalProperties: false, examples: [{ from_qa_pair_id: EXAMPLE_IDS.qa_pair_id, name: 'shorter answers' }] },
);
export const RenameBranchBody = Type.Object(
  { name: TrimmedText(BRANCH_NAME_MAX_LENGTH) },
  { additionalProperties: false, examples: [{ name: 'food' }] },
);
export const SetActiveBranchBody = Type.Object(
  { branch_id: Id },
  { additionalProperties: false, examples: [{ branch_id: EXAMPLE_IDS.branch_id }] },
);
/** Regenerating takes no fields. */
export const RegenerateBody = Type.Object(
  {},
  { additionalProperties: false, description: 'No fields: send nothing or {}', examples: [{}] },
);
export const DeleteBranchQuery = Type.Object(
  {
    activate_branch_id: Type.Optional(IdWith('Required to delete the active branch: the branch that becomes active')),
  },
  { additionalProperties: false },
);
export const ForkChatBody = Type.Object(
  {
    qa_pair_id: IdWith('The last pair to copy: the new chat holds the path up to it'),
    title: Type.Optional(TrimmedText(TITLE_MAX_LENGTH)),
  },
  { additionalProperties: false, examples: [{ qa_pair_id: EXAMPLE_IDS.qa_pair_id, title: 'Lisbon, the food only' }] },
);

export const Branch = Type.Object({
  id: Id,
  name: Nullable(Type.String()),
  fork_qa_pair_id: Nullable(Id),
  head_qa_pair_id: Nullable(Id),
  length: Type.Integer({ description: 'Pairs from the first question to the head' }),
  last_question: Nullable(Type.String({ description: "The head pair's question" })),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Branch = Static<typeof Branch>;

export const BranchList = Type.Object({ data: Type.Array(Branch) });
export const DeletedBranch = Type.Object({
  deleted_qa_pairs: Type.Integer({ description: 'Pairs no other branch used' }),
});

export const TreeNode = Type.Object({
  id: Id,
  parent_id: Nullable(Id),
  question: Type.String(),
  answer_preview: Nullable(Type.String({ description: `The first ${ANSWER_PREVIEW_LENGTH} characters of the answer` })),
  status: QaPairStatus,
  created_at: Timestamp,
});

export const ChatTreeResponse = Type.Object({
  chat_id: Id,
  active_branch_id: Nullable(Id),
  nodes: Type.Array(TreeNode, {
    description:
      'Every pair as a flat node with its parent_id, in asking order: a parent always comes before its children',
  }),
  branches: Type.Array(Branch),
  truncated: Type.Boolean({ description: 'True when the chat has more pairs than the route returns (5000)' }),
});

export function toBranch(summary: BranchSummary): Branch {
  const { branch } = summary;
  return {
    id: branch.id,
    name: branch.name,
    fork_qa_pair_id: branch.forkPairId,
    head_qa_pair_id: branch.headPairId,
    length: summary.length,
    last_question: summary.lastQuestion,
    active: summary.active,
    created_at: toIso(branch.createdAt),
    updated_at: toIso(branch.updatedAt),
  };
}

// The node schema is the domain's rendering of a tree node, field for field (checked both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type TreeNodeMatchesRendering = Check<Same<Static<typeof TreeNode>, PublicTreeNode>>;

/**
 * The tree's JSON (ChatTreeResponse, in its key order): every node's stored JSON
 * concatenated, with the branches. tests/render.test.ts checks it against the schema's
 * serialiser.
 */
export function chatTreeJson(tree: ChatTree): string {
  return (
    `{"chat_id":${JSON.stringify(tree.chat.id)},"active_branch_id":${JSON.stringify(tree.chat.activeBranchId)},` +
    `"nodes":[${tree.nodes.map((node) => node.json).join(',')}],` +
    `"branches":${JSON.stringify(tree.branches.map(toBranch))},"truncated":${String(tree.truncated)}}`
  );
}
