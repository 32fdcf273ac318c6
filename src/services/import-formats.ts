import { Type, type Static } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import type { ChatSettings, StoredSearchResult } from '../domain/types.js';
import { CHAT_EXPORT_FORMAT, ChatExport, ExportedBranch, ExportedPair } from '../schemas/portability.js';
import { IMPORTED_TEXT_MAX_LENGTH, MAX_IMPORTED_BRANCHES, MAX_IMPORTED_PAIRS } from '../domain/limits.js';
import { createAjv } from '../validation.js';
import { fromSettingsInput } from '../schemas/chats.js';
import { applySettings } from '../domain/settings.js';
import { storable, storableDeep } from '../domain/text.js';
import { TITLE_MAX_LENGTH } from '../domain/limits.js';
import type { WorkMeter } from './work-meter.js';
import type { ImportedBranch, ImportedChat, ImportedPair } from '../domain/transfer.js';
import { MAX_IMPORT_DEPTH } from '../domain/limits.js';

/** Why one chat of a file cannot be imported; the others still are. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/** Orders pairs parents-first and checks that every parent exists and there is no cycle. */
async function orderParentsFirst(pairs: ImportedPair[], meter: WorkMeter): Promise<ImportedPair[]> {
  const byKey = new Map<string, ImportedPair>();
  for (const pair of pairs) {
    if (byKey.has(pair.key)) throw new ImportError(`pair id ${pair.key} appears twice`);
    byKey.set(pair.key, pair);
  }
  await meter.step(pairs.length);
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
    // Each pair joins one chain once: linear over the whole file.
    await meter.step(chain.length + 1);
  }
  return ordered;
}

/**
 * Refuses a value nested deeper than `MAX_IMPORT_DEPTH` before anything walks it (JSON
 * serialization and copying recurse: 20,000 levels would overflow the stack). Iterative,
 * one unit per value.
 */
export async function assertShallow(value: unknown, meter: WorkMeter): Promise<void> {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > MAX_IMPORT_DEPTH) throw new ImportError(`the chat is nested more than ${MAX_IMPORT_DEPTH} levels deep`);
    const children: unknown[] = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    await meter.step(children.length + 1);
  }
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
 * branches do not describe. Linear: "is the fork an ancestor of the head" is read from
 * the order of a depth-first walk (entered before, left after), and covering stops at the
 * first pair an earlier branch already covered.
 */
async function checkBranchesCoverTree(
  pairs: readonly ImportedPair[],
  branches: readonly { id: string; head_qa_pair_id: string | null; fork_qa_pair_id: string | null }[],
  meter: WorkMeter,
): Promise<void> {
  const parentOf = new Map(pairs.map((pair) => [pair.key, pair.parentKey]));
  const children = new Map<string | null, string[]>();
  for (const pair of pairs) {
    const siblings = children.get(pair.parentKey);
    if (siblings) siblings.push(pair.key);
    else children.set(pair.parentKey, [pair.key]);
  }
  // Entry and exit positions of an iterative depth-first walk (pairs are already a tree).
  const entered = new Map<string, number>();
  const left = new Map<string, number>();
  let clock = 0;
  const stack: { key: string; exit: boolean }[] = (children.get(null) ?? []).map((key) => ({ key, exit: false }));
  while (stack.length > 0) {
    const { key, exit } = stack.pop() as { key: string; exit: boolean };
    if (exit) {
      left.set(key, clock++);
      continue;
    }
    entered.set(key, clock++);
    stack.push({ key, exit: true });
    for (const child of children.get(key) ?? []) stack.push({ key: child, exit: false });
    await meter.step();
  }
  const isOnPathTo = (ancestor: string, head: string) =>
    (entered.get(ancestor) ?? Infinity) <= (entered.get(head) ?? -Infinity) &&
    (left.get(head) ?? Infinity) <= (left.get(ancestor) ?? -Infinity);
  const covered = new Set<string>();
  for (const branch of branches) {
    const head = branch.head_qa_pair_id;
    if (branch.fork_qa_pair_id !== null && (head === null || !isOnPathTo(branch.fork_qa_pair_id, head))) {
      throw new ImportError(`branch ${branch.id} forks at a pair that is not on its path`);
    }
    let walked = 0;
    for (let key: string | null | undefined = head; key != null && !covered.has(key); key = parentOf.get(key)) {
      covered.add(key);
      walked += 1;
    }
    await meter.step(walked + 1);
  }
  const stray = pairs.find((pair) => !covered.has(pair.key));
  if (stray) throw new ImportError(`pair ${stray.key} is on no branch`);
}

/**
 * The export without its records: the chat and the bounded arrays. Each pair and branch is
 * then checked on its own with the API's schemas (so the work can be sliced and an error
 * names the record).
 */
const ExportEnvelope = Type.Object({
  ...ChatExport.properties,
  qa_pairs: Type.Array(Type.Unknown(), { maxItems: ChatExport.properties.qa_pairs.maxItems }),
  branches: Type.Array(Type.Unknown(), {
    minItems: ChatExport.properties.branches.minItems,
    maxItems: ChatExport.properties.branches.maxItems,
  }),
});
type ExportEnvelope = Static<typeof ExportEnvelope>;

/** The same validator as request bodies get (ajv with formats), compiled on first use. */
function validator<T>(schema: object): (value: unknown, path: string) => T {
  let compiled: ValidateFunction<T> | undefined;
  return (value, path) => {
    compiled ??= createAjv({ allErrors: false }).compile<T>(schema);
    if (compiled(value)) return value;
    const first = compiled.errors?.[0];
    throw new ImportError(
      first ? `${path}${first.instancePath || '/'} ${first.message ?? 'is invalid'}` : 'not a chat export',
    );
  };
}
const validateEnvelope = validator<ExportEnvelope>(ExportEnvelope);
const validatePair = validator<Static<typeof ExportedPair>>(ExportedPair);
const validateBranch = validator<Static<typeof ExportedBranch>>(ExportedBranch);

/** Characters per unit of work when a record's text is checked and copied. */
const CHARS_PER_UNIT = 2_000;

/** Only the declared fields of a source, whatever else the file put in it. */
const pickSearchResult = ({ url, name, snippet }: StoredSearchResult): StoredSearchResult => ({ url, name, snippet });

/** Reads one chat in our own export format, checking each record with the API's schemas. */
export async function fromChatExport(value: unknown, meter: WorkMeter): Promise<ImportedChat> {
  const envelope = validateEnvelope(value, '');
  const read: ImportedPair[] = [];
  for (const [index, raw] of envelope.qa_pairs.entries()) {
    const pair = validatePair(raw, `/qa_pairs/${index}`);
    // Nothing will ever finish a pair that was still running when it was exported.
    const unfinished = pair.status === 'pending' || pair.status === 'streaming';
    // Field by field: whatever else a record holds is not stored.
    read.push(
      storableDeep({
        key: pair.id,
        parentKey: pair.parent_id,
        question: pair.question,
        answer: pair.answer,
        searchResults: pair.search_results.map(pickSearchResult),
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
      }),
    );
    const chars = pair.question.length + (pair.answer?.length ?? 0);
    await meter.step(1 + pair.search_results.length + Math.floor(chars / CHARS_PER_UNIT));
  }
  const exportedBranches: Static<typeof ExportedBranch>[] = [];
  for (const [index, raw] of envelope.branches.entries()) {
    exportedBranches.push(validateBranch(raw, `/branches/${index}`));
    await meter.step();
  }
  const exported = { ...envelope, branches: exportedBranches };
  const pairs = await orderParentsFirst(read, meter);
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
  await checkBranchesCoverTree(pairs, exported.branches, meter);
  return {
    // A chat imported before keeps the source it came from, so a backup restored twice is
    // still recognised.
    sourceId: storable(exported.chat.import_source ?? `export:${exported.chat.id}`),
    originalChatId: exported.chat.id,
    title: storable(exported.chat.title.trim()) || 'Imported chat',
    createdAt: date(exported.chat.created_at),
    updatedAt: date(exported.chat.updated_at),
    settings: storableDeep(settings),
    pairs,
    branches: exported.branches.map((branch) => ({
      key: branch.id,
      name: branch.name === null ? null : storable(branch.name.trim()),
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
    const question = storable(node.text.slice(0, IMPORTED_TEXT_MAX_LENGTH));
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
        answer: storable(answer.text.slice(0, IMPORTED_TEXT_MAX_LENGTH)),
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
    title: storable(title.slice(0, TITLE_MAX_LENGTH)),
    createdAt: seconds(created, null),
    updatedAt: seconds(updated, created),
    settings: {},
    pairs: parentFirst,
    branches,
    activeBranchKey: 'branch-0',
  };
}
