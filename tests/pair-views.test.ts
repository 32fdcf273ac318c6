import type { Static } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { indexTree } from '../src/domain/tree.js';
import type { BranchRow, ChatRow, QaPairRow } from '../src/domain/types.js';
import { pairJson, treeNodeJson } from '../src/domain/render.js';
import type { ChatTree, ChatView } from '../src/domain/views.js';
import { chatTreeJson, ChatTreeResponse } from '../src/schemas/branches.js';
import { chatViewJson, ChatWithPairs } from '../src/schemas/chats.js';
import { toQaPair } from '../src/schemas/pairs.js';
import { toChatExport } from '../src/schemas/portability.js';

// The one pair mapper and the views built on it, on fixed rows: what each view shows of a
// pair, and the exact text of what is written with JSON.stringify (the export's NDJSON
// lines, the SSE done event and recorded replays), where key order is part of the bytes.

const at = (second: number) => new Date(Date.UTC(2025, 4, 1, 9, 0, second));
const chat: ChatRow = {
  id: 'chat-1',
  userId: 'user-1',
  title: 'Lisbon',
  createdAt: at(0),
  updatedAt: at(9),
  qaCount: 3,
  lastQuestion: 'And Porto?',
  lastSeq: 3,
  activeBranchId: 'branch-main',
  forkedFromChatId: null,
  forkedFromPairId: null,
  settings: { historyMaxTurns: 4 },
  importSource: null,
  version: 1,
};
const row = (fields: Partial<QaPairRow> & Pick<QaPairRow, 'id' | 'parentId' | 'seq' | 'question'>): QaPairRow => ({
  chatId: chat.id,
  userId: chat.userId,
  answer: null,
  searchResults: [],
  status: 'answered',
  errorCode: null,
  errorMessage: null,
  provider: 'you',
  model: null,
  upstreamRequestId: null,
  historyTurns: 0,
  latencyMs: null,
  createdAt: at(fields.seq),
  answeredAt: null,
  rendered: null,
  renderedNode: null,
  ...fields,
});
const first = row({
  id: 'pair-1',
  parentId: null,
  seq: 1,
  question: 'Two days in Lisbon?',
  answer: 'Alfama, then Belém.',
  searchResults: [{ url: 'https://example.com/lisbon', name: 'Lisbon guide', snippet: 'Alfama' }],
  model: 'm-1',
  upstreamRequestId: 'req-1',
  latencyMs: 120,
  answeredAt: at(2),
});
const failed = row({
  id: 'pair-2',
  parentId: 'pair-1',
  seq: 2,
  question: 'Where to eat?',
  answer: 'Try the',
  status: 'failed',
  errorCode: 'UPSTREAM_ERROR',
  errorMessage: 'The chatbot failed to answer',
  historyTurns: 1,
  latencyMs: 40,
  answeredAt: at(3),
});
const sibling = row({ id: 'pair-3', parentId: 'pair-1', seq: 3, question: 'And Porto?', status: 'pending' });
const pairs = [first, failed, sibling];
const branches: BranchRow[] = [
  {
    id: 'branch-main',
    chatId: chat.id,
    userId: chat.userId,
    name: 'main',
    forkPairId: null,
    headPairId: 'pair-2',
    createdAt: at(1),
    updatedAt: at(3),
  },
  {
    id: 'branch-porto',
    chatId: chat.id,
    userId: chat.userId,
    name: null,
    forkPairId: 'pair-1',
    headPairId: 'pair-3',
    createdAt: at(3),
    updatedAt: at(3),
  },
];
const tree = indexTree(pairs, branches, chat.activeBranchId);

// The views as a client reads them: assembled from each pair's stored rendering.
const rendered = (rows: QaPairRow[], render: (pair: QaPairRow) => string) =>
  rows.map((pair) => ({ id: pair.id, parentId: pair.parentId, json: render(pair) }));
const toChatWithPairs = (view: Omit<ChatView, 'pairs'> & { pairs: QaPairRow[] }): Static<typeof ChatWithPairs> =>
  JSON.parse(chatViewJson({ ...view, pairs: rendered(view.pairs, pairJson) })) as Static<typeof ChatWithPairs>;
const toChatTree = (tree: Omit<ChatTree, 'nodes'> & { nodes: QaPairRow[] }): Static<typeof ChatTreeResponse> =>
  JSON.parse(chatTreeJson({ ...tree, nodes: rendered(tree.nodes, treeNodeJson) })) as Static<typeof ChatTreeResponse>;

describe('one pair mapper behind every view of a pair', () => {
  it('shows a pair the same in the chat view, the tree and the export', () => {
    const view = toChatWithPairs({ chat, pairs: [first, failed], earlierPairs: 0, branches, tree });
    const nodes = toChatTree({ chat, nodes: pairs, branches: [], truncated: false }).nodes;
    const exported = toChatExport(chat, pairs, branches).qa_pairs;
    for (const [index, pair] of [first, failed].entries()) {
      const own = toQaPair(pair);
      expect(view.qa_pairs[index]).toEqual({ ...own, sibling_index: expect.any(Number), siblings: expect.any(Array) });
      expect(exported[index]).toEqual(own);
      expect(nodes[index]).toEqual({
        id: own.id,
        parent_id: own.parent_id,
        question: own.question,
        answer_preview: own.answer,
        status: own.status,
        created_at: own.created_at,
      });
    }
  });

  it('writes a pair of an ask in its order, and the same pair in the export in the export format order', () => {
    expect(JSON.stringify(toQaPair(failed))).toBe(
      '{"id":"pair-2","parent_id":"pair-1","question":"Where to eat?","answer":"Try the","search_results":[],' +
        '"status":"failed","error":{"code":"UPSTREAM_ERROR","message":"The chatbot failed to answer"},' +
        '"created_at":"2025-05-01T09:00:02.000Z","answered_at":"2025-05-01T09:00:03.000Z","provider":"you",' +
        '"model":null,"upstream_request_id":null,"latency_ms":40,"history_turns":1}',
    );
    expect(JSON.stringify(toChatExport(chat, [failed], branches.slice(0, 1)))).toBe(
      '{"format":"chat-history.chat","version":1,"chat":{"id":"chat-1","title":"Lisbon",' +
        '"created_at":"2025-05-01T09:00:00.000Z","updated_at":"2025-05-01T09:00:09.000Z",' +
        '"settings":{"system_prompt":null,"model":null,"history_max_turns":4},"active_branch_id":"branch-main",' +
        '"import_source":null,"forked_from":null},"qa_pairs":[{"id":"pair-2","parent_id":"pair-1",' +
        '"question":"Where to eat?","answer":"Try the","search_results":[],"status":"failed",' +
        '"error":{"code":"UPSTREAM_ERROR","message":"The chatbot failed to answer"},' +
        '"created_at":"2025-05-01T09:00:02.000Z","answered_at":"2025-05-01T09:00:03.000Z","provider":"you",' +
        '"model":null,"upstream_request_id":null,"history_turns":1,"latency_ms":40}],' +
        '"branches":[{"id":"branch-main","name":"main","fork_qa_pair_id":null,"head_qa_pair_id":"pair-2",' +
        '"created_at":"2025-05-01T09:00:01.000Z","updated_at":"2025-05-01T09:00:03.000Z"}]}',
    );
  });

  it('places each pair of the shown branch among its alternatives, with a branch to open each', () => {
    const view = toChatWithPairs({ chat, pairs: [first, failed], earlierPairs: 0, branches, tree });
    expect(view.qa_pairs.map((pair) => [pair.id, pair.sibling_index, pair.siblings])).toEqual([
      ['pair-1', 0, [{ qa_pair_id: 'pair-1', branch_id: 'branch-main' }]],
      [
        'pair-2',
        0,
        [
          { qa_pair_id: 'pair-2', branch_id: 'branch-main' },
          { qa_pair_id: 'pair-3', branch_id: 'branch-porto' },
        ],
      ],
    ]);
  });
});
