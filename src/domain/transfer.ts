import { withRenderings } from './render.js';
import type { BranchRow, ChatRow, ChatSettings, QaPairRow, QaPairStatus, StoredSearchResult } from './types.js';

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

/** The rows an imported chat becomes, under fresh ids: the chat, its pairs (parents first) and branches. */
export interface ImportRows {
  chat: ChatRow;
  pairs: QaPairRow[];
  branches: BranchRow[];
}

/**
 * Maps an imported chat to rows of `userId` with ids from `newId`, keeping the file's
 * order (parents before children): both engines insert exactly these rows.
 */
export function planImport(imported: ImportedChat, userId: string, newId: () => string): ImportRows {
  const pairIds = new Map(imported.pairs.map((pair) => [pair.key, newId()]));
  const branchIds = new Map(imported.branches.map((branch) => [branch.key, newId()]));
  const idOf = (ids: Map<string, string>, key: string | null) => (key === null ? null : (ids.get(key) ?? null));
  const chatId = newId();
  const last = imported.pairs.reduce<ImportedPair | undefined>(
    (latest, pair) => (!latest || pair.createdAt >= latest.createdAt ? pair : latest),
    undefined,
  );
  const chat: ChatRow = {
    id: chatId,
    userId,
    title: imported.title,
    createdAt: imported.createdAt,
    updatedAt: imported.updatedAt,
    qaCount: imported.pairs.length,
    lastQuestion: last?.question ?? null,
    lastSeq: imported.pairs.length,
    activeBranchId: idOf(branchIds, imported.activeBranchKey),
    forkedFromChatId: null,
    forkedFromPairId: null,
    settings: imported.settings,
    importSource: imported.sourceId,
    version: 1,
  };
  const pairs = imported.pairs.map((pair, index): QaPairRow =>
    withRenderings({
      id: pairIds.get(pair.key) ?? newId(),
      chatId,
      userId,
      parentId: idOf(pairIds, pair.parentKey),
      seq: index + 1,
      question: pair.question,
      answer: pair.answer,
      searchResults: pair.searchResults,
      status: pair.status,
      errorCode: pair.errorCode,
      errorMessage: pair.errorMessage,
      provider: pair.provider,
      model: pair.model,
      upstreamRequestId: pair.upstreamRequestId,
      historyTurns: pair.historyTurns,
      latencyMs: pair.latencyMs,
      createdAt: pair.createdAt,
      answeredAt: pair.answeredAt,
    }),
  );
  const branches = imported.branches.map((branch): BranchRow => ({
    id: branchIds.get(branch.key) ?? newId(),
    chatId,
    userId,
    name: branch.name,
    forkPairId: idOf(pairIds, branch.forkKey),
    headPairId: idOf(pairIds, branch.headKey),
    createdAt: branch.createdAt,
    updatedAt: branch.updatedAt,
  }));
  return { chat, pairs, branches };
}

/**
 * The copies of a path (first pair first) in a new chat: new ids, the same content and
 * timestamps, each one the child of the copy before it.
 */
export function planForkCopies(path: readonly QaPairRow[], chatId: string, newPairId: () => string): QaPairRow[] {
  const copies: QaPairRow[] = [];
  let parentId: string | null = null;
  for (const [index, pair] of path.entries()) {
    // Rendered again: the stored renderings carry the original's id and parent.
    const copy = withRenderings({ ...pair, id: newPairId(), chatId, parentId, seq: index + 1 });
    copies.push(copy);
    parentId = copy.id;
  }
  return copies;
}
