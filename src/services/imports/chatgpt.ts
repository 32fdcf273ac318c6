import {
  IMPORTED_TEXT_MAX_LENGTH,
  MAX_IMPORTED_BRANCHES,
  MAX_IMPORTED_PAIRS,
  TITLE_MAX_LENGTH,
} from '../../domain/limits.js';
import { firstCharacters, storable } from '../../domain/text.js';
import type { ImportedBranch, ImportedChat, ImportedPair } from '../../domain/transfer.js';
import type { WorkMeter } from '../work-meter.js';
import { fromSeconds, ImportError, orderParentsFirst } from './common.js';
// ChatGPT's conversations.json: conversations with a `mapping` of message nodes (parent,
// children) and a `current_node`. Each user message with an assistant reply becomes a
// pair; several replies to one message (regenerations) become sibling pairs; several user
// messages under one reply (edits) become sibling pairs too. Every leaf is a branch; the
// branch through `current_node` is the active one, named "main".

interface GptNode {
  id: string;
  parent: string | null;
  children: string[];
  role: 'user' | 'assistant' | 'other';
  text: string;
  createdAt: number | null;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function messageText(message: Record<string, unknown>): string {
  const content = message.content;
  if (!isRecord(content)) return '';
  if (Array.isArray(content.parts)) {
    return content.parts
      .filter((part): part is string => typeof part === 'string')
      .join('\n')
      .trim();
  }
  return typeof content.text === 'string' ? content.text.trim() : '';
}

interface GptAnswer {
  /** The last message of this answer: where the next question hangs. */
  endId: string;
  /** The messages of this answer that no earlier answer already claimed. */
  nodeIds: string[];
  /** The last assistant text on the way: the final answer after tool calls and reasoning. */
  text: string;
  createdAt: number | null;
  nextQuestions: string[];
}

/**
 * The answers to a question: every path from it through non-user messages (assistant
 * text, tool calls, reasoning) down to the next question or the end. Each path whose
 * messages hold some assistant text is one answer; several paths are regenerations.
 *
 * Linear in the messages under the question: each message is visited once and remembers
 * only its predecessor; an answer's messages are collected afterwards by walking back from
 * its end to the first message an earlier answer already claimed.
 */
async function answersTo(
  question: GptNode,
  nodes: Map<string, GptNode>,
  visited: Set<string>,
  meter: WorkMeter,
): Promise<{ answers: GptAnswer[]; unanswered: { nodeIds: string[]; nextQuestions: string[] } }> {
  const ends: { id: string; text: string; createdAt: number | null; nextQuestions: string[] }[] = [];
  /** Paths with no assistant text: where they lead still has to be imported. */
  const emptyEnds: { id: string; nextQuestions: string[] }[] = [];
  const previous = new Map<string, string | null>();
  const stack: { id: string; from: string | null; text: string; createdAt: number | null }[] = question.children
    .filter((child) => nodes.get(child)?.role !== 'user')
    .map((child) => ({ id: child, from: null, text: '', createdAt: null }));
  while (stack.length > 0) {
    const { id, from, text, createdAt } = stack.pop() as (typeof stack)[number];
    const node = nodes.get(id);
    if (!node) continue;
    if (visited.has(id)) throw new ImportError(`message ${id} is reachable twice (the mapping is not a tree)`);
    visited.add(id);
    previous.set(id, from);
    const hasText = node.role === 'assistant' && node.text !== '';
    const here = { text: hasText ? node.text : text, createdAt: hasText ? node.createdAt : createdAt };
    const onward = node.children.filter((child) => nodes.get(child)?.role !== 'user');
    const nextQuestions = node.children.filter((child) => nodes.get(child)?.role === 'user');
    if (onward.length === 0 || nextQuestions.length > 0) {
      if (here.text !== '') ends.push({ id, ...here, nextQuestions });
      else emptyEnds.push({ id, nextQuestions });
    }
    for (const child of onward) stack.push({ id: child, from: id, ...here });
    await meter.step(1 + node.children.length);
  }
  const claimed = new Set<string>();
  /** The messages from `end` back to the first one already claimed, each claimed once. */
  const claimBack = async (end: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let id: string | null | undefined = end; id != null && !claimed.has(id); id = previous.get(id)) {
      claimed.add(id);
      ids.push(id);
    }
    await meter.step(ids.length + 1);
    return ids;
  };
  const answers: GptAnswer[] = [];
  for (const end of ends.reverse()) {
    answers.push({
      endId: end.id,
      nodeIds: await claimBack(end.id),
      text: end.text,
      createdAt: end.createdAt,
      nextQuestions: end.nextQuestions,
    });
  }
  const unanswered = { nodeIds: [] as string[], nextQuestions: [] as string[] };
  for (const end of emptyEnds) {
    for (const id of await claimBack(end.id)) unanswered.nodeIds.push(id);
    for (const next of end.nextQuestions) unanswered.nextQuestions.push(next);
  }
  return { answers, unanswered };
}

export const isChatGptConversation = (value: unknown): boolean => isRecord(value) && isRecord(value.mapping);

export async function fromChatGpt(value: unknown, meter: WorkMeter): Promise<ImportedChat> {
  if (!isRecord(value) || !isRecord(value.mapping)) throw new ImportError('not a ChatGPT conversation (no mapping)');
  const conversationId =
    typeof value.conversation_id === 'string'
      ? value.conversation_id
      : typeof value.id === 'string'
        ? value.id
        : undefined;
  if (!conversationId) throw new ImportError('the conversation has no id or conversation_id');
  const created = typeof value.create_time === 'number' ? value.create_time : null;
  const updated = typeof value.update_time === 'number' ? value.update_time : created;

  const entries = Object.entries(value.mapping);
  if (entries.length > MAX_IMPORTED_PAIRS * 4) throw new ImportError('the conversation has too many messages');
  const nodes = new Map<string, GptNode>();
  for (const [key, raw] of entries) {
    if (!isRecord(raw)) throw new ImportError(`mapping entry ${key} is not an object`);
    const message = isRecord(raw.message) ? raw.message : undefined;
    const author = message && isRecord(message.author) ? message.author.role : undefined;
    nodes.set(key, {
      id: key,
      parent: typeof raw.parent === 'string' ? raw.parent : null,
      children: Array.isArray(raw.children)
        ? raw.children.filter((child): child is string => typeof child === 'string')
        : [],
      role: author === 'user' ? 'user' : author === 'assistant' ? 'assistant' : 'other',
      text: message ? messageText(message) : '',
      createdAt: message && typeof message.create_time === 'number' ? message.create_time : null,
    });
    await meter.step();
  }

  const seconds = fromSeconds;
  const pairs: ImportedPair[] = [];
  /** Which pair each message node ended up in (for current_node). */
  const pairOfNode = new Map<string, string>();
  const visited = new Set<string>();

  // Depth-first from the roots, carrying the pair the next question follows. An explicit
  // stack: conversations can be thousands of messages deep.
  const roots = [...nodes.values()].filter((node) => node.parent === null || !nodes.has(node.parent));
  const stack: { nodeId: string; parentPair: string | null }[] = roots.map((root) => ({
    nodeId: root.id,
    parentPair: null,
  }));
  while (stack.length > 0) {
    const { nodeId, parentPair } = stack.pop() as { nodeId: string; parentPair: string | null };
    if (visited.has(nodeId)) throw new ImportError(`message ${nodeId} is reachable twice (the mapping has a cycle)`);
    visited.add(nodeId);
    const node = nodes.get(nodeId);
    if (!node) continue;
    await meter.step(1 + node.children.length);
    if (node.role !== 'user' || node.text === '') {
      // System, tool and empty messages pass their place on to their children.
      if (parentPair !== null) pairOfNode.set(node.id, parentPair);
      for (const child of node.children) stack.push({ nodeId: child, parentPair });
      continue;
    }
    const question = storable(firstCharacters(node.text, IMPORTED_TEXT_MAX_LENGTH));
    const askedAt = seconds(node.createdAt, created);
    const basePair = {
      parentKey: parentPair,
      question,
      searchResults: [],
      createdAt: askedAt,
      provider: 'chatgpt',
      model: null,
      upstreamRequestId: null,
      historyTurns: 0,
      latencyMs: null,
    };
    const { answers, unanswered } = await answersTo(node, nodes, visited, meter);
    const userChildren = [
      ...node.children.filter((child) => nodes.get(child)?.role === 'user'),
      ...unanswered.nextQuestions,
    ];
    if (answers.length === 0) {
      const key = node.id;
      pairs.push({
        ...basePair,
        key,
        answer: null,
        status: 'failed',
        // Nothing will ever answer it where it came from: failed, so it can be regenerated.
        errorCode: 'NOT_ANSWERED',
        errorMessage: 'The imported conversation has no answer to this question',
        answeredAt: null,
      });
      pairOfNode.set(node.id, key);
      for (const id of unanswered.nodeIds) pairOfNode.set(id, key);
      for (const child of userChildren) stack.push({ nodeId: child, parentPair: key });
      continue;
    }
    for (const answer of answers) {
      const key = `${node.id}>${answer.endId}`;
      pairs.push({
        ...basePair,
        key,
        answer: storable(firstCharacters(answer.text, IMPORTED_TEXT_MAX_LENGTH)),
        status: 'answered',
        errorCode: null,
        errorMessage: null,
        answeredAt: seconds(answer.createdAt, node.createdAt ?? created),
      });
      pairOfNode.set(node.id, key);
      for (const id of answer.nodeIds) pairOfNode.set(id, key);
      for (const child of answer.nextQuestions) stack.push({ nodeId: child, parentPair: key });
    }
    for (const id of unanswered.nodeIds) pairOfNode.set(id, pairOfNode.get(node.id) ?? node.id);
    // A question directly under a question, or after a textless path (rare), follows the last answer.
    for (const child of userChildren) stack.push({ nodeId: child, parentPair: pairOfNode.get(node.id) ?? parentPair });
  }
  if (pairs.length === 0) throw new ImportError('the conversation has no user messages');
  if (pairs.length > MAX_IMPORTED_PAIRS)
    throw new ImportError(`the conversation has more than ${MAX_IMPORTED_PAIRS} pairs`);

  const ordered = (await orderParentsFirst(pairs, meter)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  await meter.step(pairs.length);
  const parentFirst = await orderParentsFirst(ordered, meter);

  // Branches: one per leaf pair, plus the pair at current_node if it is not a leaf.
  const hasChildren = new Set(parentFirst.flatMap((pair) => (pair.parentKey === null ? [] : [pair.parentKey])));
  const current = typeof value.current_node === 'string' ? pairOfNode.get(value.current_node) : undefined;
  const activeHead = current ?? parentFirst.at(-1)?.key ?? null;
  // A Set keeps the first of each (the active head first) in linear time.
  const heads = [
    ...new Set([activeHead, ...parentFirst.filter((pair) => !hasChildren.has(pair.key)).map((pair) => pair.key)]),
  ].filter((key): key is string => key !== null);
  if (heads.length > MAX_IMPORTED_BRANCHES)
    throw new ImportError(`the conversation has more than ${MAX_IMPORTED_BRANCHES} branches`);
  const parentOf = new Map(parentFirst.map((pair) => [pair.key, pair.parentKey]));
  const claimed = new Set<string>();
  const branches: ImportedBranch[] = heads.map((head, index) => {
    // The fork point is the first pair up the path that an earlier branch already passes through.
    let fork: string | null = null;
    let walker: string | null | undefined = head;
    while (walker != null) {
      if (claimed.has(walker)) {
        fork = walker;
        break;
      }
      claimed.add(walker);
      walker = parentOf.get(walker);
    }
    return {
      key: `branch-${index}`,
      name: index === 0 ? 'main' : null,
      forkKey: fork,
      headKey: head,
      createdAt: seconds(created, null),
      updatedAt: seconds(updated, created),
    };
  });

  const title =
    typeof value.title === 'string' && value.title.trim() !== '' ? value.title.trim() : 'Imported from ChatGPT';
  return {
    sourceId: storable(`chatgpt:${conversationId}`),
    title: storable(firstCharacters(title, TITLE_MAX_LENGTH)),
    createdAt: seconds(created, null),
    updatedAt: seconds(updated, created),
    settings: {},
    pairs: parentFirst,
    branches,
    activeBranchKey: 'branch-0',
  };
}
