import type { TSchema } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFinal, pairJson, renderingsOf, treeNodeJson, withRenderings } from '../src/domain/render.js';
import { indexTree } from '../src/domain/tree.js';
import type { BranchRow, ChatRow, QaPairRow } from '../src/domain/types.js';
import { chatTreeJson, ChatTreeResponse, TreeNode } from '../src/schemas/branches.js';
import { chatViewJson, ChatWithPairs } from '../src/schemas/chats.js';
import { QaPair, toQaPair } from '../src/schemas/pairs.js';

/**
 * Rendered once, served many: the JSON stored with a final pair, and the views concatenated
 * from stored fragments, must be byte for byte what the response schemas' serialiser writes
 * for the same data, for pairs in every state and any text. The serialiser is Fastify's own
 * (a route with the schema as its response, answering with the parsed object).
 */

let serializer: FastifyInstance;

beforeAll(async () => {
  serializer = Fastify();
  const echo = (path: string, schema: TSchema) =>
    serializer.post(path, { schema: { response: { 200: schema } } }, async (request) => request.body);
  echo('/pair', QaPair);
  echo('/node', TreeNode);
  echo('/chat', ChatWithPairs);
  echo('/tree', ChatTreeResponse);
  await serializer.ready();
});
afterAll(() => serializer.close());

/** What a route with `path`'s response schema writes for `value`. */
async function serialised(path: string, value: unknown): Promise<string> {
  const response = await serializer.inject({ method: 'POST', url: path, payload: value as object });
  expect(response.statusCode).toBe(200);
  return response.body;
}

// Any text a user or an upstream can send: whole Unicode, JSON's escapes, separators.
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '"quoted"\\', '\u2028\u2029', '\u0000\u001f\t\n', '</script>', 'é'.repeat(250)),
);
const id = fc.uuid();
const date = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2100-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const status = fc.constantFrom<QaPairRow['status']>('pending', 'streaming', 'answered', 'failed');

const pairRow = fc
  .record({
    id,
    parentId: fc.option(id, { nil: null }),
    question: text,
    answer: fc.option(text, { nil: null }),
    searchResults: fc.array(fc.record({ url: text, name: text, snippet: text }), { maxLength: 3 }),
    status,
    error: fc.option(fc.record({ code: fc.constantFrom('UPSTREAM_TIMEOUT', 'INTERRUPTED'), message: text }), {
      nil: null,
    }),
    provider: fc.constantFrom('you', 'openai', 'offline'),
    model: fc.option(text, { nil: null }),
    upstreamRequestId: fc.option(text, { nil: null }),
    historyTurns: fc.nat(1000),
    latencyMs: fc.option(fc.nat(600_000), { nil: null }),
    createdAt: date,
    answeredAt: fc.option(date, { nil: null }),
  })
  .map(({ error, ...pair }): QaPairRow => {
    const row: QaPairRow = {
      ...pair,
      chatId: 'chat',
      userId: 'user',
      seq: 1,
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
      rendered: null,
      renderedNode: null,
    };
    return withRenderings(row);
  });

describe('stored renderings', () => {
  it('are what the response serialiser writes for the pair and its tree node, for pairs in every state', async () => {
    await fc.assert(
      fc.asyncProperty(pairRow, async (pair) => {
        // Pending and streaming pairs are never stored rendered: they may still change.
        expect(pair.rendered !== null).toBe(isFinal(pair.status));
        const live = { ...pair, rendered: null, renderedNode: null };
        expect(pairJson(pair)).toBe(pairJson(live));
        expect(treeNodeJson(pair)).toBe(treeNodeJson(live));
        expect(pairJson(pair)).toBe(await serialised('/pair', toQaPair(pair)));
        expect(treeNodeJson(pair)).toBe(await serialised('/node', JSON.parse(treeNodeJson(pair))));
      }),
      { numRuns: 150 },
    );
  });

  it('keep the answer preview of a tree node to its first 200 characters', () => {
    const base = fc.sample(pairRow, { numRuns: 1, seed: 7 })[0] as QaPairRow;
    const pair = withRenderings({ ...base, status: 'answered', answer: `${'a'.repeat(199)}😀tail` });
    expect(JSON.parse(treeNodeJson(pair))).toMatchObject({ answer_preview: `${'a'.repeat(199)}😀` });
    expect(renderingsOf({ ...pair, status: 'streaming' })).toEqual({ rendered: null, renderedNode: null });
  });
});

/** A chat of `count` generated pairs in a random tree (each parent comes first), with a branch per leaf. */
const chatOfPairs = fc.array(fc.tuple(pairRow, fc.nat()), { minLength: 0, maxLength: 12 }).map((generated) => {
  const pairs: QaPairRow[] = [];
  for (const [index, [pair, parentPick]] of generated.entries()) {
    const parentId = index === 0 || parentPick % 4 === 0 ? null : (pairs[parentPick % index]?.id ?? null);
    pairs.push(
      withRenderings({
        ...pair,
        id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
        parentId,
        seq: index + 1,
      }),
    );
  }
  const parents = new Set(pairs.map((pair) => pair.parentId));
  const leaves = pairs.filter((pair) => !parents.has(pair.id));
  const now = new Date('2026-01-01T00:00:00Z');
  const branches: BranchRow[] = leaves.map((leaf, index) => ({
    id: `10000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    chatId: 'chat',
    userId: 'user',
    name: index === 0 ? null : `branch "${index}"`,
    forkPairId: leaf.parentId,
    headPairId: leaf.id,
    createdAt: now,
    updatedAt: now,
  }));
  const chat: ChatRow = {
    id: '20000000-0000-4000-8000-000000000000',
    userId: 'user',
    title: 'A "chat"\u2028',
    createdAt: now,
    updatedAt: now,
    qaCount: pairs.length,
    lastQuestion: pairs.at(-1)?.question ?? null,
    lastSeq: pairs.length,
    activeBranchId: branches[0]?.id ?? null,
    forkedFromChatId: null,
    forkedFromPairId: null,
    settings: { systemPrompt: 'Be brief', historyMaxTurns: 3 },
    importSource: null,
    version: 1,
  };
  return { chat, pairs, branches };
});

describe('views assembled from stored fragments', () => {
  it('write exactly what the schemas serialise: the chat view and the tree', async () => {
    await fc.assert(
      fc.asyncProperty(chatOfPairs, async ({ chat, pairs, branches }) => {
        const tree = indexTree(pairs, branches, chat.activeBranchId);
        const shown = pairs.filter((pair) => pair.id === branches[0]?.headPairId || pair.parentId === null);
        const fragments = (render: (pair: QaPairRow) => string) =>
          shown.map((pair) => ({ id: pair.id, parentId: pair.parentId, json: render(pair) }));
        const view = chatViewJson({ chat, pairs: fragments(pairJson), earlierPairs: 2, branches, tree });
        expect(view).toBe(await serialised('/chat', JSON.parse(view)));
        const parsed = JSON.parse(view) as { qa_pairs: Record<string, unknown>[]; branch_count: number };
        expect(parsed.branch_count).toBe(branches.length);
        for (const [index, pair] of shown.entries()) {
          expect(parsed.qa_pairs[index]).toEqual({
            ...toQaPair(pair),
            sibling_index: tree.siblingsOf(pair.id).indexOf(pair.id),
            siblings: tree.siblingsOf(pair.id).map((sibling) => ({
              qa_pair_id: sibling,
              branch_id: tree.branchThrough(sibling),
            })),
          });
        }

        const summaries = branches.map((branch, index) => ({
          branch,
          length: 1,
          lastQuestion: null,
          active: index === 0,
        }));
        const treeJson = chatTreeJson({
          chat,
          nodes: pairs.map((pair) => ({ id: pair.id, parentId: pair.parentId, json: treeNodeJson(pair) })),
          branches: summaries,
          truncated: false,
        });
        expect(treeJson).toBe(await serialised('/tree', JSON.parse(treeJson)));
      }),
      { numRuns: 60 },
    );
  });
});
