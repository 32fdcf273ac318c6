import type { ValidateFunction } from 'ajv';
import type { ChatSettings, QaPairStatus, StoredSearchResult } from '../db/schema.js';
import {
  CHAT_EXPORT_FORMAT,
  ChatExport,
  IMPORTED_TEXT_MAX_LENGTH,
  MAX_IMPORTED_BRANCHES,
  MAX_IMPORTED_PAIRS,
} from '../schemas/portability.js';
import { createAjv } from '../validation.js';
import { fromSettingsInput } from '../schemas/chats.js';
import { applySettings } from './chats.js';
import { TITLE_MAX_LENGTH } from './text.js';

/** A chat read from an import file, with its own keys, before it gets ids of ours. */
export interface ImportedChat {
  /** Where it came from: a second import of the same source is skipped. */
  sourceId: string;
  /** For our own exports: the chat's id where it was exported (a chat still there is not imported again). */
  originalChatId?: string;
  title: string;
  createdAt: Date;
  updatedAt: Date;
  settings: ChatSettings;
  /** Parents before children. */
  pairs: ImportedPair[];
  branches: ImportedBranch[];
  activeBranchKey: string;
}

export interface ImportedPair {
  key: string;
  parentKey: string | null;
  question: string;
  answer: string | null;
  searchResults: StoredSearchResult[];
  status: Extract<QaPairStatus, 'answered' | 'failed'>;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  answeredAt: Date | null;
  provider: string;
  model: string | null;
  upstreamRequestId: string | null;
  historyTurns: number;
  latencyMs: number | null;
}

export interface ImportedBranch {
  key: string;
  name: string | null;
  forkKey: string | null;
  headKey: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Why one chat of a file cannot be imported; the others still are. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/** Orders pairs parents-first and checks that every parent exists and there is no cycle. */
function orderParentsFirst(pairs: ImportedPair[]): ImportedPair[] {
  const byKey = new Map<string, ImportedPair>();
  for (const pair of pairs) {
    if (byKey.has(pair.key)) throw new ImportError(`pair id ${pair.key} appears twice`);
    byKey.set(pair.key, pair);
  }
  const ordered: ImportedPair[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  for (const start of pairs) {
    // Walk up to the first placed ancestor, then place the chain top-down (no recursion).
    const chain: ImportedPair[] = [];
    let current: ImportedPair | undefined = start;
    while (current && state.get(current.key) !== 'done') {
      if (state.get(current.key) === 'visiting') throw new ImportError(`pair ${current.key} is its own ancestor`);
      state.set(current.key, 'visiting');
      chain.push(current);
      const parentKey: string | null = current.parentKey;
      if (parentKey === null) break;
      current = byKey.get(parentKey);
      if (!current) throw new ImportError(`pair ${chain.at(-1)?.key ?? ''} has an unknown parent_id ${parentKey}`);
    }
    for (const pair of chain.reverse()) {
      state.set(pair.key, 'done');
      ordered.push(pair);
    }
  }
  return ordered;
}

/** A timestamp that JavaScript and the database can both hold (ajv accepts e.g. leap seconds). */
function date(iso: string): Date {
  const value = new Date(iso);
  if (!Number.isFinite(value.getTime())) throw new ImportError(`${iso} is not a usable timestamp`);
  return value;
}

/** Unix seconds (ChatGPT's create_time) as a date, between 1970 and 9999. */
function fromSeconds(value: number | null, fallback: number | null): Date {
  const seconds = value ?? fallback ?? 0;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 253_402_300_799) {
    throw new ImportError(`${seconds} is not a usable create_time`);
  }
  return new Date(seconds * 1000);
}

/**
 * Every branch's fork must lie on its own path, and every pair on some branch: otherwise
 * branch deletion (which removes the pairs only one branch uses) would act on a tree the
 * branches do not describe.
 */
function checkBranchesCoverTree(
  pairs: readonly ImportedPair[],
  branches: readonly { id: string; head_qa_pair_id: string | null; fork_qa_pair_id: string | null }[],
): void {
  const parentOf = new Map(pairs.map((pair) => [pair.key, pair.parentKey]));
  const covered = new Set<string>();
  for (const branch of branches) {
    const path = new Set<string>();
    for (let key: string | null | undefined = branch.head_qa_pair_id; key != null; key = parentOf.get(key))
      path.add(key);
    if (branch.fork_qa_pair_id !== null && !path.has(branch.fork_qa_pair_id)) {
      throw new ImportError(`branch ${branch.id} forks at a pair that is not on its path`);
    }
    for (const key of path) covered.add(key);
  }
  const stray = pairs.find((pair) => !covered.has(pair.key));
  if (stray) throw new ImportError(`pair ${stray.key} is on no branch`);
}

let exportValidator: ValidateFunction<ChatExport> | undefined;

/** The same validator as request bodies get (ajv with formats), compiled on first use. */
function validateChatExport(value: unknown): value is ChatExport {
  exportValidator ??= createAjv({ allErrors: false }).compile<ChatExport>(ChatExport);
  return exportValidator(value);
}

/** Reads one chat in our own export format. */
export function fromChatExport(value: unknown): ImportedChat {
  if (!validateChatExport(value)) {
    const first = exportValidator?.errors?.[0];
    throw new ImportError(
      first ? `${first.instancePath || '/'} ${first.message ?? 'is invalid'}` : 'not a chat export',
    );
  }
  const exported = value;
  const pairs = orderParentsFirst(
    exported.qa_pairs.map((pair) => {
      // Nothing will ever finish a pair that was still running when it was exported.
      const unfinished = pair.status === 'pending' || pair.status === 'streaming';
      return {
        key: pair.id,
        parentKey: pair.parent_id,
        question: pair.question,
        answer: pair.answer,
        searchResults: pair.search_results,
        status: unfinished ? 'failed' : (pair.status as 'answered' | 'failed'),
        errorCode: unfinished ? 'INTERRUPTED' : (pair.error?.code ?? null),
        errorMessage: unfinished
          ? 'The answer was still running when the chat was exported'
          : (pair.error?.message ?? null),
        createdAt: date(pair.created_at),
        answeredAt: pair.answered_at === null ? null : date(pair.answered_at),
        provider: pair.provider,
        model: pair.model,
        upstreamRequestId: pair.upstream_request_id,
        historyTurns: pair.history_turns,
        latencyMs: pair.latency_ms,
      };
    }),
  );
  const pairKeys = new Set(pairs.map((pair) => pair.key));
  const branchKeys = new Set<string>();
  const names = new Set<string>();
  for (const branch of exported.branches) {
    if (branchKeys.has(branch.id)) throw new ImportError(`branch id ${branch.id} appears twice`);
    branchKeys.add(branch.id);
    for (const key of [branch.head_qa_pair_id, branch.fork_qa_pair_id]) {
      if (key !== null && !pairKeys.has(key)) throw new ImportError(`branch ${branch.id} names an unknown pair ${key}`);
    }
    if (branch.name !== null) {
      const name = branch.name.trim();
      if (name === '' || names.has(name)) throw new ImportError(`branch name "${branch.name}" is blank or used twice`);
      names.add(name);
    }
  }
  if (!branchKeys.has(exported.chat.active_branch_id))
    throw new ImportError('active_branch_id is not one of the branches');
  let settings: ChatSettings;
  try {
    // The same rules as PATCH: trimmed, not blank.
    settings = applySettings({}, fromSettingsInput(exported.chat.settings));
  } catch (error) {
    throw new ImportError(`settings: ${error instanceof Error ? error.message : String(error)}`);
  }
  checkBranchesCoverTree(pairs, exported.branches);
  return {
    // A chat imported before keeps the source it came from, so a backup restored twice is
    // still recognised.
    sourceId: exported.chat.import_source ?? `export:${exported.chat.id}`,
    originalChatId: exported.chat.id,
    title: exported.chat.title.trim() || 'Imported chat',
    createdAt: date(exported.chat.created_at),
    updatedAt: date(exported.chat.updated_at),
    settings,
    pairs,
    branches: exported.branches.map((branch) => ({
      key: branch.id,
      name: branch.name?.trim() ?? null,
      forkKey: branch.fork_qa_pair_id,
      headKey: branch.head_qa_pair_id,
      createdAt: date(branch.created_at),
      updatedAt: date(branch.updated_at),
    })),
    activeBranchKey: exported.chat.active_branch_id,
  };
}

export const isChatExport = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as { format?: unknown }).format === CHAT_EXPORT_FORMAT;

// ---------------------------------------------------------------------------------------
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
 */
function answersTo(
  question: GptNode,
  nodes: Map<string, GptNode>,
  visited: Set<string>,
): { answers: GptAnswer[]; unanswered: { nodeIds: string[]; nextQuestions: string[] } } {
  const answers: GptAnswer[] = [];
  /** Paths with no assistant text: where they lead still has to be imported. */
  const unanswered = { nodeIds: [] as string[], nextQuestions: [] as string[] };
  const stack: { id: string; path: string[]; text: string; createdAt: number | null }[] = question.children
    .filter((child) => nodes.get(child)?.role !== 'user')
    .map((child) => ({ id: child, path: [], text: '', createdAt: null }));
  while (stack.length > 0) {
    const { id, path, text, createdAt } = stack.pop() as (typeof stack)[number];
    const node = nodes.get(id);
    if (!node) continue;
    if (visited.has(id)) throw new ImportError(`message ${id} is reachable twice (the mapping is not a tree)`);
    visited.add(id);
    const hasText = node.role === 'assistant' && node.text !== '';
    const here = {
      path: [...path, id],
      text: hasText ? node.text : text,
      createdAt: hasText ? node.createdAt : createdAt,
    };
    const onward = node.children.filter((child) => nodes.get(child)?.role !== 'user');
    const nextQuestions = node.children.filter((child) => nodes.get(child)?.role === 'user');
    if (onward.length === 0 || nextQuestions.length > 0) {
      if (here.text !== '') {
        answers.push({ endId: id, nodeIds: here.path, text: here.text, createdAt: here.createdAt, nextQuestions });
      } else {
        unanswered.nodeIds.push(...here.path);
        unanswered.nextQuestions.push(...nextQuestions);
      }
    }
    for (const child of onward) stack.push({ id: child, ...here });
  }
  return { answers: answers.reverse(), unanswered };
}

export const isChatGptConversation = (value: unknown): boolean => isRecord(value) && isRecord(value.mapping);

export function fromChatGpt(value: unknown): ImportedChat {
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

  const nodes = new Map<string, GptNode>();
  for (const [key, raw] of Object.entries(value.mapping)) {
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
  }
  if (nodes.size > MAX_IMPORTED_PAIRS * 4) throw new ImportError('the conversation has too many messages');

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
    if (node.role !== 'user' || node.text === '') {
      // System, tool and empty messages pass their place on to their children.
      if (parentPair !== null) pairOfNode.set(node.id, parentPair);
      for (const child of node.children) stack.push({ nodeId: child, parentPair });
      continue;
    }
    const question = node.text.slice(0, IMPORTED_TEXT_MAX_LENGTH);
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
    const { answers, unanswered } = answersTo(node, nodes, visited);
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
        errorCode: 'NO_ANSWER',
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
        answer: answer.text.slice(0, IMPORTED_TEXT_MAX_LENGTH),
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

  const ordered = orderParentsFirst(pairs).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const parentFirst = orderParentsFirst(ordered);

  // Branches: one per leaf pair, plus the pair at current_node if it is not a leaf.
  const hasChildren = new Set(parentFirst.flatMap((pair) => (pair.parentKey === null ? [] : [pair.parentKey])));
  const current = typeof value.current_node === 'string' ? pairOfNode.get(value.current_node) : undefined;
  const activeHead = current ?? parentFirst.at(-1)?.key ?? null;
  const heads = [
    activeHead,
    ...parentFirst.filter((pair) => !hasChildren.has(pair.key)).map((pair) => pair.key),
  ].filter((key, index, all): key is string => key !== null && all.indexOf(key) === index);
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
    sourceId: `chatgpt:${conversationId}`,
    title: title.slice(0, TITLE_MAX_LENGTH),
    createdAt: seconds(created, null),
    updatedAt: seconds(updated, created),
    settings: {},
    pairs: parentFirst,
    branches,
    activeBranchKey: 'branch-0',
  };
}
